import { useState } from 'preact/hooks';
import { deleteHost, listEvents, listRegions, searchHosts, type HostQuery } from '../api/endpoints.ts';
import { errorText } from '../api/errors.ts';
import type { Host } from '../api/types.ts';
import { EventTable } from '../components/event-table.tsx';
import { ErrorNote } from '../components/notice.tsx';
import { Pager } from '../components/pager.tsx';
import { SortHeader, type Sort } from '../components/sort-header.tsx';
import { StatusBadge } from '../components/status-badge.tsx';
import { formatLocal, formatUtc } from '../lib/time.ts';
import { useDebounced } from '../lib/use-debounced.ts';
import { usePoll } from '../lib/use-poll.ts';

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

  const set = (k: keyof Filters) => (e: Event) => {
    setFilters({ ...filters, [k]: (e.currentTarget as HTMLInputElement | HTMLSelectElement).value });
    setPaging({ ...paging, offset: 0 });
  };
  const rows = hosts.data?.hosts ?? [];
  const onSort = (next: Sort) => {
    setSort(next);
    setPaging({ ...paging, offset: 0 });
  };

  return (
    <div class="page">
      <h1>Hosts</h1>
      <form class="filters card" role="search" aria-label="Filter hosts" onSubmit={(e) => e.preventDefault()}>
        <label>
          Search
          <input type="search" placeholder="hostname or AgentSN prefix" size={30} value={filters.search} onInput={set('search')} />
        </label>
        <label>
          Status
          <select value={filters.status} onChange={set('status')}>
            <option value="">any</option>
            {STATUSES.map((s) => (
              <option value={s}>{s}</option>
            ))}
          </select>
        </label>
        <label>
          Region
          <select value={filters.region} onChange={set('region')}>
            <option value="">any</option>
            {(regions.data?.regions ?? []).map((r) => (
              <option value={String(r.id)}>{r.name}</option>
            ))}
          </select>
        </label>
        <label>
          Tag
          <input placeholder="key=value" value={filters.tag} onInput={set('tag')} />
        </label>
        <label>
          OS
          <input value={filters.os} onInput={set('os')} size={8} />
        </label>
        <label>
          Arch
          <select value={filters.arch} onChange={set('arch')}>
            <option value="">any</option>
            <option value="x86_64">x86_64</option>
            <option value="aarch64">aarch64</option>
          </select>
        </label>
        <label>
          Version
          <input value={filters.version} onInput={set('version')} size={8} />
        </label>
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
      <div class="card">
        <table aria-label="Hosts" aria-busy={hosts.loading ? 'true' : 'false'}>
          <thead>
            <tr>
              <th scope="col">
                <span class="sr-only">Details</span>
              </th>
              <SortHeader label="AgentSN" column="agentsn" sort={sort} onSort={onSort} />
              <SortHeader label="Region" column="region" sort={sort} onSort={onSort} />
              <SortHeader label="Hostname" column="hostname" sort={sort} onSort={onSort} />
              <SortHeader label="Management IP" column="ipaddr" sort={sort} onSort={onSort} />
              <SortHeader label="OS" column="os" sort={sort} onSort={onSort} />
              <SortHeader label="Arch" column="arch" sort={sort} onSort={onSort} />
              <SortHeader label="Version" column="version" sort={sort} onSort={onSort} />
              <SortHeader label="Status" column="status" sort={sort} onSort={onSort} />
              <SortHeader label="Last change" column="gmt_modify" sort={sort} onSort={onSort} />
            </tr>
          </thead>
          <tbody>
            {rows.map((h) => (
              <HostRow host={h} open={open === h.agentsn} onToggle={() => setOpen(open === h.agentsn ? null : h.agentsn)} onChanged={hosts.reload} />
            ))}
            {hosts.data && rows.length === 0 && (
              <tr>
                <td colSpan={10} class="muted">
                  No hosts match.
                </td>
              </tr>
            )}
          </tbody>
        </table>
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

function HostRow({ host: h, open, onToggle, onChanged }: { host: Host; open: boolean; onToggle: () => void; onChanged: () => void }) {
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
        <td>{h.hostname}</td>
        <td class="mono">{h.ipaddr ?? '—'}</td>
        <td>{h.os ?? '—'}</td>
        <td>{h.arch ?? '—'}</td>
        <td>{h.curvers ?? '—'}</td>
        <td>
          <StatusBadge word={h.status} />
        </td>
        <td>
          <time title={formatUtc(h.gmt_modify)}>{formatLocal(h.gmt_modify)}</time>
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
  const [note, setNote] = useState<string | null>(null);
  const remove = async () => {
    if (!confirm(`Mark ${h.hostname} (${h.agentsn}) deleted? It comes back if its agent pushes again.`)) return;
    try {
      await deleteHost(h.agentsn);
      setNote(null);
      onChanged();
    } catch (err) {
      setNote(`Delete failed: ${errorText(err)}`);
    }
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
              {h.reported_tags.split(',').filter(Boolean).map((t) => (
                <li class="chip">{t}</li>
              ))}
            </ul>
          </>
        )}
        <p class="muted small">
          Last seen <time title={formatUtc(h.last_seen)}>{formatLocal(h.last_seen)}</time>, registered{' '}
          <time title={formatUtc(h.gmt_create)}>{formatLocal(h.gmt_create)}</time>
        </p>
        {h.status !== 'deleted' && (
          <button type="button" class="danger" onClick={() => void remove()} aria-label={`Mark ${h.hostname} deleted`}>
            Mark deleted
          </button>
        )}
        <ErrorNote error={note} />
      </div>
      <div>
        <h3 id={agentsId}>Agents</h3>
        {h.agents.length === 0 ? (
          <p class="muted">No sub-agents reported.</p>
        ) : (
          <table aria-labelledby={agentsId}>
            <thead>
              <tr>
                <th scope="col">Agent</th>
                <th scope="col">Version</th>
                <th scope="col">Status</th>
                <th scope="col">PID</th>
              </tr>
            </thead>
            <tbody>
              {h.agents.map((a) => (
                <tr>
                  <th scope="row">{a.name}</th>
                  <td>{a.version ?? '—'}</td>
                  <td>
                    <StatusBadge word={a.status} />
                  </td>
                  <td>{a.pid ?? '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
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
