import { ApiError } from '../api/errors.ts';
import { getDashboard, getDashboardHistory, listEvents, listTasks } from '../api/endpoints.ts';
import { DataTable } from '../components/data-table.tsx';
import { EventTable } from '../components/event-table.tsx';
import { LineChart } from '../components/line-chart.tsx';
import { LocalTime } from '../components/local-time.tsx';
import { ErrorNote } from '../components/notice.tsx';
import { Stat } from '../components/stat.tsx';
import { formatLocal } from '../lib/time.ts';
import { usePoll } from '../lib/use-poll.ts';

/** Refresh period of the dashboard; the figures themselves are computed by the server periodically. */
const POLL_MS = 5000;

export function Dashboard() {
  // 503 until the server's first statistics run: not an error, just not there yet.
  const stats = usePoll(
    (s) =>
      getDashboard(s).then(
        (r) => r.dashboard,
        (err: unknown) => {
          if (err instanceof ApiError && err.http === 503) return null;
          throw err;
        },
      ),
    [],
    POLL_MS,
  );
  const history = usePoll((s) => getDashboardHistory(s).then((r) => r.samples), [], POLL_MS);
  const tasks = usePoll((s) => listTasks({ offset: 0, limit: 10, status: 'RUNNING' }, s), [], POLL_MS);
  const events = usePoll((s) => listEvents({ offset: 0, limit: 10 }, s), [], POLL_MS);
  const d = stats.data;
  const points = (history.data ?? []).map((h) => ({ t: h.t, v: h.online }));

  return (
    <div class="page">
      <h1>Dashboard</h1>
      <ErrorNote error={stats.error} />
      <div class="stats">
        <Stat label="Hosts total" value={d ? d.hosts.total : null} />
        <Stat label="Hosts online" value={d ? d.hosts.online : null} />
        <Stat label="Hosts offline" value={d ? d.hosts.offline : null} />
        <Stat label="Tasks in flight" value={tasks.data ? tasks.data.count : null} />
      </div>
      {stats.data === null && !stats.loading && !stats.error && (
        <p class="muted small" role="status">
          The server has not computed its statistics yet.
        </p>
      )}
      {d && (
        <p class="muted small">
          Statistics computed at <LocalTime value={d.computedAt} />
        </p>
      )}

      <section class="card" aria-labelledby="h-chart">
        <h2 id="h-chart">Hosts online over time</h2>
        <ErrorNote error={history.error} />
        <LineChart title="Hosts online" points={points} />
      </section>

      <div class="cols">
        <section class="card" aria-labelledby="h-agents">
          <h2 id="h-agents">Agents</h2>
          <DataTable
            labelledBy="h-agents"
            columns={['Agent', 'Deployed', 'Online']}
            rows={d?.agents}
            empty="No agents reported yet."
            row={(a) => (
              <tr>
                <th scope="row">{a.name}</th>
                <td>{a.deployed.toLocaleString()}</td>
                <td>{a.online.toLocaleString()}</td>
              </tr>
            )}
          />
        </section>

        <section class="card" aria-labelledby="h-tasks">
          <h2 id="h-tasks">Tasks in flight</h2>
          <ErrorNote error={tasks.error} />
          <DataTable
            labelledBy="h-tasks"
            columns={['Task', 'Command', 'Done', 'Started']}
            rows={tasks.data?.tasks}
            empty="Nothing running."
            row={(t) => (
              <tr>
                <th scope="row">#{t.id}</th>
                <td>{t.command}</td>
                <td>
                  {t.complete}/{t.count}
                </td>
                <td>{formatLocal(t.gmt_create)}</td>
              </tr>
            )}
          />
        </section>
      </div>

      <section class="card" aria-labelledby="h-events">
        <h2 id="h-events">Recent events</h2>
        <ErrorNote error={events.error} />
        <EventTable events={events.data?.events ?? []} labelledBy="h-events" showHost />
      </section>
    </div>
  );
}
