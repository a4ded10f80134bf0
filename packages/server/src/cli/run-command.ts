/**
 * `aspire run [--host H]... [--tag k=v] [--user U] [--timeout S] -- COMMAND`: sync.bash through
 * the Polaris API (POST /polaris), one request per host (at most --parallel at once) so each
 * host's result is shown as it arrives; a progress bar under them when stdout is a terminal; a summary; exit 1 when any
 * host failed (a refusal, no channel, a timeout, or a non-zero exit status).
 */
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { SYNC_BASH_MAX_TIMEOUT_S } from '@aspire/protocol';
import type { ApiClient } from './api-client.ts';
import { collect, positiveInt, runClient, tagSelector, withConnection, type ClientFlags } from './command-kit.ts';
import { CliFailure, UsageError } from './errors.ts';
import { json } from './output.ts';

interface RunFlags extends ClientFlags {
  host?: string[];
  tag?: string;
  user?: string;
  group?: string;
  timeout: string;
  parallel: string;
}

export interface RunTarget {
  /** What Polaris is asked for: a hostname or an AgentSN. */
  host: string;
  hostname?: string;
}

export interface HostResult extends RunTarget {
  ok: boolean;
  resp: string;
  retcode: number | null;
  message: string;
  output?: unknown;
  truncated?: boolean;
  durationMs: number;
}

/** The hosts of a run: --host as given, then the hosts the tag selects (not deleted), each once. */
export async function runTargets(
  client: ApiClient,
  hosts: readonly string[],
  tag: string | undefined,
): Promise<RunTarget[]> {
  const out: RunTarget[] = hosts.map((host) => ({ host }));
  if (tag !== undefined) {
    const { items } = await client.all<{ agentsn: string; hostname: string; status: string }>('/host', 'hosts', {
      tag,
    });
    const selected = items.filter((h) => h.status !== 'deleted');
    if (selected.length === 0 && hosts.length === 0) throw new CliFailure(`no host has tag ${tag}`);
    for (const h of selected) out.push({ host: h.agentsn, hostname: h.hostname });
  }
  const seen = new Set<string>();
  return out.filter((t) => !seen.has(t.host) && seen.add(t.host));
}

/** One host's sync.bash through POST /polaris; a refused request is that host's failure, not the run's. */
async function runOne(
  client: ApiClient,
  t: RunTarget,
  body: Record<string, unknown>,
  timeoutS: number,
  now: () => number,
): Promise<HostResult> {
  const started = now();
  try {
    // The server answers within the command's timeout plus its grace; a minute more here.
    const r = await client.request('POST', '/polaris', {
      json: { ...body, hosts: [t.host] },
      timeoutMs: (timeoutS + 60) * 1000,
    });
    const reply = ((r.response as Record<string, unknown>[] | undefined) ?? [])[0] ?? {};
    const resp = typeof reply.resp === 'string' ? reply.resp : 'failed';
    const retcode = typeof reply.retcode === 'number' ? reply.retcode : null;
    return {
      ...t,
      ok: resp === 'success' && retcode === 0,
      resp,
      retcode,
      message: typeof reply.message === 'string' ? reply.message : '',
      ...(reply.data !== undefined ? { output: reply.data } : {}),
      ...(reply.truncated === true ? { truncated: true } : {}),
      durationMs: now() - started,
    };
  } catch (err) {
    if (!(err instanceof CliFailure)) throw err;
    return { ...t, ok: false, resp: 'failed', retcode: null, message: err.message, durationMs: now() - started };
  }
}

