/**
 * The server list (design.md §3): build-time default, then -S/metafile, then `servers`
 * of boot.json, then the list pushed by the last `config` job. All kept, in that order, no de-duplication (the design: no de-duplication).
 */
import { DEFAULT_AGENT_PORT, parseServerList } from '@aspire/protocol';

export interface ServerSources {
  /** Compiled-in BOOT_SERVER_ADDR (may be empty). */
  build: string;
  /** From -S on first start, as persisted in the metafile. */
  servers: readonly string[];
  /** `servers` of boot.json (read at every start; absent: empty). */
  configured?: readonly string[];
  /** From the last `config` job. */
  pushed: readonly string[];
}

/** Entries of a server list as base URLs: `host:port` means http://host:port. */
export function serverUrls(src: ServerSources): string[] {
  return serverGroups(src).flat();
}

/**
 * The same entries by source, in the list's order. Status pushes spread over the servers of one
 * source (the nodes of one cluster) and keep the sources' order (net/server-choice.ts): a list
 * pushed by a `config` job stays the fallback after the configured servers.
 */
export function serverGroups(src: ServerSources): string[][] {
  return [
    parseServerList(src.build, DEFAULT_AGENT_PORT),
    [...src.servers],
    [...(src.configured ?? [])],
    [...src.pushed],
  ]
    .map((g) => g.map(toBaseUrl))
    .filter((g) => g.length > 0);
}

export function toBaseUrl(entry: string): string {
  return /^https?:\/\//i.test(entry) ? entry : `http://${entry}`;
}

/** Parse a list given by -S or a config job; each entry must make a usable http(s) URL. */
export function checkServerList(text: string): { ok: true; entries: string[] } | { ok: false; error: string } {
  const entries = parseServerList(text, DEFAULT_AGENT_PORT);
  for (const e of entries) {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(e) && !/^https?:\/\//i.test(e))
      return { ok: false, error: `server ${JSON.stringify(e)}: only http and https are supported` };
    let u: URL;
    try {
      u = new URL(toBaseUrl(e));
    } catch {
      return { ok: false, error: `server ${JSON.stringify(e)} is not host:port or an http(s) URL` };
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:')
      return { ok: false, error: `server ${JSON.stringify(e)}: only http and https are supported` };
    if (u.username || u.password)
      return { ok: false, error: `server ${JSON.stringify(e)}: credentials in the address are not allowed` };
  }
  return { ok: true, entries };
}
