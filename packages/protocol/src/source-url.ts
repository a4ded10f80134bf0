/**
 * Package source URLs as the allow lists see them (docs/security.md: the host policy's `sources`
 * and the operator scope's `sources`). Compared after `new URL(url).href`, so case and default
 * forms do not matter; a URL with a `..` or `.` path segment, or a percent-encoded dot or slash, is refused
 * outright (`https://repo/pkgs/../x` would otherwise leave the allowed directory).
 */

/** `opaque`: not parseable as a URL (`command://yum install x`); only a scheme-only prefix can allow it. */
export type SourceUrl = { ok: true; href: string; scheme: string; opaque?: true } | { ok: false; reason: string };

/** `.`/`..` segments (also between backslashes, which URL treats as `/` for http, file ...). */
const DOT_SEGMENT = /(^|[/\\])\.\.?([/\\?#]|$)/;
const ENCODED_DOT = /%2e|%2f|%5c/i;

export function normalizeSourceUrl(url: string): SourceUrl {
  if (ENCODED_DOT.test(url)) return { ok: false, reason: 'contains a percent-encoded dot or slash' };
  const schemeEnd = url.indexOf(':');
  if (DOT_SEGMENT.test(url.slice(schemeEnd + 1))) return { ok: false, reason: 'contains a "." or ".." path segment' };
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
    if (scheme === undefined) return { ok: false, reason: 'is not a URL' };
    return { ok: true, href: `${scheme}${url.slice(scheme.length)}`, scheme, opaque: true };
  }
  return { ok: true, href: u.href, scheme: u.protocol.slice(0, -1) };
}

/** A prefix is scheme-only (`https://`, `command:`) or a URL ending at a `/`. */
export type SourcePrefix =
  | { kind: 'scheme'; scheme: string; text: string }
  | { kind: 'prefix'; href: string; text: string };

const SCHEME_ONLY = /^([a-z][a-z0-9+.-]*):(\/\/)?$/i;

/** Check an allow-list entry once, at the edge; undefined when it is not a usable prefix. */
export function parseSourcePrefix(text: string): SourcePrefix | undefined {
  const m = SCHEME_ONLY.exec(text);
  if (m) return { kind: 'scheme', scheme: m[1]!.toLowerCase(), text };
  if (!/^[a-z][a-z0-9+.-]*:/i.test(text) || !text.endsWith('/')) return undefined;
  const n = normalizeSourceUrl(text);
  if (!n.ok || !n.href.endsWith('/')) return undefined;
  return { kind: 'prefix', href: n.href, text };
}

/** Whether a URL lies under one of the prefixes (false for a URL that does not normalise). */
export function sourceAllowed(prefixes: readonly SourcePrefix[], url: string): boolean {
  const n = normalizeSourceUrl(url);
  if (!n.ok) return false;
  return prefixes.some((p) => (p.kind === 'scheme' ? n.scheme === p.scheme : !n.opaque && n.href.startsWith(p.href)));
}
