import { useState } from 'preact/hooks';
import { listAudit } from '../api/endpoints.ts';
import { DataTable } from '../components/data-table.tsx';
import { TextField } from '../components/fields.tsx';
import { LocalTime } from '../components/local-time.tsx';
import { ErrorNote } from '../components/notice.tsx';
import { Pager } from '../components/pager.tsx';
import { useDebounced } from '../lib/use-debounced.ts';
import { usePoll } from '../lib/use-poll.ts';

const POLL_MS = 10_000;

/** The audit log (GET /audit, admin tokens): who did what, from where, on which hosts, with what outcome. */
export function Audit() {
  const [filters, setFilters] = useState({ token: '', route: '', agentsn: '' });
  const [paging, setPaging] = useState({ offset: 0, limit: 50 });
  const f = useDebounced(filters, 250);
  const q = {
    ...paging,
    token: f.token.trim() || undefined,
    route: f.route.trim() || undefined,
    agentsn: f.agentsn.trim() || undefined,
  };
  const rows = usePoll((s) => listAudit(q, s), [JSON.stringify(q)], POLL_MS);
  const set = (k: keyof typeof filters) => (v: string) => {
    setFilters({ ...filters, [k]: v });
    setPaging({ ...paging, offset: 0 });
  };
  return (
    <div class="page">
      <h1>Audit log</h1>
      <form class="filters card" role="search" aria-label="Filter the audit log" onSubmit={(e) => e.preventDefault()}>
        <TextField label="Token name" value={filters.token} onValue={set('token')} size={14} />
        <TextField
          label="Route"
          placeholder="/api/v1/server/polaris"
          value={filters.route}
          onValue={set('route')}
          size={22}
        />
        <TextField label="Host (AgentSN)" value={filters.agentsn} onValue={set('agentsn')} size={22} />
      </form>
      <ErrorNote error={rows.error} />
      <div class="card">
        <div class="scroll-x">
          <DataTable
            label="Audit log"
            busy={rows.loading}
            columns={['Time', 'Token', 'Source', 'Request', 'Targets', 'Command', 'As', 'Code', 'Outcome']}
            rows={rows.data?.audit}
            empty="No audit rows match."
            row={(a) => (
              <tr>
                <td>
                  <LocalTime value={a.at} />
                </td>
                <td>{a.token ?? '—'}</td>
                <td class="mono">{a.source}</td>
                <td class="mono">
                  {a.method} {a.route}
                  {a.phase === 'dispatch' && <span class="muted"> (dispatch)</span>}
                </td>
                <td class="small">{a.selector ?? (a.targets === null ? '—' : String(a.targets))}</td>
                <td class="mono small">{a.command ?? '—'}</td>
                <td>{a.run_as ?? '—'}</td>
                <td>{a.code ?? '—'}</td>
                <td class="small">{a.outcome ?? ''}</td>
              </tr>
            )}
          />
        </div>
        <Pager
          label="Audit log"
          offset={paging.offset}
          limit={paging.limit}
          count={rows.data?.count ?? 0}
          onChange={(offset, limit) => setPaging({ offset, limit })}
        />
      </div>
    </div>
  );
}
