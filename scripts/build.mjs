#!/usr/bin/env node
// Bundle each binary into one CommonJS file with esbuild: what the single executables embed.
// No native addons, no files read from disk at run time, pino without transports.
// Env: BOOT_SERVER_ADDR (compiled-in default server list, docs/design.md §3 -DBOOT_SERVER_ADDR),
//      ASPIRE_VERSION (version string; default: root package.json version).
import { build } from 'esbuild';
import { existsSync, mkdirSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { buildConsoleAssets, consoleAssetsPlugin } from '../packages/server/console/build.mjs';

const require = createRequire(import.meta.url);
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const version = process.env.ASPIRE_VERSION || JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version;

/**
 * Chunks: code a program seldom runs, kept out of its main script so that a start (the Ctl) or an
 * idle daemon (boot) neither parses nor holds it. Each is bundled on its own to
 * `<name>.chunk-<chunk>.cjs` beside the bundle (a single-executable asset in the binaries,
 * scripts/sea.mjs) and evaluated at its first import: a dynamic import() for code seldom run, a
 * static one for code split out only to be compiled as a script of its own; `match` is the
 * import path.
 * A chunk shares no module instance with the main script: only stateless or self-contained code.
 */
export const ENTRIES = [
  {
    name: 'boot',
    entry: 'packages/boot-agent/src/main.ts',
    chunks: [
      // Package downloads (http(s)); the push uses node:http.
      { chunk: 'undici', match: /^undici$/, entry: 'undici' },
      // ftp:// downloads and .tar.gz packages.
      { chunk: 'ftp', match: /^basic-ftp$/, entry: 'basic-ftp' },
      { chunk: 'tar', match: /^tar$/, entry: 'tar' },
      // Loaded at start, but compiled as scripts of their own: V8's parser zones peak at ~4.7
      // bytes per byte of the script being compiled and glibc keeps that peak, so a smaller main
      // script leaves a smaller idle heap (~0.5 MB for TypeBox, docs/boot-agent.md "Idle memory").
      // One chunk for both TypeBox entry points, so that there is one TypeBox instance.
      { chunk: 'typebox', match: /^@sinclair\/typebox(\/compiler)?$/, entry: 'packages/protocol/src/typebox-chunk.ts' },
      { chunk: 'cli', match: /^commander$/, entry: 'commander' },
      { chunk: 'pino', match: /^pino$/, entry: 'pino' },
      // Sub-agents' CPU and memory, at a watchdog's first sample.
      { chunk: 'pidusage', match: /^pidusage$/, entry: 'pidusage' },
    ],
    lean: true,
    // Built-in modules the idle loop does not touch: loaded at the first use of one of their
    // exports (lazyBuiltins below).
    lazyBuiltins: [
      'child_process',
      'crypto',
      'fs/promises',
      'https',
      'perf_hooks',
      'readline',
      'stream/promises',
      'tls',
      'zlib',
    ],
  },
  {
    name: 'basic-agent',
    entry: 'packages/basic-agent/src/main.ts',
    lean: true,
    chunks: [
      // The daemon: BasicAgentCtl never evaluates nor parses it.
      { chunk: 'daemon', match: /\/cli\/agent-main\.ts$/, entry: 'packages/basic-agent/src/cli/agent-main.ts' },
      // systeminformation's modules, for the collectors that use them.
      { chunk: 'si', match: /\/si-lib\.ts$/, entry: 'packages/basic-agent/src/collectors/si-lib.ts' },
    ],
  },
  { name: 'aspire', entry: 'packages/server/src/main.ts' },
];

/** The file a chunk is written to, beside the bundle (and the asset key in a single executable). */
export const chunkFile = (name, chunk) => `${name}.chunk-${chunk}.cjs`;

/**
 * What an import of a chunk becomes in the script that imports it: in a single executable the
 * asset compiled as a CommonJS module (it requires built-in modules only: everything else is
 * bundled in), on node the file beside the bundle.
 */
function chunkLoader(file) {
  const f = JSON.stringify(file);
  return `const sea = require('node:sea');
if (sea.isSea()) {
  const code = sea.getAsset(${f}, 'utf8');
  const fn = require('node:vm').compileFunction(code, ['exports', 'require', 'module', '__filename', '__dirname'], { filename: ${f} });
  fn.call(module.exports, module.exports, require, module, __filename, __dirname);
} else {
  module.exports = require(require('node:path').join(__dirname, ${f}));
}
`;
}

/**
 * The agents' pino without what they never use: transports (thread-stream and a worker file on
 * disk, which a single executable does not have; logger.ts writes through pino.destination). And
 * no node:worker_threads, which pino and write-file-atomic load only to ask whether they run on
 * the main thread or for its thread id (the agents run no workers: main thread, id 0), nor
 * node:assert, which sonic-boom loads for one check (~2 MB of RSS for a plain throw). Each saves
 * memory that an idle daemon would otherwise hold.
 */
const leanPino = {
  name: 'aspire-lean-pino',
  setup(b) {
    const inPino = (importer) => /[\\/]node_modules[\\/](pino|write-file-atomic)[\\/]/.test(importer);
    b.onResolve({ filter: /^\.\/(lib\/)?transport$/ }, (args) =>
      inPino(args.importer) ? { path: 'transport', namespace: 'aspire-lean-pino' } : undefined,
    );
    b.onResolve({ filter: /^worker_threads$/ }, (args) =>
      inPino(args.importer) ? { path: 'worker_threads', namespace: 'aspire-lean-pino' } : undefined,
    );
    b.onResolve({ filter: /^assert$/ }, (args) =>
      /[\\/]node_modules[\\/]sonic-boom[\\/]/.test(args.importer)
        ? { path: 'assert', namespace: 'aspire-lean-pino' }
        : undefined,
    );
    const STUBS = {
      transport: "module.exports = () => { throw new Error('pino transports are not in this build'); };",
      worker_threads: 'module.exports = { isMainThread: true, threadId: 0 };',
      assert: 'module.exports = (ok, message) => { if (!ok) throw new Error(message); };',
    };
    b.onLoad({ filter: /.*/, namespace: 'aspire-lean-pino' }, (args) => ({ contents: STUBS[args.path], loader: 'js' }));
  },
};

/**
 * A built-in module required only when first used: every import or require of it (ours and the
 * dependencies') becomes an object with one getter per export that loads the module on first
 * access. esbuild reads an imported binding at each use (`(0, m.spawn)(...)`), so a daemon
 * loads node:child_process when it first spawns, not at start; a require destructured at the
 * top of a module loads it then, as before. The export names are the build's node's (the pinned
 * one): a name missing at run time reads undefined, as it would from the module itself.
 */
function lazyBuiltinsPlugin(names) {
  const filter = new RegExp(`^(node:)?(${names.map((n) => n.replace('/', '\\/')).join('|')})$`);
  return {
    name: 'aspire-lazy-builtins',
    setup(b) {
      b.onResolve({ filter }, (args) =>
        // The stand-in's own require is the real module.
        args.namespace === 'aspire-lazy-builtin'
          ? { path: args.path, external: true }
          : { path: args.path.replace(/^node:/, ''), namespace: 'aspire-lazy-builtin' },
      );
      b.onLoad({ filter: /.*/, namespace: 'aspire-lazy-builtin' }, (args) => {
        const keys = Object.getOwnPropertyNames(require(args.path)).filter((k) => k !== '__esModule');
        const id = JSON.stringify(`node:${args.path}`);
        return {
          contents: `let m;
const load = () => (m ??= require(${id}));
for (const k of ${JSON.stringify(keys)}) Object.defineProperty(exports, k, { enumerable: true, get: () => load()[k] });
`,
          loader: 'js',
        };
      });
    },
  };
}

function chunksPlugin(name, chunks) {
  return {
    name: 'aspire-chunks',
    setup(b) {
      for (const c of chunks) {
        // The chunk's own build starts at its entry: that one, and what the entry itself
        // imports (a chunk that re-exports a package), are bundled, not redirected.
        // Real paths on both sides: esbuild names importers by their real path.
        const entryFile = c.entry.startsWith('packages/') ? realpathSync(join(root, c.entry)) : undefined;
        b.onResolve({ filter: c.match }, (args) =>
          args.kind === 'entry-point' || args.importer === entryFile
            ? undefined
            : { path: chunkFile(name, c.chunk), namespace: 'aspire-chunk' },
        );
      }
      b.onLoad({ filter: /.*/, namespace: 'aspire-chunk' }, (args) => ({
        contents: chunkLoader(args.path),
        loader: 'js',
      }));
    },
  };
}

export async function buildAll({ only, outdir = process.env.ASPIRE_BUILD_DIR || join(root, 'build') } = {}) {
  mkdirSync(outdir, { recursive: true });
  const built = [];
  for (const { name, entry, chunks = [], lean = false, lazyBuiltins = [] } of ENTRIES) {
    if (only && !only.includes(name)) continue;
    const src = join(root, entry);
    if (!existsSync(src)) {
      console.warn(`build: ${entry} does not exist yet, skipped`);
      continue;
    }
    // The web console is built first and compiled into the server bundle (served at /).
    const plugins = name === 'aspire' ? [consoleAssetsPlugin(await buildConsoleAssets())] : [];
    if (chunks.length) plugins.push(chunksPlugin(name, chunks));
    if (lean) plugins.push(leanPino);
    if (lazyBuiltins.length) plugins.push(lazyBuiltinsPlugin(lazyBuiltins));
    const targets = [
      { from: src, outfile: join(outdir, `${name}.cjs`) },
      ...chunks.map((c) => ({
        from: c.entry.startsWith('packages/') ? join(root, c.entry) : c.entry,
        outfile: join(outdir, chunkFile(name, c.chunk)),
      })),
    ];
    for (const { from, outfile } of targets) await bundle(from, outfile, plugins, lean);
    built.push(...targets.map((t) => t.outfile));
  }
  return built;
}

async function bundle(from, outfile, plugins, lean) {
  await build({
    entryPoints: [from],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node24',
    format: 'cjs',
    // The agents: no comments or indentation (a third of the source, which V8 parses on every
    // start and holds for the daemon's lifetime; a comment with one non-ASCII character also
    // doubles the string). Names are kept, so stack traces still name every function.
    minifyWhitespace: lean,
    minifySyntax: lean,
    minifyIdentifiers: false,
    sourcemap: false,
    legalComments: 'none',
    logLevel: 'warning',
    // Deterministic output: no absolute paths, no timestamps.
    absWorkingDir: root,
    define: {
      __ASPIRE_VERSION__: JSON.stringify(version),
      __BOOT_SERVER_ADDR__: JSON.stringify(process.env.BOOT_SERVER_ADDR ?? ''),
      'import.meta.url': '__aspire_import_meta_url',
    },
    banner: { js: "const __aspire_import_meta_url = require('node:url').pathToFileURL(__filename).href;" },
    loader: { '.html': 'text', '.css': 'text', '.sql': 'text' },
    plugins,
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const only = process.argv.slice(2);
  const built = await buildAll({ only: only.length ? only : undefined });
  for (const f of built) console.log(`built ${f}`);
}
