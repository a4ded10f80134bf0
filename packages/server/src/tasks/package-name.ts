/**
 * The sub-agent name of an install/upgrade task whose parameters give only a `url` (seed 000's
 * example body): read from the URL. `command://yum install MiniAgent -y` names MiniAgent (the
 * first word after `install`/`update`/`upgrade` that is not an option); a file URL names the
 * part of its file name before the first `-<digit>` ("FoobarAgent-1.2.3-rc1.x86_64.rpm").
 */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const VERBS = new Set(['install', 'update', 'upgrade', 'reinstall']);

export function nameFromUrl(url: string): string | undefined {
  if (url.startsWith('command://')) {
    const words = url.slice('command://'.length).trim().split(/\s+/);
    const verb = words.findIndex((w) => VERBS.has(w));
    if (verb < 0) return undefined;
    const name = words.slice(verb + 1).find((w) => !w.startsWith('-'));
    return name && NAME.test(name) && name.length <= 64 ? name : undefined;
  }
  let path: string;
  try {
    path = new URL(url).pathname;
  } catch {
    return undefined;
  }
  const file = decodeURIComponent(path.slice(path.lastIndexOf('/') + 1));
  const m = /^([A-Za-z0-9][A-Za-z0-9._]*?)-\d/.exec(file);
  const name = m?.[1];
  return name && NAME.test(name) && name.length <= 64 ? name : undefined;
}

export const HOW_TO_NAME =
  'parameters.name: give the sub-agent name (or a url that names it: command://yum install NAME -y, or a file URL .../NAME-VERSION.tar.gz)';
