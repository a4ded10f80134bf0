// esbuild's text loader (scripts/build.mjs) and vitest's ?raw-less import both give a string.
declare module '*.sql' {
  const text: string;
  export default text;
}
