import { createStore } from './store.ts';

/** The console's tabs, addressed by the URL hash so a reload or a link keeps the tab. */
export const TABS = [
  { id: 'dashboard', label: 'Dashboard' },
  { id: 'hosts', label: 'Hosts' },
  { id: 'versions', label: 'Agent versions' },
  { id: 'tags', label: 'Tags' },
] as const;
export type TabId = (typeof TABS)[number]['id'];

function parse(hash: string): TabId {
  const id = hash.replace(/^#\/?/, '').split('/')[0];
  return TABS.find((t) => t.id === id)?.id ?? 'dashboard';
}

export const currentTab = createStore<TabId>(parse(location.hash));

window.addEventListener('hashchange', () => currentTab.set(parse(location.hash)));

export function goTo(tab: TabId): void {
  if (location.hash !== `#/${tab}`) location.hash = `#/${tab}`;
  currentTab.set(tab);
}
