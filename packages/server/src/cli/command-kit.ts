/**
 * What every client command shares: the connection flags (--url --token --ca), -o, the exit
 * code of a usage error (2, commander's own parse errors included), and one wrapper that
 * resolves the config, runs the command, closes the client and turns a failure into one line
 * on stderr with its exit code (docs/cli.md).
 */
import type { Command } from 'commander';
import { ApiClient } from './api-client.ts';
import { resolveClientConfig, type ConnectionFlags } from './client-config.ts';
import { describeFailure, UsageError } from './errors.ts';
import { outputMode, type OutputMode } from './output.ts';

export interface ClientFlags extends ConnectionFlags {
  output?: string;
}

export interface ClientContext {
  client: ApiClient;
  mode: OutputMode;
  out: NodeJS.WriteStream;
  err: NodeJS.WriteStream;
}

/** Commander's parse errors (unknown option, missing argument) exit 2 like our usage errors; help and version 0. */
export function usageExit<C extends Command>(cmd: C): C {
  return cmd.exitOverride((e) => {
    process.exit(e.exitCode === 0 ? 0 : 2);
  }) as C;
}

export function withConnection<C extends Command>(cmd: C): C {
  return usageExit(cmd)
    .option('--url <url>', 'server URL (env ASPIRE_URL, cli.json "url")')
    .option(
      '--token <token>',
      'operator token (env ASPIRE_TOKEN, cli.json "token"); prefer the env or the file: flags show in ps',
    )
    .option('--ca <file>', 'PEM CA that signed the server certificate (env ASPIRE_CA, cli.json "ca")')
    .option('-o, --output <format>', 'table or json (default: table on a terminal, json to a pipe)') as C;
}

/** Run a client command's body; sets process.exitCode (1 or 2 on failure, or what the body returns). */
export async function runClient(
  flags: ClientFlags,
  body: (ctx: ClientContext) => Promise<number | void>,
): Promise<void> {
  let client: ApiClient | undefined;
  let secret = flags.token ?? process.env.ASPIRE_TOKEN ?? '';
  try {
    const mode = outputMode(flags.output, process.stdout.isTTY === true);
    const config = resolveClientConfig(flags);
    secret = config.token;
    client = new ApiClient(config);
    const code = await body({ client, mode, out: process.stdout, err: process.stderr });
    if (code) process.exitCode = code;
  } catch (err) {
    const { exitCode, line } = describeFailure(err, [secret]);
    process.stderr.write(`aspire: ${line}\n`);
    process.exitCode = exitCode;
  } finally {
    await client?.close().catch(() => undefined);
  }
}

// ---- checked option values (a bad one is a usage error, before anything is sent) -------------

export function positiveInt(flag: string, v: string | undefined, max = 2 ** 31 - 1): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > max)
    throw new UsageError(`${flag} ${JSON.stringify(v)}: a whole number 1..${max}`);
  return Number(v);
}

export function tagSelector(flag: string, v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  if (!/^[^=,]+=[^=,]*$/.test(v)) throw new UsageError(`${flag} ${JSON.stringify(v)}: one tag as name=value`);
  return v;
}

/** A time as unix seconds: digits, or an ISO date (2026-12-02T10:00:00Z). */
export function unixSeconds(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (/^\d+$/.test(v)) return Number(v);
  const ms = Date.parse(v);
  if (Number.isNaN(ms)) throw new UsageError(`${flag} ${JSON.stringify(v)}: unix seconds or an ISO time`);
  return Math.floor(ms / 1000);
}

/** Comma lists and repeated flags flattened: --host a,b --host c. */
export function collect(value: string, previous: string[] = []): string[] {
  return [
    ...previous,
    ...value
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  ];
}
