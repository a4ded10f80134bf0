import { session, signOut } from './api/session.ts';
import { ConnectionBanner } from './components/connection-banner.tsx';
import { Login } from './components/login.tsx';
import { Dashboard } from './pages/dashboard.tsx';
import { Hosts } from './pages/hosts.tsx';
import { Tags } from './pages/tags.tsx';
import { Versions } from './pages/versions.tsx';
import { Audit } from './pages/audit.tsx';
import { HostPage } from './pages/host-page.tsx';
import { Run } from './pages/run.tsx';
import { Tasks } from './pages/tasks.tsx';
import { Policy } from './pages/policy.tsx';
import { TABS, currentHost, currentTab, goTo, type TabId } from './lib/route.ts';
import { useStore } from './lib/use-store.ts';

export function App() {
  const token = useStore(session);
  return (
    <>
      <ConnectionBanner />
      {token ? <Shell /> : <Login />}
    </>
  );
}

function Shell() {
  const tab = useStore(currentTab);
  const onKey = (ev: KeyboardEvent, i: number) => {
    // Arrow keys move between tabs (WAI-ARIA tabs pattern).
    const d = ev.key === 'ArrowRight' ? 1 : ev.key === 'ArrowLeft' ? -1 : 0;
    if (!d) return;
    const next = TABS[(i + d + TABS.length) % TABS.length]!;
    goTo(next.id);
    document.getElementById(`tab-${next.id}`)?.focus();
  };
  return (
    <div class="shell">
      <header class="topbar">
        <span class="brand">Aspire</span>
        <div role="tablist" aria-label="Console sections" class="tabs">
          {TABS.map((t, i) => (
            <button
              type="button"
              role="tab"
              id={`tab-${t.id}`}
              aria-selected={tab === t.id}
              aria-controls="panel"
              tabIndex={tab === t.id ? 0 : -1}
              class={tab === t.id ? 'tab active' : 'tab'}
              onClick={() => goTo(t.id)}
              onKeyDown={(e) => onKey(e, i)}
            >
              {t.label}
            </button>
          ))}
        </div>
        <button type="button" class="link" onClick={() => signOut()}>
          Log out
        </button>
      </header>
      <main id="panel" role="tabpanel" aria-labelledby={`tab-${tab}`} class="panel">
        <Page tab={tab} />
      </main>
    </div>
  );
}

function Page({ tab }: { tab: TabId }) {
  const host = useStore(currentHost);
  switch (tab) {
    case 'dashboard':
      return <Dashboard />;
    case 'hosts':
      return host ? <HostPage agentsn={host} /> : <Hosts />;
    case 'versions':
      return <Versions />;
    case 'tags':
      return <Tags />;
    case 'run':
      return <Run />;
    case 'tasks':
      return <Tasks />;
    case 'audit':
      return <Audit />;
    case 'policy':
      return <Policy />;
  }
}
