import { useState } from 'preact/hooks';
import { listHosts, polaris, type HostReply } from '../api/endpoints.ts';
import { errorText } from '../api/errors.ts';
import { DataTable } from '../components/data-table.tsx';
import { TextField } from '../components/fields.tsx';
import { HostPicker } from '../components/host-picker.tsx';
import { ErrorNote } from '../components/notice.tsx';
import { StatusBadge } from '../components/status-badge.tsx';
import { hostHref } from '../lib/route.ts';
import { runSummary, succeeded, type RunReply, type RunRow } from '../lib/run-results.ts';
import { useAction } from '../lib/use-action.ts';

/** Requests in flight at once: each host is one POST /polaris, so its row fills as it answers. */
const PARALLEL = 8;
/** A tag selector resolves to at most this many hosts. */
const TAG_MAX = 1000;

/**
 * Run a command (sync.bash) as a user on chosen hosts or on every host with a tag, through the
 * command hub. Each host is asked on its own, a few at a time, so results show as they arrive.
 */
export function Run() {
  const [mode, setMode] = useState<'hosts' | 'tag'>('hosts');
  const [hosts, setHosts] = useState<string[]>([]);
  const [tag, setTag] = useState('');
  const [cmd, setCmd] = useState('');
  const [user, setUser] = useState('root');
  const [timeout, setTimeoutSec] = useState('30');
  const [rows, setRows] = useState<RunRow[] | null>(null);
  const action = useAction();

  const submit = (e: Event) => {
    e.preventDefault();
    if (!cmd.trim()) return action.fail('Give a command.');
    const t = Number(timeout);
    if (!Number.isInteger(t) || t < 1 || t > 3600) return action.fail('Timeout: whole seconds from 1 to 3600.');
    void action.run(async () => {
      const targets = mode === 'hosts' ? hosts : await tagHosts(tag.trim());
      if (targets.length === 0)
        throw new Error(mode === 'hosts' ? 'choose at least one host' : `no host has the tag ${tag.trim()}`);
      const state: RunRow[] = targets.map((host) => ({ host, pending: true }));
      setRows([...state]);
      let next = 0;
      const worker = async () => {
        while (next < targets.length) {
          const i = next++;
          const host = targets[i]!;
          let reply: HostReply | undefined;
          let error: string | undefined;
          try {
            reply = (
              await polaris({ hosts: [host], method: 'sync.bash', cmd, user: user.trim() || 'root', timeout: t })
            ).response[0];
          } catch (err) {
            error = errorText(err);
          }
          state[i] = {
            host,
            pending: false,
            ...(reply ? { reply } : {}),
            ...(error !== undefined ? { error } : reply ? {} : { error: 'no answer' }),
          };
          setRows([...state]);
        }
      };
      await Promise.all(Array.from({ length: Math.min(PARALLEL, targets.length) }, worker));
      return runSummary(state);
    }, 'Run failed');
  };

  return (
    <div class="page">
      <h1>Run a command</h1>
      <form class="card form" aria-label="Run a command" onSubmit={submit}>
        <fieldset class="inline">
          <legend>Targets</legend>
          <label>
            <input type="radio" name="target" checked={mode === 'hosts'} onChange={() => setMode('hosts')} /> Chosen
            hosts
          </label>
          <label>
            <input type="radio" name="target" checked={mode === 'tag'} onChange={() => setMode('tag')} /> Hosts with a
            tag
          </label>
        </fieldset>
        {mode === 'hosts' ? (
          <HostPicker label="Hosts" selected={hosts} onChange={setHosts} />
        ) : (
          <TextField label="Tag selector" placeholder="key=value" value={tag} onValue={setTag} />
        )}
        <TextField label="Command" placeholder="uptime; df -h /" size={60} value={cmd} onValue={setCmd} class="mono" />
        <div class="filters">
          <TextField label="Run as user" value={user} onValue={setUser} size={12} />
          <TextField
            label="Timeout (s)"
            type="number"
            min={1}
            max={3600}
            value={timeout}
            onValue={setTimeoutSec}
            size={6}
          />
        </div>
        <button type="submit" disabled={action.busy}>
          {action.busy ? 'Running…' : 'Run'}
        </button>
        <ErrorNote error={action.error} />
        {action.done && <p role="status">{action.done}</p>}
      </form>
      {rows && (
        <section class="card" aria-labelledby="h-run-results">
          <h2 id="h-run-results">Results</h2>
          <div class="scroll-x">
            <DataTable
              labelledBy="h-run-results"
              columns={['Host', 'Result', 'Exit / code', 'Output']}
              rows={rows}
              row={(r) => (
                <tr>
                  <th scope="row">
                    <a href={hostHref(r.host)} class="mono">
                      {r.host}
                    </a>
                  </th>
                  <td>{r.pending ? <StatusBadge word="RUNNING" /> : <StatusBadge word={resultWord(r)} />}</td>
                  <td class="mono">{r.reply ? codeText(r.reply) : '—'}</td>
                  <td>
                    {r.error && <span class="error">{r.error}</span>}
                    {r.reply && <pre class="output">{outputText(r.reply)}</pre>}
                  </td>
                </tr>
              )}
            />
          </div>
        </section>
      )}
    </div>
  );
}

function resultWord(r: RunRow): string {
  return succeeded(r) ? 'SUCCESS' : 'FAILED';
}

/** A command that ran: its exit status; one that did not (refused, timeout, killed): the agent's code. */
function codeText(r: RunReply): string {
  return r.resp === 'success' ? `exit ${r.retcode}` : `0x${r.retcode.toString(16).padStart(4, '0')}`;
}

function outputText(r: RunReply): string {
  const d = r.data;
  const text = typeof d === 'string' ? d : d === undefined || d === null ? r.message : JSON.stringify(d, null, 2);
  return r.truncated ? `${text}\n… (truncated)` : text;
}

/** Every host (AgentSN) carrying the tag, from the server's host list. */
async function tagHosts(tag: string): Promise<string[]> {
  if (!/^[^=,\s]+=[^,]*$/.test(tag)) throw new Error('tag selector: key=value');
  const page = await listHosts({ offset: 0, limit: TAG_MAX, order: 'asc', sortby: 'id', tag });
  return page.hosts.filter((h) => h.status !== 'deleted').map((h) => h.agentsn);
}
