import { useState } from 'preact/hooks';
import { createTask, listTags } from '../api/endpoints.ts';
import type { Package } from '../api/types.ts';
import { errorText } from '../api/errors.ts';
import { usePoll } from '../lib/use-poll.ts';
import { HostPicker } from './host-picker.tsx';

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
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const tags = usePoll((s) => listTags({ offset: 0, limit: 200, order: 'asc', sortby: 'name' }, s), [target]);

  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    if (!pkg) return setError('Choose a package first (Deploy on its row, or upload one).');
    if (target === 'hosts' && hosts.length === 0) return setError('Choose at least one host.');
    if (target === 'tag' && !tag) return setError('Choose a tag.');
    const b = batch.trim() === '' ? undefined : Number(batch);
    if (b !== undefined && (!Number.isInteger(b) || b < 1)) return setError('Batch size must be a whole number of at least 1.');
    setBusy(true);
    try {
      const res = await createTask({
        command,
        ...(target === 'hosts' ? { agents: hosts } : { tags: tag }),
        parameters: { name: pkg.name, version: pkg.version },
        ...(b !== undefined ? { batch: b } : {}),
      });
      onStarted(res.id);
    } catch (err) {
      setError(`Could not start the task: ${errorText(err)}`);
    } finally {
      setBusy(false);
    }
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
          <input type="radio" name="command" checked={command === 'install'} onChange={() => setCommand('install')} /> install
        </label>
        <label>
          <input type="radio" name="command" checked={command === 'upgrade'} onChange={() => setCommand('upgrade')} /> upgrade
        </label>
      </fieldset>
      <fieldset class="inline">
        <legend>Target</legend>
        <label>
          <input type="radio" name="target" checked={target === 'hosts'} onChange={() => setTarget('hosts')} /> chosen hosts
        </label>
        <label>
          <input type="radio" name="target" checked={target === 'tag'} onChange={() => setTarget('tag')} /> hosts with a tag
        </label>
      </fieldset>
      {target === 'hosts' ? (
        <HostPicker label="Hosts" selected={hosts} onChange={setHosts} />
      ) : (
        <>
          <label>
          Tag
          <select value={tag} onChange={(e) => setTag((e.currentTarget as HTMLSelectElement).value)}>
            <option value="">choose…</option>
            {(tags.data?.tags ?? []).map((t) => (
              <option value={`${t.name}=${t.value}`}>
                {t.name}={t.value} ({t.hosts} {t.hosts === 1 ? 'host' : 'hosts'})
              </option>
            ))}
          </select>
          </label>
          <p class="muted small">Hosts with this tag get the job once, for 24 h (the server's default window).</p>
        </>
      )}
      <label>
        Batch size (optional)
        <input inputMode="numeric" value={batch} onInput={(e) => setBatch((e.currentTarget as HTMLInputElement).value)} size={6} />
      </label>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <button type="submit" disabled={busy}>
        {busy ? 'Starting…' : 'Start task'}
      </button>
    </form>
  );
}
