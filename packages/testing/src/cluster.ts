/**
 * Cluster tests: wait until a node's placement view (GET /cluster/nodes `placement`) holds every
 * connected agent as of heartbeat rows written after the last one connected.
 */
import type { AspireHandle } from './aspire-server.ts';
import { waitUntil } from './child.ts';

interface NodesBody {
  nodes: { agents: number }[];
  placement: { agents: number; asOf: number }[];
}

const count = (v: { agents: number }[]) => v.reduce((a, n) => a + n.agents, 0);

/**
 * Before the next agent connects to `node`, so that it is placed by what is really connected:
 * the view counts an agent this node redirected until this node's next heartbeat, and a row the
 * target wrote before the agent arrived shows it without that agent. So: wait until `agents`
 * are connected across the cluster (their presence rows), then until each of the `nodes` rows of
 * `node`'s view was written after that and they count the same.
 */
export async function waitUntilPlacementCounts(
  node: AspireHandle,
  agents: number,
  nodes: number,
  timeoutMs = 30_000,
): Promise<void> {
  const view = async () => {
    const r = await node.api('GET', '/api/v1/server/cluster/nodes');
    if (r.status !== 200) throw new Error(`GET /cluster/nodes: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body as NodesBody;
  };
  await waitUntil(async () => count((await view()).nodes) === agents || undefined, {
    timeoutMs,
    what: `${agents} agents connected`,
  });
  const landed = Date.now();
  await waitUntil(
    async () => {
      const { placement } = await view();
      return (
        (placement.length === nodes && placement.every((n) => n.asOf > landed) && count(placement) === agents) ||
        undefined
      );
    },
    { timeoutMs, what: `the placement view counts ${agents} agents from rows written since` },
  );
}
