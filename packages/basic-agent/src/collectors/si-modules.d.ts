// Types of the systeminformation modules the collectors import one by one (si.ts says why):
// each is the CommonJS module.exports, typed from the package's own index.d.ts.
type SiIndex = typeof import('systeminformation');

declare module 'systeminformation/lib/memory.js' {
  const lib: Pick<SiIndex, 'mem'>;
  export default lib;
}
declare module 'systeminformation/lib/cpu.js' {
  const lib: Pick<SiIndex, 'cpu' | 'currentLoad'>;
  export default lib;
}
declare module 'systeminformation/lib/filesystem.js' {
  const lib: Pick<SiIndex, 'fsSize' | 'blockDevices'>;
  export default lib;
}
declare module 'systeminformation/lib/network.js' {
  const lib: Pick<SiIndex, 'networkInterfaces'>;
  export default lib;
}
declare module 'systeminformation/lib/osinfo.js' {
  const lib: Pick<SiIndex, 'time'>;
  export default lib;
}
