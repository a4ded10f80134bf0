import { useState } from 'preact/hooks';
import { deletePackage, listPackages, listTasks } from '../api/endpoints.ts';
import type { Package } from '../api/types.ts';
import { errorText } from '../api/errors.ts';
import { ErrorNote } from '../components/notice.tsx';
import { Pager } from '../components/pager.tsx';
import { StatusBadge } from '../components/status-badge.tsx';
import { TaskForm } from '../components/task-form.tsx';
import { TaskView } from '../components/task-view.tsx';
import { UploadForm } from '../components/upload-form.tsx';
import { formatLocal, formatUtc } from '../lib/time.ts';
import { usePoll } from '../lib/use-poll.ts';

/** The task body that installs this package by name and version (what "Install" sends). */
export function installCommand(p: Package): string {
  return JSON.stringify({ command: 'install', parameters: { name: p.name, version: p.version } });
}

export function Versions() {
  const [paging, setPaging] = useState({ offset: 0, limit: 20 });
  const [name, setName] = useState('');
  const [chosen, setChosen] = useState<Package | null>(null);
  const [followed, setFollowed] = useState<number | null>(null);
  const [actionError, setActionError] = useState<string | null>(null);
  const pkgs = usePoll(
    (s) => listPackages({ ...paging, order: 'desc', sortby: 'id', name: name.trim() || undefined }, s),
    [paging.offset, paging.limit, name],
  );
  const tasks = usePoll((s) => listTasks({ offset: 0, limit: 10 }, s), [followed], 5000);

  const remove = async (p: Package) => {
    if (!confirm(`Delete ${p.name} ${p.version} (${p.os}/${p.arch})? Hosts that run it keep it.`)) return;
    setActionError(null);
    try {
      await deletePackage(p.id);
      if (chosen?.id === p.id) setChosen(null);
      pkgs.reload();
    } catch (err) {
      setActionError(`Delete failed: ${errorText(err)}`);
    }
  };

  return (
    <div class="page">
      <h1>Agent versions</h1>
      <section class="card" aria-labelledby="h-packages">
        <div class="row-between">
          <h2 id="h-packages">Packages</h2>
          <label>
            Filter by name <input type="search" value={name} onInput={(e) => { setName((e.currentTarget as HTMLInputElement).value); setPaging({ ...paging, offset: 0 }); }} />
          </label>
        </div>
        <ErrorNote error={pkgs.error ?? actionError} />
        <div class="scroll-x">
          <table aria-labelledby="h-packages">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Version</th>
                <th scope="col">OS</th>
                <th scope="col">Arch</th>
                <th scope="col">File path</th>
                <th scope="col">Install command</th>
                <th scope="col">SHA256</th>
                <th scope="col">Uploaded</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {(pkgs.data?.packages ?? []).map((p) => (
                <tr class={chosen?.id === p.id ? 'row-open' : undefined}>
                  <th scope="row">{p.name}</th>
                  <td>{p.version}</td>
                  <td>{p.os}</td>
                  <td>{p.arch}</td>
                  <td class="mono">{p.path}</td>
                  <td>
                    <code class="wrap">{installCommand(p)}</code>
                  </td>
                  <td class="mono hash" title={p.sha256}>
                    {p.sha256}
                  </td>
                  <td>
                    <time title={formatUtc(p.gmt_create)}>{formatLocal(p.gmt_create)}</time>
                  </td>
                  <td class="actions">
                    <button type="button" onClick={() => setChosen(p)} aria-label={`Deploy ${p.name} ${p.version}`}>
                      Deploy
                    </button>
                    <button type="button" class="danger" onClick={() => void remove(p)} aria-label={`Delete ${p.name} ${p.version}`}>
                      Delete
                    </button>
                  </td>
                </tr>
              ))}
              {pkgs.data && pkgs.data.packages.length === 0 && (
                <tr>
                  <td colSpan={9} class="muted">
                    No packages yet: upload one below.
                  </td>
                </tr>
              )}
            </tbody>
          </table>
        </div>
        <Pager label="Packages" offset={paging.offset} limit={paging.limit} count={pkgs.data?.count ?? 0} onChange={(offset, limit) => setPaging({ offset, limit })} />
      </section>

      <div class="cols">
        <UploadForm
          onUploaded={(p) => {
            setChosen(p);
            pkgs.reload();
          }}
        />
        <TaskForm
          pkg={chosen}
          onStarted={(id) => {
            setFollowed(id);
            tasks.reload();
          }}
        />
      </div>

      {followed !== null && <TaskView key={followed} id={followed} onFinished={tasks.reload} />}

      <section class="card" aria-labelledby="h-recent-tasks">
        <h2 id="h-recent-tasks">Recent tasks</h2>
        <ErrorNote error={tasks.error} />
        <table aria-labelledby="h-recent-tasks">
          <thead>
            <tr>
              <th scope="col">Task</th>
              <th scope="col">Command</th>
              <th scope="col">Target</th>
              <th scope="col">Status</th>
              <th scope="col">Done</th>
              <th scope="col">Created</th>
              <th scope="col">
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {(tasks.data?.tasks ?? []).map((t) => (
              <tr>
                <th scope="row">#{t.id}</th>
                <td>
                  {t.command} {typeof t.parameters.name === 'string' ? t.parameters.name : ''}{' '}
                  {typeof t.parameters.version === 'string' ? t.parameters.version : ''}
                </td>
                <td>{t.selector === 'tags' ? `tag ${t.tags ?? ''}` : `${t.count} host(s)`}</td>
                <td>
                  <StatusBadge word={t.status} />
                </td>
                <td>
                  {t.complete}/{t.count}
                </td>
                <td>
                  <time title={formatUtc(t.gmt_create)}>{formatLocal(t.gmt_create)}</time>
                </td>
                <td>
                  <button type="button" onClick={() => setFollowed(t.id)} aria-label={`Follow task ${t.id}`}>
                    Follow
                  </button>
                </td>
              </tr>
            ))}
            {tasks.data && tasks.data.tasks.length === 0 && (
              <tr>
                <td colSpan={7} class="muted">
                  No tasks yet.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </section>
    </div>
  );
}
