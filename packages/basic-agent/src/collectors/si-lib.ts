/**
 * Loaders of the systeminformation modules the collectors use, in one module so the build can
 * keep them all out of the main script (a chunk of their own, scripts/build.mjs). si.ts imports
 * this on first use; each library module is still evaluated only when a collector asks for it.
 */
export const memory = () => import('systeminformation/lib/memory.js').then((m) => m.default);
export const cpu = () => import('systeminformation/lib/cpu.js').then((m) => m.default);
export const filesystem = () => import('systeminformation/lib/filesystem.js').then((m) => m.default);
export const network = () => import('systeminformation/lib/network.js').then((m) => m.default);
export const osinfo = () => import('systeminformation/lib/osinfo.js').then((m) => m.default);
