import type { EffectivePolicy } from '../api/policy.ts';
import { DataTable } from './data-table.tsx';
import { LocalTime } from './local-time.tsx';

/** `node:<id>` named by the host's path (product, service, component), else as the server says. */
function originText(eff: EffectivePolicy, o: string | undefined): string {
  if (o === undefined) return '—';
  if (o === 'root') return 'global (root)';
  if (o === 'host') return 'this host';
  const n = eff.path.find((x) => `node:${x.id}` === o);
  return n ? `${n.kind} ${n.name}` : o;
}

/**
 * A host's effective policy (GET /host/:agentsn/policy): where it sits in the tree, each entry
 * with the level it comes from, the hash it last applied and the drift its agents repaired.
 */
export function EffectivePolicyView({ eff }: { eff: EffectivePolicy }) {
  const where =
    eff.component.component === null
      ? 'no component (root and host policies only)'
      : `${eff.path.map((n) => n.name).join(' › ')} (${eff.component.by === 'tag' ? 'by tag' : 'attached'})`;
  return (
    <div class="effective">
      <dl class="facts kv">
        <dt>Component</dt>
        <dd>
          {where}
          {eff.component.alsoMatched.length > 0 && (
            <span class="muted"> — tags also match node(s) {eff.component.alsoMatched.join(', ')}</span>
          )}
        </dd>
        <dt>Policy hash</dt>
        <dd class="mono small" data-testid="policy-hash">
          {eff.hash}
        </dd>
        <dt>Applied</dt>
        <dd data-testid="policy-applied">
          {eff.applied ? (
            <>
              <span class={eff.in_sync ? 'badge badge-ok' : 'badge badge-warn'}>
                {eff.in_sync ? 'in sync' : 'behind'}
              </span>{' '}
              <span class="mono small">{eff.applied.hash ?? '?'}</span> at{' '}
              <LocalTime value={eff.applied.occurred * 1000} />
            </>
          ) : (
            <span class="badge badge-warn">never reported</span>
          )}
        </dd>
        {eff.failed && (
          <>
            <dt>Last failure</dt>
            <dd data-testid="policy-failed">
              <span class="badge badge-bad">failed</span> {eff.failed.message} at{' '}
              <LocalTime value={eff.failed.occurred * 1000} />
            </dd>
          </>
        )}
      </dl>
      <h3 id="h-eff-subagents">Sub-agents</h3>
      <DataTable
        labelledBy="h-eff-subagents"
        columns={['Name', 'Version', 'Limits', 'Source', 'From']}
        rows={eff.subagents}
        empty="No sub-agent required."
        row={(s) => (
          <tr>
            <th scope="row">{s.name}</th>
            <td>{s.version}</td>
            <td class="mono small">{Object.keys(s.limits).length ? JSON.stringify(s.limits) : '—'}</td>
            <td class="mono small">{typeof s.run.url === 'string' ? s.run.url : 'registered package'}</td>
            <td>{originText(eff, eff.origin[s.name])}</td>
          </tr>
        )}
      />
      <h3 id="h-eff-periodic">Managed periodic tasks</h3>
      <DataTable
        labelledBy="h-eff-periodic"
        columns={['Name', 'Crontab line', 'From']}
        rows={eff.periodic}
        empty="No managed periodic task."
        row={(t) => (
          <tr>
            <th scope="row">{t.name}</th>
            <td class="mono small">
              {t.schedule} {t.user} {t.command}
            </td>
            <td>{originText(eff, eff.origin[t.name])}</td>
          </tr>
        )}
      />
      <h3 id="h-eff-drift">Drift repaired</h3>
      <DataTable
        labelledBy="h-eff-drift"
        columns={['Time', 'Repaired', 'Policy hash']}
        rows={eff.drift}
        empty="No drift reported."
        row={(e) => {
          const d = (e.data ?? {}) as {
            hash?: string;
            repaired?: { kind: string; name: string; was: unknown; now: unknown }[];
          };
          return (
            <tr>
              <td>
                <LocalTime value={e.occurred * 1000} />
              </td>
              <td class="small">
                {(d.repaired ?? []).map((r) => (
                  <div key={`${r.kind}:${r.name}`}>
                    {r.kind} <b>{r.name}</b>: <span class="mono">{JSON.stringify(r.was)}</span> →{' '}
                    <span class="mono">{JSON.stringify(r.now)}</span>
                  </div>
                ))}
                {(d.repaired ?? []).length === 0 && e.message}
              </td>
              <td class="mono small">{d.hash?.slice(0, 12) ?? '—'}</td>
            </tr>
          );
        }}
      />
    </div>
  );
}
