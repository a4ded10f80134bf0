/**
 * Where the operator CLI finds its server: each of url, token and ca from the flag, else the
 * environment (ASPIRE_URL, ASPIRE_TOKEN, ASPIRE_CA), else the file
 * $XDG_CONFIG_HOME/aspire/cli.json or $HOME/.config/aspire/cli.json ({"url", "token", "ca"}).
 * Checked once here into a ClientConfig; nothing else reads the environment.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve, dirname } from 'node:path';
import { UsageError } from './errors.ts';

export interface ConnectionFlags {
  url?: string;
  token?: string;
  ca?: string;
}

export interface ClientConfig {
  /** Base URL without a trailing slash, http: or https:. */
  url: string;
  token: string;
  /** PEM of the CA that signed the server's certificate (added to the system roots' place). */
  caPem?: string;
}

export function cliConfigPath(env: NodeJS.ProcessEnv): string {
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config');
  return join(base, 'aspire', 'cli.json');
}

function readConfigFile(path: string): ConnectionFlags {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new UsageError(`${path}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${path}: not JSON (${(err as Error).message})`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new UsageError(`${path}: must be a JSON object {"url", "token", "ca"}`);
  const out: ConnectionFlags = {};
  const problems: string[] = [];
  for (const [k, v] of Object.entries(raw)) {
    if (k !== 'url' && k !== 'token' && k !== 'ca') problems.push(`unknown key "${k}"`);
    else if (typeof v !== 'string') problems.push(`${k}: must be a string`);
    // A relative ca path is relative to the file that names it.
    else out[k] = k === 'ca' && !isAbsolute(v) ? resolve(dirname(path), v) : v;
  }
  if (problems.length) throw new UsageError(`${path}: ${problems.join('; ')}`);
  return out;
}

/** The server URL from flag, environment or cli.json, if any names one (an unreadable cli.json: undefined, resolveClientConfig says why). */
export function configuredUrl(flags: ConnectionFlags, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (flags.url ?? env.ASPIRE_URL) return flags.url ?? env.ASPIRE_URL;
  try {
    return readConfigFile(cliConfigPath(env)).url;
  } catch {
    return 'cli.json';
  }
}

export function resolveClientConfig(flags: ConnectionFlags, env: NodeJS.ProcessEnv = process.env): ClientConfig {
  const path = cliConfigPath(env);
  const file = readConfigFile(path);
  const url = flags.url ?? env.ASPIRE_URL ?? file.url;
  const token = flags.token ?? env.ASPIRE_TOKEN ?? file.token;
  const ca = flags.ca ?? env.ASPIRE_CA ?? file.ca;
  const missing: string[] = [];
  if (!url) missing.push('server URL (--url, ASPIRE_URL or "url")');
  if (!token) missing.push('operator token (--token, ASPIRE_TOKEN or "token")');
  if (missing.length) throw new UsageError(`no ${missing.join(' and no ')} in flags, environment or ${path}`);
  let parsed: URL;
  try {
    parsed = new URL(url!);
  } catch {
    throw new UsageError(`--url ${JSON.stringify(url)}: not a URL (e.g. https://aspire.example:8180)`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    throw new UsageError(`--url ${JSON.stringify(url)}: use http:// or https://`);
  if (!/^[\x21-\x7e]+$/.test(token!))
    throw new UsageError('the operator token has characters a token never has (spaces or control characters)');
  let caPem: string | undefined;
  if (ca) {
    try {
      caPem = readFileSync(ca, 'utf8');
    } catch (err) {
      throw new UsageError(`--ca ${ca}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  return { url: parsed.href.replace(/\/+$/, ''), token: token!, ...(caPem !== undefined ? { caPem } : {}) };
}
