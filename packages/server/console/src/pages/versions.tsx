import { useState } from 'preact/hooks';
import { deletePackage, listPackages, listTasks } from '../api/endpoints.ts';
import type { Package } from '../api/types.ts';
import { DataTable } from '../components/data-table.tsx';
import { ListCard } from '../components/list-card.tsx';
import { LocalTime } from '../components/local-time.tsx';
import { ErrorNote } from '../components/notice.tsx';
import { StatusBadge } from '../components/status-badge.tsx';
import { TaskForm } from '../components/task-form.tsx';
import { TaskView } from '../components/task-view.tsx';
import { UploadForm } from '../components/upload-form.tsx';
import { taskSummary } from '../lib/task-text.ts';
import { useAction } from '../lib/use-action.ts';
import { useListView } from '../lib/use-list-view.ts';
import { usePoll } from '../lib/use-poll.ts';

/** The task body that installs this package by name and version (what "Install" sends). */
export function installCommand(p: Package): string {
  return JSON.stringify({ command: 'install', parameters: { name: p.name, version: p.version } });
}

export function Versions() {
  const view = useListView(20);
  const [chosen, setChosen] = useState<Package | null>(null);
  const [followed, setFollowed] = useState<number | null>(null);
  const del = useAction();
  const pkgs = usePoll(
    (s) =>
      listPackages(
        { offset: view.offset, limit: view.limit, order: 'desc', sortby: 'id', name: view.filter.trim() || undefined },
        s,
      ),
    [view.offset, view.limit, view.filter],
  );
  const tasks = usePoll((s) => listTasks({ offset: 0, limit: 10 }, s), [followed], 5000);

  const remove = (p: Package) => {
    del.confirmThenRun(
      `Delete ${p.name} ${p.version} (${p.os}/${p.arch})? Hosts that run it keep it.`,
      async () => {
        await deletePackage(p.id);
        if (chosen?.id === p.id) setChosen(null);
        pkgs.reload();
      },
      'Delete failed',
    );
  };

  return (
    <div class="page">
      <h1>Agent versions</h1>
      <ListCard
        headingId="h-packages"
        title="Packages"
        filterLabel="Filter by name"
        view={view}
        count={pkgs.data?.count ?? 0}
        error={pkgs.error ?? del.error}
      >
        <div class="scroll-x">
          <DataTable
            labelledBy="h-packages"
            columns={[
              'Name',
              'Version',
              'OS',
              'Arch',
              'File path',
              'Install command',
              'SHA256',
              'Uploaded',
              { hidden: 'Actions' },
            ]}
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
                  <button
                    type="button"
                    class="danger"
                    onClick={() => remove(p)}
                    aria-label={`Delete ${p.name} ${p.version}`}
                  >
                    Delete
                  </button>
                </td>
              </tr>
            )}
          />
        </div>
      </ListCard>

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
