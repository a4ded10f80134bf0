import type { ComponentChild } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { getHost, hostTasks, listEvents, polaris, type HostReply } from '../api/endpoints.ts';
import { errorText } from '../api/errors.ts';
import type { Host } from '../api/types.ts';
import { DataTable } from '../components/data-table.tsx';
import { EventTable } from '../components/event-table.tsx';
import { LocalTime } from '../components/local-time.tsx';
import { ErrorNote } from '../components/notice.tsx';
import { StatusBadge } from '../components/status-badge.tsx';
import { INVENTORY_COLLECTORS, inventoryRows, limitsText } from '../lib/inventory.ts';
import { goTo } from '../lib/route.ts';
import { usePoll } from '../lib/use-poll.ts';

const POLL_MS = 10_000;

/**
 * One host: what the server knows (status, sub-agents with their states and limits, recent
 * events, the tasks that touched it) and its inventory, asked live from its BasicAgent through
 * the command hub (getinfo collectors) when the page opens and on "Refresh inventory".
 */
export function HostPage({ agentsn }: { agentsn: string }) {
  const host = usePoll((s) => getHost(agentsn, s), [agentsn], POLL_MS);
  const events = usePoll((s) => listEvents({ offset: 0, limit: 15, agentsn }, s), [agentsn], POLL_MS);
  const tasks = usePoll((s) => hostTasks(agentsn, s), [agentsn], POLL_MS);
  const h = host.data?.host;
  return (
    <div class="page">
      <p>
        <button type="button" class="link" onClick={() => goTo('hosts')}>
          ← All hosts
        </button>{' '}
        · <a href={`#/policy/host/${encodeURIComponent(agentsn)}`}>Desired state of this host</a>
      </p>
      <h1>
        Host {h?.hostname ?? agentsn} {h && <StatusBadge word={h.status} />}
      </h1>
      <ErrorNote error={host.error} />
      {h && <HostFacts host={h} />}
      <div class="cols">
        <section class="card" aria-labelledby="h-subagents">
          <h2 id="h-subagents">Sub-agents</h2>
          {h && h.agents.length === 0 && <p class="muted">No sub-agents reported.</p>}
          {h && h.agents.length > 0 && (
            <div class="scroll-x">
              <DataTable
                labelledBy="h-subagents"
                columns={['Agent', 'Version', 'Status', 'PID', 'Up (s)', 'Strikes', 'Limits']}
                rows={h.agents}
                row={(a) => (
                  <tr>
                    <th scope="row">{a.name}</th>
                    <td>{a.version || '—'}</td>
                    <td>
                      <StatusBadge word={a.status} />
                    </td>
                    <td>{a.pid ?? '—'}</td>
                    <td>{a.uptime}</td>
                    <td>{a.strikes ?? 0}</td>
                    <td class="small">{limitsText((a as { limits?: unknown }).limits)}</td>
                  </tr>
                )}
              />
            </div>
          )}
        </section>
        <section class="card" aria-labelledby="h-host-tasks">
          <h2 id="h-host-tasks">Tasks that touched it</h2>
          <ErrorNote error={tasks.error} />
          <div class="scroll-x">
            <DataTable
              labelledBy="h-host-tasks"
              columns={['Task', 'Command', 'Task status', 'Its subtask', 'Message', 'Updated']}
              rows={tasks.data?.subtasks}
              empty="No task has touched this host."
              row={(s) => (
                <tr>
                  <th scope="row">
                    <a href={`#/tasks/${s.taskid}`}>#{s.taskid}</a>
                  </th>
                  <td>{s.command}</td>
                  <td>
                    <StatusBadge word={s.task_status} />
                  </td>
                  <td>
                    <StatusBadge word={s.state} />
                  </td>
                  <td class="small">{s.message ?? ''}</td>
                  <td>
                    <LocalTime value={s.gmt_modify} />
                  </td>
                </tr>
              )}
            />
          </div>
        </section>
      </div>
      <Inventory agentsn={agentsn} />
      <section class="card" aria-labelledby="h-host-events">
        <h2 id="h-host-events">Recent events</h2>
        <ErrorNote error={events.error} />
        <div class="scroll-x">
          <EventTable events={events.data?.events ?? []} labelledBy="h-host-events" />
        </div>
      </section>
    </div>
  );
}

function HostFacts({ host: h }: { host: Host }) {
  const facts: [string, ComponentChild][] = [
    ['AgentSN', <span class="mono">{h.agentsn}</span>],
    ['Region', h.region_name ?? String(h.region)],
    ['Management IP', <span class="mono">{h.ipaddr ?? '—'}</span>],
    ['OS / arch', `${h.os ?? '—'} / ${h.arch ?? '—'}`],
    ['BootAgent', h.curvers ?? '—'],
    ['Last seen', <LocalTime value={h.last_seen} />],
    ['Tags', h.tags.length ? h.tags.join(', ') : '—'],
  ];
  return (
    <section class="card" aria-label="Host facts">
      <dl class="facts">
        {facts.map(([k, v]) => (
          <div>
            <dt>{k}</dt>
            <dd>{v}</dd>
          </div>
        ))}
      </dl>
    </section>
  );
}

type InventoryState = { at: number; replies: Record<string, HostReply | { error: string }> } | null;

/** The getinfo collectors of the host, asked together; each answer or error shown on its own. */
function Inventory({ agentsn }: { agentsn: string }) {
  const [inv, setInv] = useState<InventoryState>(null);
  const [busy, setBusy] = useState(false);
  const refresh = async () => {
    setBusy(true);
    const replies: Record<string, HostReply | { error: string }> = {};
    await Promise.all(
      INVENTORY_COLLECTORS.map(async (c) => {
        try {
          const r = await polaris({ hosts: [agentsn], method: `getinfo.${c}` });
          replies[c] = r.response[0] ?? { error: 'no answer' };
        } catch (err) {
          replies[c] = { error: errorText(err) };
        }
      }),
    );
    setInv({ at: Date.now(), replies });
    setBusy(false);
  };
  // Asked once when the page opens; then on the button.
  useEffect(() => {
    void refresh();
  }, [agentsn]);
  return (
    <section class="card" aria-labelledby="h-inventory" aria-busy={busy ? 'true' : 'false'}>
      <div class="row-between">
        <h2 id="h-inventory">Inventory</h2>
        <span>
          {inv && (
            <span class="muted small">
              asked <LocalTime value={inv.at} />{' '}
            </span>
          )}
          <button type="button" onClick={() => void refresh()} disabled={busy}>
            {busy ? 'Refreshing…' : 'Refresh inventory'}
          </button>
        </span>
      </div>
      {!inv && <p class="muted">Asking the host's BasicAgent…</p>}
      {inv && (
        <div class="inventory">
          {INVENTORY_COLLECTORS.map((c) => {
            const r = inv.replies[c];
            const id = `inv-${c}`;
            return (
              <div class="inventory-item">
                <h3 id={id}>{c}</h3>
                {!r || 'error' in r ? (
                  <p class="error">{r ? r.error : 'no answer'}</p>
                ) : r.retcode !== 0 ? (
                  <p class="error">
                    {r.message} <span class="mono">(0x{r.retcode.toString(16).padStart(4, '0')})</span>
                  </p>
                ) : (
                  <table aria-labelledby={id} class="kv">
                    <tbody>
                      {inventoryRows(r.data).map((row) => (
                        <tr>
                          <th scope="row">{row.label}</th>
                          <td>{row.value}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                )}
              </div>
            );
          })}
        </div>
      )}
    </section>
  );
}
