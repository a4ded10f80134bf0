import { createStore } from './store.ts';

/** The console's tabs, addressed by the URL hash so a reload or a link keeps the tab. */
export const TABS = [
  { id: 'dashboard', label: 'Dashboard' },
  { id: 'hosts', label: 'Hosts' },
  { id: 'versions', label: 'Agent versions' },
  { id: 'tags', label: 'Tags' },
  { id: 'run', label: 'Run' },
  { id: 'tasks', label: 'Tasks' },
  { id: 'policy', label: 'Desired state' },
  { id: 'audit', label: 'Audit' },
] as const;
export type TabId = (typeof TABS)[number]['id'];

function parse(hash: string): TabId {
  const id = hash.replace(/^#\/?/, '').split('/')[0];
  return TABS.find((t) => t.id === id)?.id ?? 'dashboard';
}

/** `#/hosts/<agentsn>`: the host page of that host (under the Hosts tab); null on the list. */
function parseHost(hash: string): string | null {
  const [tab, sn] = hash.replace(/^#\/?/, '').split('/');
  return tab === 'hosts' && sn ? decodeURIComponent(sn) : null;
}

/** `#/tasks/<id>`: that task opened on the Tasks tab; null otherwise. */
function parseTask(hash: string): number | null {
  const [tab, id] = hash.replace(/^#\/?/, '').split('/');
  return tab === 'tasks' && id && /^\d+$/.test(id) ? Number(id) : null;
}

export const currentTab = createStore<TabId>(parse(location.hash));
export const currentHost = createStore<string | null>(parseHost(location.hash));
export const currentTask = createStore<number | null>(parseTask(location.hash));

window.addEventListener('hashchange', () => {
  currentTab.set(parse(location.hash));
  currentHost.set(parseHost(location.hash));
  currentTask.set(parseTask(location.hash));
});

export function goTo(tab: TabId): void {
  if (location.hash !== `#/${tab}`) location.hash = `#/${tab}`;
  currentTab.set(tab);
  currentHost.set(null);
  currentTask.set(null);
}

/** The link to a task on the Tasks tab. */
export function taskHref(id: number): string {
  return `#/tasks/${id}`;
}

/** The link to a host's page. */
export function hostHref(agentsn: string): string {
  return `#/hosts/${encodeURIComponent(agentsn)}`;
}
