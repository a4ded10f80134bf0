import { useState } from 'preact/hooks';
import { deleteHost, listEvents, listRegions, searchHosts, type HostQuery } from '../api/endpoints.ts';
import type { Host } from '../api/types.ts';
import { DataTable } from '../components/data-table.tsx';
import { EventTable } from '../components/event-table.tsx';
import { SelectField, TextField } from '../components/fields.tsx';
import { LocalTime } from '../components/local-time.tsx';
import { ErrorNote } from '../components/notice.tsx';
import { Pager } from '../components/pager.tsx';
import { SortHeader, type Sort } from '../components/sort-header.tsx';
import { StatusBadge } from '../components/status-badge.tsx';
import { useAction } from '../lib/use-action.ts';
import { useDebounced } from '../lib/use-debounced.ts';
import { usePoll } from '../lib/use-poll.ts';
import { hostHref } from '../lib/route.ts';

const POLL_MS = 10_000;
const STATUSES = ['online', 'offline', 'registered', 'deleted'];

interface Filters {
  search: string;
  status: string;
  region: string;
  tag: string;
  os: string;
  arch: string;
  version: string;
}

const EMPTY: Filters = { search: '', status: '', region: '', tag: '', os: '', arch: '', version: '' };

/**
 * Hosts, filtered and paged on the server (offset/limit): the browser only ever holds one page,
 * so 100,000 hosts cost the same as 10.
 */
export function Hosts() {
  const [filters, setFilters] = useState<Filters>(EMPTY);
  const [paging, setPaging] = useState({ offset: 0, limit: 50 });
  const [sort, setSort] = useState<Sort>({ sortby: 'id', order: 'asc' });
  const [open, setOpen] = useState<string | null>(null);
  const f = useDebounced(filters, 250);
  const regions = usePoll((s) => listRegions(s), []);

  const query: HostQuery = {
    offset: paging.offset,
    limit: paging.limit,
    order: sort.order,
    sortby: sort.sortby,
    status: f.status || undefined,
    region: f.region === '' ? undefined : Number(f.region),
    tag: f.tag.trim() || undefined,
    os: f.os.trim() || undefined,
    arch: f.arch.trim() || undefined,
    version: f.version.trim() || undefined,
  };
  const search = f.search.trim() || undefined;
  const hosts = usePoll((s) => searchHosts(query, search, s), [JSON.stringify(query), search], POLL_MS);

  const set = (k: keyof Filters) => (value: string) => {
    setFilters({ ...filters, [k]: value });
    setPaging({ ...paging, offset: 0 });
  };
  const onSort = (next: Sort) => {
    setSort(next);
    setPaging({ ...paging, offset: 0 });
  };
  const sortable = (label: string, column: string) => (
    <SortHeader label={label} column={column} sort={sort} onSort={onSort} />
  );

  return (
    <div class="page">
      <h1>Hosts</h1>
      <form class="filters card" role="search" aria-label="Filter hosts" onSubmit={(e) => e.preventDefault()}>
        <TextField
          label="Search"
          type="search"
          placeholder="hostname or AgentSN prefix"
          size={30}
          value={filters.search}
          onValue={set('search')}
        />
        <SelectField label="Status" value={filters.status} onValue={set('status')}>
          <option value="">any</option>
          {STATUSES.map((s) => (
            <option value={s}>{s}</option>
          ))}
        </SelectField>
        <SelectField label="Region" value={filters.region} onValue={set('region')}>
          <option value="">any</option>
          {(regions.data?.regions ?? []).map((r) => (
            <option value={String(r.id)}>{r.name}</option>
          ))}
        </SelectField>
        <TextField label="Tag" placeholder="key=value" value={filters.tag} onValue={set('tag')} />
        <TextField label="OS" value={filters.os} onValue={set('os')} size={8} />
        <SelectField label="Arch" value={filters.arch} onValue={set('arch')}>
          <option value="">any</option>
          <option value="x86_64">x86_64</option>
          <option value="aarch64">aarch64</option>
        </SelectField>
        <TextField label="Version" value={filters.version} onValue={set('version')} size={8} />
        <button
          type="button"
          onClick={() => {
            setFilters(EMPTY);
            setPaging({ ...paging, offset: 0 });
          }}
        >
          Clear filters
        </button>
      </form>
      <ErrorNote error={hosts.error} />
      <div class="card scroll-x hosts-table">
        <DataTable
          label="Hosts"
          busy={hosts.loading}
          columns={[
            { hidden: 'Details' },
            sortable('AgentSN', 'agentsn'),
            sortable('Region', 'region'),
            sortable('Hostname', 'hostname'),
            sortable('Management IP', 'ipaddr'),
            sortable('OS', 'os'),
            sortable('Arch', 'arch'),
            sortable('Version', 'version'),
            sortable('Status', 'status'),
            sortable('Last change', 'gmt_modify'),
          ]}
          rows={hosts.data?.hosts}
          empty="No hosts match."
          row={(h) => (
            <HostRow
              host={h}
              open={open === h.agentsn}
              onToggle={() => setOpen(open === h.agentsn ? null : h.agentsn)}
              onChanged={hosts.reload}
            />
          )}
        />
        <Pager
          label="Hosts"
          offset={paging.offset}
          limit={paging.limit}
          count={hosts.data?.count ?? 0}
          onChange={(offset, limit) => setPaging({ offset, limit })}
        />
      </div>
    </div>
  );
}

