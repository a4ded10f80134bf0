import type { HostEvent } from '../api/types.ts';
import { DataTable } from './data-table.tsx';
import { LocalTime } from './local-time.tsx';
import { StatusBadge } from './status-badge.tsx';

/** Events as agents reported them (occurred is unix seconds, shown in local time). */
export function EventTable({
  events,
  labelledBy,
  showHost,
}: {
  events: HostEvent[];
  labelledBy: string;
  showHost?: boolean;
}) {
  if (events.length === 0) return <p class="muted">No events.</p>;
  return (
    <DataTable
      labelledBy={labelledBy}
      columns={showHost ? ['Time', 'AgentSN', 'Kind', 'Agent', 'Message'] : ['Time', 'Kind', 'Agent', 'Message']}
      rows={events}
      row={(e) => (
        <tr>
          <td>
            <LocalTime value={e.occurred * 1000} />
          </td>
          {showHost && <td class="mono">{e.agentsn}</td>}
          <td>
            <StatusBadge word={e.kind} />
          </td>
          <td>{e.agent ?? '—'}</td>
          <td>{e.message}</td>
        </tr>
      )}
    />
  );
}
