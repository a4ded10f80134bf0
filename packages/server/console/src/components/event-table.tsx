import type { HostEvent } from '../api/types.ts';
import { StatusBadge } from './status-badge.tsx';
import { formatLocal, formatUtc } from '../lib/time.ts';

/** Events as agents reported them (occurred is unix seconds, shown in local time). */
export function EventTable({ events, labelledBy, showHost }: { events: HostEvent[]; labelledBy: string; showHost?: boolean }) {
  if (events.length === 0) return <p class="muted">No events.</p>;
  return (
    <table aria-labelledby={labelledBy}>
      <thead>
        <tr>
          <th scope="col">Time</th>
          {showHost && <th scope="col">AgentSN</th>}
          <th scope="col">Kind</th>
          <th scope="col">Agent</th>
          <th scope="col">Message</th>
        </tr>
      </thead>
      <tbody>
        {events.map((e) => (
          <tr>
            <td>
              <time title={formatUtc(e.occurred * 1000)}>{formatLocal(e.occurred * 1000)}</time>
            </td>
            {showHost && <td class="mono">{e.agentsn}</td>}
            <td>
              <StatusBadge word={e.kind} />
            </td>
            <td>{e.agent ?? '—'}</td>
            <td>{e.message}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
