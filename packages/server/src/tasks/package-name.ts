/**
 * The sub-agent name of an install/upgrade task whose parameters give only a `url` (design.md §5's
 * example body). First a registered package: the server's own package link
 * (`/agent/package/<id>/<file>`) or a URL whose file name is a registered package's file names
 * that package. Else read from the URL: `command://yum install MiniAgent -y` names MiniAgent (the
 * first word after `install`/`update`/`upgrade`/`reinstall` that is not an option); a file URL
 * names the part of its file name before the first `-<digit>` ("FoobarAgent-1.2.3-rc1.x86_64.rpm").
 */
import { AgentPath } from '@aspire/protocol';
import type { PackageRow, Page, PackageFilter, Paging } from '../store/store.ts';

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const VERBS = new Set(['install', 'update', 'upgrade', 'reinstall']);
/** Registered packages are read in pages of this many when a URL's file name is looked up. */
const PAGE = 1000;

export const HOW_TO_NAME =
  'parameters.name: give the sub-agent name (or a url that names it: a registered package file or link, command://yum install NAME -y, or a file URL .../NAME-VERSION.tar.gz)';

export interface PackageLookup {
  getPackage(id: number): Promise<PackageRow | undefined>;
  listPackages(filter: PackageFilter, paging: Paging): Promise<Page<PackageRow>>;
}

export type DerivedName = { ok: true; name: string; from: 'package' | 'url' } | { ok: false; cause: string };

/** The name a url gives: a registered package first, then the URL itself; else the cause says how to name it. */
export async function deriveName(url: string, packages: PackageLookup): Promise<DerivedName> {
  const file = fileOf(url);
  if (file !== undefined) {
    const names = await registeredNames(url, file, packages);
    if (names.length === 1) return { ok: true, name: names[0]!, from: 'package' };
    if (names.length > 1)
      return {
        ok: false,
        cause: `parameters.name: the file ${file} is registered under several names (${names.join(', ')}); give the one meant`,
      };
  }
  const name = nameFromUrl(url);
  return name ? { ok: true, name, from: 'url' } : { ok: false, cause: HOW_TO_NAME };
}

/** The decoded last path segment of a URL with a path (not command://), or undefined. */
function fileOf(url: string): string | undefined {
  if (url.startsWith('command://')) return undefined;
  try {
    const path = new URL(url).pathname;
    const file = decodeURIComponent(path.slice(path.lastIndexOf('/') + 1));
    return file.length > 0 ? file : undefined;
  } catch {
    return undefined;
  }
}

async function registeredNames(url: string, file: string, packages: PackageLookup): Promise<string[]> {
  // The server's own link names its package by id (the file must match too).
  const link = new RegExp(`${AgentPath.PACKAGE}/(\\d{1,15})/[^/]+$`).exec(new URL(url).pathname);
  if (link) {
    const p = await packages.getPackage(Number(link[1]));
    if (p && p.file === file) return [p.name];
  }
  // Any other URL: a registered file of that name. Packages are few (names x versions x
  // platforms); they are read a page at a time only when a task gives no name.
  const names = new Set<string>();
  for (let offset = 0; ; offset += PAGE) {
    const page = await packages.listPackages({}, { offset, limit: PAGE, order: 'asc', sortby: 'id' });
    for (const p of page.items) if (p.file === file) names.add(p.name);
    if (page.items.length < PAGE || offset + PAGE >= page.count) break;
  }
  return [...names].sort();
}

export function nameFromUrl(url: string): string | undefined {
  if (url.startsWith('command://')) {
    const words = url.slice('command://'.length).trim().split(/\s+/);
    const verb = words.findIndex((w) => VERBS.has(w));
    if (verb < 0) return undefined;
    const name = words.slice(verb + 1).find((w) => !w.startsWith('-'));
    return name && NAME.test(name) && name.length <= 64 ? name : undefined;
  }
  const file = fileOf(url);
  if (file === undefined) return undefined;
  const m = /^([A-Za-z0-9][A-Za-z0-9._]*?)-\d/.exec(file);
  const name = m?.[1];
  return name && NAME.test(name) && name.length <= 64 ? name : undefined;
}
