// Pure (no DOM): unit-tested under Node in packages/server/test/console-lib.test.ts.
/**
 * Guess name, version and arch from a package file name such as
 * `FoobarAgent-1.2.3-rc1.x86_64.rpm` or `MiniAgent-0.1.0.tar.gz`, to prefill the upload form.
 * Only a guess: the operator sees and can change every field.
 */
export interface Guess {
  name?: string;
  version?: string;
  arch?: string;
}

const ARCHES = ['x86_64', 'aarch64', 'noarch'];

export function guessFromFile(file: string): Guess {
  let base = file.replace(/\.(tar\.gz|tgz|rpm|zip)$/i, '');
  const out: Guess = {};
  for (const a of ARCHES) {
    if (base.endsWith(`.${a}`) || base.endsWith(`-${a}`)) {
      out.arch = a;
      base = base.slice(0, -a.length - 1);
    }
  }
  const [, name, version] = /^([A-Za-z][A-Za-z0-9_.]*?)-(\d[A-Za-z0-9._+~-]*)$/.exec(base) ?? [];
  if (name !== undefined && version !== undefined) {
    out.name = name;
    out.version = version;
  } else if (/^[A-Za-z][A-Za-z0-9._-]*$/.test(base)) {
    out.name = base;
  }
  return out;
}