/** Run `fn` over items with at most `limit` in flight; `done` as each finishes. */
async function pool<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
  done: (r: R) => void,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
      done(results[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** A host's result as lines for a person: a status line, then its output indented. */
export function resultText(r: HostResult): string {
  const name = r.hostname && r.hostname !== r.host ? `${r.hostname} (${r.host})` : r.host;
  const status = r.ok ? 'ok' : 'FAILED';
  const code = r.resp === 'success' ? `exit ${r.retcode}` : r.retcode !== null ? `code ${r.retcode}` : '';
  const head = [
    `[${status}]`,
    name,
    code,
    `${(r.durationMs / 1000).toFixed(1)}s`,
    r.resp === 'success' && r.ok ? '' : r.message,
  ]
    .filter(Boolean)
    .join('  ');
  const text = typeof r.output === 'string' ? r.output : r.output === undefined ? '' : JSON.stringify(r.output);
  const body =
    text === ''
      ? ''
      : `${text
          .replace(/\n$/, '')
          .split('\n')
          .map((l) => `    ${l}`)
          .join('\n')}\n`;
  return `${head}\n${body}${r.truncated ? '    (output truncated)\n' : ''}`;
}

export function summarize(results: readonly HostResult[]): {
  hosts: number;
  succeeded: number;
  failed: number;
  failedHosts: string[];
} {
  const failed = results.filter((r) => !r.ok);
  return {
    hosts: results.length,
    succeeded: results.length - failed.length,
    failed: failed.length,
    failedHosts: failed.map((r) => r.hostname ?? r.host),
  };
}

export function addRunCommand(program: Command): void {
  withConnection(program.command('run'))
    .description('run a shell command (sync.bash) on hosts through the server, results per host as they arrive')
    .argument('<command...>', 'the command line (put it after --, quoted as one word or as words)')
    .option('--host <name>', 'a host by hostname or AgentSN (repeat, or a,b)', collect)
    .option('--tag <k=v>', 'every host with this tag')
    .option('--user <user>', "run as this user (default: the agent's, root)")
    .option('--group <group>', 'run with this group')
    .option('--timeout <s>', `seconds before the command is killed (1..${SYNC_BASH_MAX_TIMEOUT_S})`, '60')
    .option('--parallel <n>', 'hosts asked at once', '32')
    .addHelpText(
      'after',
      "\nExamples:\n  aspire run --tag role=web -- uptime\n  aspire run --host web-1,web-2 --user nobody --timeout 30 -- 'df -h /var'\n  aspire run --tag role=db -o json -- 'systemctl is-active postgresql' | jq '.summary'\n\nExit status: 0 when every host succeeded (exit 0), 1 when any failed or the server refused, 2 on a usage error.",
    )
    .action((words: string[], flags: RunFlags) =>
      runClient(flags, async ({ client, mode, out }) => {
        const cmd = words.join(' ');
        if (!cmd.trim()) throw new UsageError('give a command to run');
        const timeout = positiveInt('--timeout', flags.timeout, SYNC_BASH_MAX_TIMEOUT_S)!;
        const parallel = positiveInt('--parallel', flags.parallel, 1000)!;
        const tag = tagSelector('--tag', flags.tag);
        if (!flags.host?.length && tag === undefined)
          throw new UsageError('give --host NAME (repeatable) or --tag k=v');
        const targets = await runTargets(client, flags.host ?? [], tag);
        const body = {
          method: 'sync.bash',
          cmd,
          timeout,
          ...(flags.user ? { user: flags.user } : {}),
          ...(flags.group ? { group: flags.group } : {}),
        };

        // On a terminal the bar sits under the results, on stdout with them (log() prints above it).
        const bars =
          mode === 'table' && out.isTTY === true
            ? new cliProgress.MultiBar(
                {
                  stream: out,
                  hideCursor: true,
                  clearOnComplete: true,
                  format: ' {bar} {value}/{total} hosts | {failed} failed',
                },
                cliProgress.Presets.shades_classic,
              )
            : undefined;
        const bar = bars?.create(targets.length, 0, { failed: 0 });
        let failedSoFar = 0;
        const show = (r: HostResult) => {
          if (!r.ok) failedSoFar++;
          if (mode !== 'table') return;
          if (bars) bars.log(resultText(r));
          else out.write(resultText(r));
          bar?.increment(1, { failed: failedSoFar });
        };
        let results: HostResult[];
        try {
          results = await pool(targets, parallel, (t) => runOne(client, t, body, timeout, Date.now), show);
        } finally {
          // update() writes what log() buffered since the last redraw; stop() would drop it.
          bars?.update();
          bars?.stop();
        }
        const summary = summarize(results);
        if (mode === 'json')
          out.write(json({ command: cmd, ...(flags.user ? { user: flags.user } : {}), timeout, summary, results }));
        else
          out.write(
            `${summary.hosts} hosts: ${summary.succeeded} succeeded, ${summary.failed} failed${summary.failed ? ` (${summary.failedHosts.join(', ')})` : ''}\n`,
          );
        return summary.failed > 0 ? 1 : 0;
      }),
    );
}
