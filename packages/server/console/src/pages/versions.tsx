import { useState } from 'preact/hooks';
import { deletePackage, listPackages, listTasks } from '../api/endpoints.ts';
import type { Package } from '../api/types.ts';
import { DataTable } from '../components/data-table.tsx';
import { TextField } from '../components/fields.tsx';
import { LocalTime } from '../components/local-time.tsx';
import { ErrorNote } from '../components/notice.tsx';
import { Pager } from '../components/pager.tsx';
import { StatusBadge } from '../components/status-badge.tsx';
import { TaskForm } from '../components/task-form.tsx';
import { TaskView } from '../components/task-view.tsx';
import { UploadForm } from '../components/upload-form.tsx';
import { taskSummary } from '../lib/task-text.ts';
import { useAction } from '../lib/use-action.ts';
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
  const del = useAction();
  const pkgs = usePoll(
    (s) => listPackages({ ...paging, order: 'desc', sortby: 'id', name: name.trim() || undefined }, s),
    [paging.offset, paging.limit, name],
  );
  const tasks = usePoll((s) => listTasks({ offset: 0, limit: 10 }, s), [followed], 5000);

  const remove = (p: Package) => {
    if (!confirm(`Delete ${p.name} ${p.version} (${p.os}/${p.arch})? Hosts that run it keep it.`)) return;
    void del.run(async () => {
      await deletePackage(p.id);
      if (chosen?.id === p.id) setChosen(null);
      pkgs.reload();
    }, 'Delete failed');
  };

  return (
    <div class="page">
      <h1>Agent versions</h1>
      <section class="card" aria-labelledby="h-packages">
        <div class="row-between">
          <h2 id="h-packages">Packages</h2>
          <TextField
            label="Filter by name"
            type="search"
            value={name}
            onValue={(v) => {
              setName(v);
              setPaging({ ...paging, offset: 0 });
            }}
          />
        </div>
        <ErrorNote error={pkgs.error ?? del.error} />
        <div class="scroll-x">
          <DataTable
            labelledBy="h-packages"
            columns={['Name', 'Version', 'OS', 'Arch', 'File path', 'Install command', 'SHA256', 'Uploaded', { hidden: 'Actions' }]}
            rows={pkgs.data?.packages}
            empty="No packages yet: upload one below."
            row={(p) => (
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
                  <LocalTime value={p.gmt_create} />
                </td>
                <td class="actions">
                  <button type="button" onClick={() => setChosen(p)} aria-label={`Deploy ${p.name} ${p.version}`}>
                    Deploy
                  </button>
                  <button type="button" class="danger" onClick={() => remove(p)} aria-label={`Delete ${p.name} ${p.version}`}>
                    Delete
                  </button>
                </td>
              </tr>
            )}
          />
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
        <DataTable
          labelledBy="h-recent-tasks"
          columns={['Task', 'Command', 'Target', 'Status', 'Done', 'Created', { hidden: 'Actions' }]}
          rows={tasks.data?.tasks}
          empty="No tasks yet."
          row={(t) => (
            <tr>
              <th scope="row">#{t.id}</th>
              <td>{taskSummary(t)}</td>
              <td>{t.selector === 'tags' ? `tag ${t.tags ?? ''}` : `${t.count} host(s)`}</td>
              <td>
                <StatusBadge word={t.status} />
              </td>
              <td>
                {t.complete}/{t.count}
              </td>
              <td>
                <LocalTime value={t.gmt_create} />
              </td>
              <td>
                <button type="button" onClick={() => setFollowed(t.id)} aria-label={`Follow task ${t.id}`}>
                  Follow
                </button>
              </td>
            </tr>
          )}
        />
      </section>
    </div>
  );
}
