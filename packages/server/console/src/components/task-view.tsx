import { useEffect, useState } from 'preact/hooks';
import { getTask, kickTask, retrySubtask, revokeTask, touchSubtask } from '../api/endpoints.ts';
import { type SubtaskAction, subtaskActions, taskSettings, taskSummary } from '../lib/task-text.ts';
import { useAction } from '../lib/use-action.ts';
import { usePoll } from '../lib/use-poll.ts';
import { DataTable } from './data-table.tsx';
import { LocalTime } from './local-time.tsx';
import { ErrorNote } from './notice.tsx';
import { StatusBadge } from './status-badge.tsx';

/** Poll a task while it runs; a finished task is fetched once more and then left alone. */
const FOLLOW_MS = 1000;
const FINAL_TASK = new Set(['COMPLETE', 'REVOKED', 'HALTED', 'FAILED', 'SUCCESS']);
/** Past this many subtasks, list one state at a time (FAILED first) instead of all every second. */
const LIST_ALL_MAX = 500;
const ACTIVE_STATES = ['PENDING', 'DELAYED', 'READY', 'RESERVED'];
const STATE_ORDER = ['PENDING', 'DELAYED', 'READY', 'RESERVED', 'SUCCESS', 'FAILED', 'BURIED', 'REVOKED'];

export function TaskView({ id, onFinished }: { id: number; onFinished?: () => void }) {
  const [done, setDone] = useState(false);
  // undefined: every subtask; a state word: only those (a large task picks FAILED by itself).
  const [only, setOnly] = useState<string | undefined>(undefined);
  const t = usePoll((s) => getTask(id, only, s), [id, only], done ? 0 : FOLLOW_MS);
  const task = t.data?.task;
  const states = t.data?.states ?? {};
  useEffect(() => {
    if (only === undefined && task && task.count > LIST_ALL_MAX) setOnly('FAILED');
  }, [task?.count]);
  const revoker = useAction();
  const revoke = () => {
    revoker.confirmThenRun(
      `Revoke task #${id}? Subtasks not yet handed to an agent stop; those running on a host are told to cancel.`,
      async () => {
        const r = await revokeTask(id);
        t.reload();
        return r.cancelling
          ? `Revoked ${r.revoked} subtask(s); ${r.cancelling} running told to cancel.`
          : `Revoked ${r.revoked} subtask(s).`;
      },
      'Revoke failed',
    );
  };
  // Per-subtask actions (issue 13): revoke, kick (BURIED/DELAYED -> READY), touch (RESERVED: ttr
  // from now), retry (FAILED/BURIED/REVOKED: a fresh attempt).
  const actor = useAction();
  const act = (what: SubtaskAction, subtask: string, agentsn: string) =>
    void actor.run(async () => {
      if (what === 'retry') {
        const r = await retrySubtask(id, subtask);
        // The retried subtask is active again: the view follows it live (see `final`).
        t.reload();
        return `Retried the subtask of ${agentsn}: now ${r.state}.`;
      }
      if (what === 'revoke') {
        const r = await revokeTask(id, subtask);
        t.reload();
        return r.cancelling
          ? `Revoke of ${agentsn} sent: it is running, its host is told to cancel.`
          : `Revoked the subtask of ${agentsn}.`;
      }
      if (what === 'kick') {
        const r = await kickTask(id, subtask);
        t.reload();
        return `Kicked ${r.kicked} subtask(s) of ${agentsn} to READY.`;
      }
      await touchSubtask(id, subtask);
      t.reload();
      return `Touched the subtask of ${agentsn}: its ttr counts from now.`;
    }, `${what} failed`);
  // One note for the last revoke, whichever way it went.
  const revokeNote = revoker.done ?? revoker.error;
  // Finished: a final task status and no subtask still active (a retry in a HALTED task runs one).
  const final = task ? FINAL_TASK.has(task.status) && task.id === id && !ACTIVE_STATES.some((w) => states[w]) : false;
  useEffect(() => {
    setDone(final);
    if (final) onFinished?.();
  }, [final]);
  return (
    <section class="card" aria-labelledby={`h-task-${id}`} aria-live="polite">
      <h2 id={`h-task-${id}`}>
        Task #{id} {task && <StatusBadge word={task.status} />}
      </h2>
      <ErrorNote error={t.error} />
      {task && (
        <p>
          {taskSummary(task)} —{' '}
          <span role="status" aria-label="Task progress">
            {task.complete} of {task.count} complete
          </span>
          {!done && <span class="muted"> (following live)</span>}{' '}
          {!done && (
            <button type="button" class="danger" onClick={revoke} aria-label={`Revoke task ${id}`}>
              Revoke
            </button>
          )}
        </p>
      )}
      {revokeNote && <p role="status">{revokeNote}</p>}
      {task && (
        <p class="muted small" role="note" aria-label={`Rollout settings of task ${id}`}>
          {taskSettings(task).join(' · ')}
          {task.start_at && (
            <>
              {' · starts '}
              <LocalTime value={task.start_at} />
            </>
          )}
        </p>
      )}
      {(actor.done ?? actor.error) && <p role="status">{actor.done ?? actor.error}</p>}
      {task && (
        <div class="row-between">
          <ul class="chips" aria-label={`Subtask states of task ${id}`}>
            {STATE_ORDER.filter((w) => states[w]).map((w) => (
              <li class="chip">
                <StatusBadge word={w} /> {states[w]!.toLocaleString()}
              </li>
            ))}
          </ul>
          <label>
            Show subtasks{' '}
            <select
              value={only ?? ''}
              onChange={(e) => setOnly((e.currentTarget as HTMLSelectElement).value || undefined)}
            >
              <option value="">all{task.count > LIST_ALL_MAX ? ` (${task.count.toLocaleString()})` : ''}</option>
              {STATE_ORDER.map((w) => (
                <option value={w}>
                  {w} ({(states[w] ?? 0).toLocaleString()})
                </option>
              ))}
            </select>
          </label>
        </div>
      )}
      <DataTable
        label={`Subtasks of task ${id}`}
        columns={['AgentSN', 'State', 'Attempts', 'Code', 'Message', 'Updated', 'Actions']}
        rows={t.data?.subtasks}
        row={(s) => (
          <tr>
            <th scope="row" class="mono">
              {s.agentsn}
            </th>
            <td>
              <StatusBadge word={s.state} />
            </td>
            <td>{s.attempts}</td>
            <td class="mono">{s.errcode === null ? '—' : `0x${s.errcode.toString(16).padStart(4, '0')}`}</td>
            <td>{s.message ?? ''}</td>
            <td>
              <LocalTime value={s.gmt_modify} />
            </td>
            <td>
              {subtaskActions(s.state, task?.status).map((a) => (
                <button
                  type="button"
                  class={a === 'revoke' ? 'danger small' : 'small'}
                  disabled={actor.busy}
                  onClick={() => act(a, s.id, s.agentsn)}
                  aria-label={`${a} ${s.agentsn}`}
                >
                  {a}
                </button>
              ))}
            </td>
          </tr>
        )}
      />
    </section>
  );
}
