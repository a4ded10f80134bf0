import { useState } from 'preact/hooks';
import { searchHosts } from '../api/endpoints.ts';
import { useDebounced } from '../lib/use-debounced.ts';
import { usePoll } from '../lib/use-poll.ts';
import { TextField } from './fields.tsx';

/**
 * Choose hosts by searching (server-side, ten at a time) and ticking them. The chosen AgentSNs
 * are listed with a remove button each, so a choice survives a new search.
 */
export function HostPicker({
  label,
  selected,
  onChange,
}: {
  label: string;
  selected: string[];
  onChange: (agentsns: string[]) => void;
}) {
  const [search, setSearch] = useState('');
  const q = useDebounced(search.trim(), 250);
  const found = usePoll(
    (s) => searchHosts({ offset: 0, limit: 10, order: 'asc', sortby: 'id' }, q || undefined, s),
    [q],
  );
  const toggle = (sn: string, on: boolean) =>
    onChange(on ? [...selected.filter((x) => x !== sn), sn] : selected.filter((x) => x !== sn));
  return (
    <fieldset class="picker">
      <legend>{label}</legend>
      <TextField
        label="Find hosts"
        type="search"
        placeholder="hostname or AgentSN prefix"
        value={search}
        onValue={setSearch}
      />
      <ul class="picker-list" aria-label="Matching hosts">
        {(found.data?.hosts ?? []).map((h) => (
          <li>
            <label>
              <input
                type="checkbox"
                checked={selected.includes(h.agentsn)}
                onChange={(e) => toggle(h.agentsn, (e.currentTarget as HTMLInputElement).checked)}
              />{' '}
              {h.hostname} <span class="mono muted">{h.agentsn}</span> <span class="muted">({h.status})</span>
            </label>
          </li>
        ))}
        {found.data && found.data.hosts.length === 0 && <li class="muted">No hosts match.</li>}
        {found.data && found.data.count > found.data.hosts.length && (
          <li class="muted small">
            {(found.data.count - found.data.hosts.length).toLocaleString()} more: refine the search.
          </li>
        )}
      </ul>
      {selected.length > 0 && (
        <ul class="chips" aria-label="Chosen hosts">
          {selected.map((sn) => (
            <li class="chip">
              <span class="mono">{sn}</span>
              <button type="button" class="icon" aria-label={`Remove ${sn}`} onClick={() => toggle(sn, false)}>
                ×
              </button>
            </li>
          ))}
        </ul>
      )}
    </fieldset>
  );
}