function HostRow({
  host: h,
  open,
  onToggle,
  onChanged,
}: {
  host: Host;
  open: boolean;
  onToggle: () => void;
  onChanged: () => void;
}) {
  const detailsId = `host-${h.id}-details`;
  return (
    <>
      <tr class={open ? 'row-open' : undefined}>
        <td>
          <button
            type="button"
            class="icon"
            aria-expanded={open}
            aria-controls={detailsId}
            aria-label={`Details of ${h.hostname}`}
            onClick={onToggle}
          >
            {open ? '▾' : '▸'}
          </button>
        </td>
        <td class="mono">{h.agentsn}</td>
        <td>{h.region_name ?? h.region}</td>
        <td>
          <a href={hostHref(h.agentsn)} aria-label={`Open host ${h.hostname}`}>
            {h.hostname}
          </a>
        </td>
        <td class="mono">{h.ipaddr ?? '—'}</td>
        <td>{h.os ?? '—'}</td>
        <td>{h.arch ?? '—'}</td>
        <td>{h.curvers ?? '—'}</td>
        <td>
          <StatusBadge word={h.status} />
        </td>
        <td>
          <LocalTime value={h.gmt_modify} />
        </td>
      </tr>
      {open && (
        <tr id={detailsId} class="details">
          <td colSpan={10}>
            <HostDetails host={h} onChanged={onChanged} />
          </td>
        </tr>
      )}
    </>
  );
}

function HostDetails({ host: h, onChanged }: { host: Host; onChanged: () => void }) {
  const del = useAction();
  const remove = () => {
    del.confirmThenRun(
      `Mark ${h.hostname} (${h.agentsn}) deleted? It comes back if its agent pushes again.`,
      async () => {
        await deleteHost(h.agentsn);
        onChanged();
      },
      'Delete failed',
    );
  };
  const events = usePoll((s) => listEvents({ offset: 0, limit: 10, agentsn: h.agentsn }, s), [h.agentsn], POLL_MS);
  const agentsId = `host-${h.id}-agents`;
  const eventsId = `host-${h.id}-events`;
  return (
    <div class="host-details" role="region" aria-label={`Host ${h.hostname}`}>
      <div>
        <h3>Tags</h3>
        {h.tags.length === 0 ? (
          <p class="muted">No bound tags.</p>
        ) : (
          <ul class="chips" aria-label={`Tags of ${h.hostname}`}>
            {h.tags.map((t) => (
              <li class="chip">{t}</li>
            ))}
          </ul>
        )}
        {h.reported_tags && (
          <>
            <h3>Reported by the agent</h3>
            <ul class="chips" aria-label={`Tags reported by ${h.hostname}`}>
              {h.reported_tags
                .split(',')
                .filter(Boolean)
                .map((t) => (
                  <li class="chip">{t}</li>
                ))}
            </ul>
          </>
        )}
        <p class="muted small">
          Last seen <LocalTime value={h.last_seen} />, registered <LocalTime value={h.gmt_create} />
        </p>
        {h.status !== 'deleted' && (
          <button type="button" class="danger" onClick={remove} aria-label={`Mark ${h.hostname} deleted`}>
            Mark deleted
          </button>
        )}
        <ErrorNote error={del.error} />
      </div>
      <div>
        <h3 id={agentsId}>Agents</h3>
        {h.agents.length === 0 ? (
          <p class="muted">No sub-agents reported.</p>
        ) : (
          <DataTable
            labelledBy={agentsId}
            columns={['Agent', 'Version', 'Status', 'PID']}
            rows={h.agents}
            row={(a) => (
              <tr>
                <th scope="row">{a.name}</th>
                <td>{a.version ?? '—'}</td>
                <td>
                  <StatusBadge word={a.status} />
                </td>
                <td>{a.pid ?? '—'}</td>
              </tr>
            )}
          />
        )}
      </div>
      <div class="wide">
        <h3 id={eventsId}>Recent events</h3>
        <ErrorNote error={events.error} />
        <EventTable events={events.data?.events ?? []} labelledBy={eventsId} />
      </div>
    </div>
  );
}
