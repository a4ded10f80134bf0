import { useState } from 'preact/hooks';
import { createTask, listTags } from '../api/endpoints.ts';
import type { Package } from '../api/types.ts';
import { useAction } from '../lib/use-action.ts';
import { usePoll } from '../lib/use-poll.ts';
import { SelectField, TextField } from './fields.tsx';
import { HostPicker } from './host-picker.tsx';
import { ErrorNote } from './notice.tsx';

/**
 * Start an install or upgrade of the chosen package on chosen hosts (one subtask per host) or
 * on every host with a tag (a tag task, valid for a time window).
 */
export function TaskForm({ pkg, onStarted }: { pkg: Package | null; onStarted: (taskId: number) => void }) {
  const [command, setCommand] = useState<'install' | 'upgrade'>('install');
  const [target, setTarget] = useState<'hosts' | 'tag'>('hosts');
  const [hosts, setHosts] = useState<string[]>([]);
  const [tag, setTag] = useState('');
  const [batch, setBatch] = useState('');
  const start = useAction();
  const tags = usePoll((s) => listTags({ offset: 0, limit: 200, order: 'asc', sortby: 'name' }, s), [target]);

  const submit = (e: Event) => {
    e.preventDefault();
    if (!pkg) return start.fail('Choose a package first (Deploy on its row, or upload one).');
    if (target === 'hosts' && hosts.length === 0) return start.fail('Choose at least one host.');
    if (target === 'tag' && !tag) return start.fail('Choose a tag.');
    const b = batch.trim() === '' ? undefined : Number(batch);
    if (b !== undefined && (!Number.isInteger(b) || b < 1))
      return start.fail('Batch size must be a whole number of at least 1.');
    void start.run(async () => {
      const res = await createTask({
        command,
        ...(target === 'hosts' ? { agents: hosts } : { tags: tag }),
        parameters: { name: pkg.name, version: pkg.version },
        ...(b !== undefined ? { batch: b } : {}),
      });
      onStarted(res.id);
    }, 'Could not start the task');
  };

  return (
    <form class="card form" onSubmit={submit} aria-labelledby="h-task">
      <h2 id="h-task">Install or upgrade</h2>
      <p>
        Package:{' '}
        {pkg ? (
          <strong>
            {pkg.name} {pkg.version} ({pkg.os}/{pkg.arch})
          </strong>
        ) : (
          <span class="muted">none chosen (Deploy on a package row)</span>
        )}
      </p>
      <fieldset class="inline">
        <legend>Command</legend>
        <label>
          <input type="radio" name="command" checked={command === 'install'} onChange={() => setCommand('install')} />{' '}
          install
        </label>
        <label>
          <input type="radio" name="command" checked={command === 'upgrade'} onChange={() => setCommand('upgrade')} />{' '}
          upgrade
        </label>
      </fieldset>
      <fieldset class="inline">
        <legend>Target</legend>
        <label>
          <input type="radio" name="target" checked={target === 'hosts'} onChange={() => setTarget('hosts')} /> chosen
          hosts
        </label>
        <label>
          <input type="radio" name="target" checked={target === 'tag'} onChange={() => setTarget('tag')} /> hosts with a
          tag
        </label>
      </fieldset>
      {target === 'hosts' ? (
        <HostPicker label="Hosts" selected={hosts} onChange={setHosts} />
      ) : (
        <>
          <SelectField label="Tag" value={tag} onValue={setTag}>
            <option value="">choose…</option>
            {(tags.data?.tags ?? []).map((t) => (
              <option value={`${t.name}=${t.value}`}>
                {t.name}={t.value} ({t.hosts} {t.hosts === 1 ? 'host' : 'hosts'})
              </option>
            ))}
          </SelectField>
          <p class="muted small">Hosts with this tag get the job once, for 24 h (the server's default window).</p>
        </>
      )}
      <TextField label="Batch size (optional)" inputMode="numeric" value={batch} onValue={setBatch} size={6} />
      <ErrorNote error={start.error} />
      <button type="submit" disabled={start.busy}>
        {start.busy ? 'Starting…' : 'Start task'}
      </button>
    </form>
  );
}
