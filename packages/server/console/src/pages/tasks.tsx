import { useState } from 'preact/hooks';
import { findTasks, kickTask, retryTask } from '../api/endpoints.ts';
import type { Task } from '../api/types.ts';
import { DataTable } from '../components/data-table.tsx';
import { TextField } from '../components/fields.tsx';
import { LocalTime } from '../components/local-time.tsx';
import { ErrorNote } from '../components/notice.tsx';
import { Pager } from '../components/pager.tsx';
import { StatusBadge } from '../components/status-badge.tsx';
import { TaskView } from '../components/task-view.tsx';
import { currentTask, goTo, taskHref } from '../lib/route.ts';
import { taskFields } from '../lib/task-fields.ts';
import { taskSummary } from '../lib/task-text.ts';
import { useAction } from '../lib/use-action.ts';
import { useDebounced } from '../lib/use-debounced.ts';
import { usePoll } from '../lib/use-poll.ts';
import { useStore } from '../lib/use-store.ts';

const POLL_MS = 5_000;

/** Every task, newest first, filtered by status and command; one opens with its subtasks and actions. */
export function Tasks() {
  const open = useStore(currentTask);
  const [filters, setFilters] = useState({ status: '', command: '' });
  const [paging, setPaging] = useState({ offset: 0, limit: 20 });
  const f = useDebounced(filters, 250);
  const q = { ...paging, status: f.status.trim() || undefined, command: f.command.trim() || undefined };
  const tasks = usePoll((s) => findTasks(q, s), [JSON.stringify(q)], POLL_MS);
  const set = (k: 'status' | 'command') => (v: string) => {
    setFilters({ ...filters, [k]: v });
    setPaging({ ...paging, offset: 0 });
  };
  return (
    <div class="page">
      <h1>Tasks</h1>
      {open !== null && (
        <OpenTask id={open} task={tasks.data?.tasks.find((t) => t.id === open)} onChanged={tasks.reload} />
      )}
      <form class="filters card" role="search" aria-label="Filter tasks" onSubmit={(e) => e.preventDefault()}>
        <TextField label="Status" placeholder="e.g. RUNNING" value={filters.status} onValue={set('status')} size={12} />
        <TextField
          label="Command"
          placeholder="e.g. install"
          value={filters.command}
          onValue={set('command')}
          size={12}
        />
      </form>
      <ErrorNote error={tasks.error} />
      <div class="card">
        <div class="scroll-x">
          <DataTable
            label="Tasks"
            busy={tasks.loading}
            columns={['Task', 'Command', 'Status', 'Progress', 'Created']}
            rows={tasks.data?.tasks}
            empty="No tasks match."
            row={(t) => (
              <tr class={open === t.id ? 'row-open' : undefined}>
                <th scope="row">
                  <a href={taskHref(t.id)} aria-label={`Open task ${t.id}`}>
                    #{t.id}
                  </a>
                </th>
                <td>{taskSummary(t)}</td>
                <td>
                  <StatusBadge word={t.status} />
                </td>
                <td>
                  {t.complete} / {t.count}
                </td>
                <td>
                  <LocalTime value={t.gmt_create} />
                </td>
              </tr>
            )}
          />
        </div>
        <Pager
          label="Tasks"
          offset={paging.offset}
          limit={paging.limit}
          count={tasks.data?.count ?? 0}
          onChange={(offset, limit) => setPaging({ offset, limit })}
        />
      </div>
    </div>
  );
}

/** The opened task: its fields as the API returns them, Kick, and its subtasks followed live (with Revoke). */
function OpenTask({ id, task, onChanged }: { id: number; task: Task | undefined; onChanged: () => void }) {
  const kicker = useAction();
  const kick = () =>
    void kicker.run(async () => {
      const r = await kickTask(id);
      onChanged();
      return `Kicked ${r.kicked} subtask(s) to READY.`;
    }, 'Kick failed');
  // Issue 13: every FAILED, BURIED and REVOKED subtask runs again; a halted rollout resumes.
  const retry = () =>
    kicker.confirmThenRun(
      `Retry task #${id}? Its failed, buried and revoked subtasks run again (a halted task resumes).`,
      async () => {
        const r = await retryTask(id);
        onChanged();
        return `Retried ${r.retried} subtask(s).`;
      },
      'Retry failed',
    );
  return (
    <>
      <section class="card" aria-label={`Task ${id} details`}>
        <div class="row-between">
          <h2>Task #{id}</h2>
          <span class="buttons">
            <button
              type="button"
              onClick={kick}
              disabled={kicker.busy}
              aria-label={`Kick task ${id}`}
              title="Move BURIED and DELAYED subtasks to READY now (retry)"
            >
              Kick (retry)
            </button>
            {task?.status !== 'REVOKED' && (
              <button
                type="button"
                onClick={retry}
                disabled={kicker.busy}
                aria-label={`Retry task ${id}`}
                title="Run the FAILED, BURIED and REVOKED subtasks again (fresh attempts); a halted task resumes"
              >
                Retry failed
              </button>
            )}
            <button type="button" class="link" onClick={() => goTo('tasks')}>
              Close
            </button>
          </span>
        </div>
        <ErrorNote error={kicker.error} />
        {kicker.done && <p role="status">{kicker.done}</p>}
        {task && (
          <dl class="facts">
            {taskFields(task).map((f) => (
              <div>
                <dt>{f.name}</dt>
                <dd class="mono small">{f.value}</dd>
              </div>
            ))}
          </dl>
        )}
      </section>
      <TaskView key={id} id={id} onFinished={onChanged} />
    </>
  );
}
