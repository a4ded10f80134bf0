/** The product tree, host attachments and policies on SQLite (migration 007; ../policy-store.ts). */
import type { PolicyDocument } from '@aspire/protocol';
import type { PolicyScope } from '../../policy/merge.ts';
import { PolicyRefusal } from '../../policy/refusal.ts';
import {
  checkMove,
  checkParent,
  checkSiblingName,
  checkTags,
  nodeMap,
  type TreeNodeRow,
} from '../../policy/tree-rules.ts';
import {
  type HostTags,
  type NodeChange,
  type NodeInput,
  POLICY_SQL,
  type PolicyRow,
  type PolicyStore,
  policyRow,
} from '../policy-store.ts';
import { SqlitePart } from './base.ts';

const CHUNK = 500;

export class SqlitePolicy extends SqlitePart implements PolicyStore {
  async generation(): Promise<number> {
    return Number(this.get<{ value: string }>(POLICY_SQL.generation)?.value ?? 0);
  }

  async bumpGeneration(): Promise<void> {
    this.run(POLICY_SQL.bump);
  }

  private nodes(): TreeNodeRow[] {
    return this.all<TreeNodeRow>(POLICY_SQL.nodes);
  }

  async listNodes(): Promise<TreeNodeRow[]> {
    return this.nodes();
  }

  private node(id: number): TreeNodeRow {
    const n = this.get<TreeNodeRow>(`${POLICY_SQL.nodes.replace(' ORDER BY id', '')} WHERE id = ?`, id);
    if (!n) throw new PolicyRefusal('NOT_FOUND', 'tree_not_found', `node ${id} does not exist`);
    return n;
  }

  async createNode(input: NodeInput, now: number): Promise<TreeNodeRow> {
    return this.tx(() => {
      const nodes = nodeMap(this.nodes());
      checkParent(nodes, input.kind, input.parent);
      checkSiblingName(nodes, input.parent, input.name);
      const tags = checkTags(input.kind, input.tags);
      const { lastId } = this.run(
        'INSERT INTO tree_nodes(kind, name, parent, tags, gmt_create, gmt_modify) VALUES (?, ?, ?, ?, ?, ?)',
        input.kind,
        input.name,
        input.parent,
        tags,
        now,
        now,
      );
      this.run(POLICY_SQL.bump);
      return this.node(lastId);
    });
  }

  async updateNode(id: number, change: NodeChange, now: number): Promise<TreeNodeRow> {
    return this.tx(() => {
      const nodes = nodeMap(this.nodes());
      const node = nodes.get(id);
      if (!node) throw new PolicyRefusal('NOT_FOUND', 'tree_not_found', `node ${id} does not exist`);
      const parent = change.parent === undefined ? node.parent : change.parent;
      if (change.parent !== undefined) checkMove(nodes, id, parent);
      const name = change.name ?? node.name;
      checkSiblingName(nodes, parent, name, id);
      const tags = change.tags === undefined ? node.tags : checkTags(node.kind, change.tags);
      this.run(
        'UPDATE tree_nodes SET name = ?, parent = ?, tags = ?, gmt_modify = ? WHERE id = ?',
        name,
        parent,
        tags,
        now,
        id,
      );
      this.run(POLICY_SQL.bump);
      return this.node(id);
    });
  }

  async deleteNode(id: number): Promise<void> {
    this.tx(() => {
      this.node(id);
      const children = this.get<{ n: number }>('SELECT COUNT(*) AS n FROM tree_nodes WHERE parent = ?', id)!.n;
      const hosts = this.get<{ n: number }>('SELECT COUNT(*) AS n FROM host_components WHERE component = ?', id)!.n;
      if (children > 0 || hosts > 0)
        throw new PolicyRefusal(
          'CONFLICT',
          'tree_not_empty',
          `node ${id} has ${children} child node(s) and ${hosts} attached host(s): move or delete them first`,
        );
      this.run('DELETE FROM policies WHERE scope = ?', `node:${id}`);
      this.run('DELETE FROM tree_nodes WHERE id = ?', id);
      this.run(POLICY_SQL.bump);
    });
  }

  async attachHosts(
    component: number,
    agentsns: readonly string[],
    move: boolean,
    now: number,
  ): Promise<{ attached: number }> {
    return this.tx(() => {
      const node = this.node(component);
      if (node.kind !== 'component')
        throw new PolicyRefusal(
          'BAD_REQUEST',
          'host_not_component',
          `hosts attach to a component, node ${component} is a ${node.kind}`,
        );
      const unique = [...new Set(agentsns)];
      const known = new Set<string>();
      const elsewhere: string[] = [];
      for (let i = 0; i < unique.length; i += CHUNK) {
        const part = unique.slice(i, i + CHUNK);
        const marks = part.map(() => '?').join(',');
        for (const r of this.all<{ agentsn: string }>(
          `SELECT agentsn FROM hosts WHERE status != 'deleted' AND agentsn IN (${marks})`,
          ...part,
        ))
          known.add(r.agentsn);
        for (const r of this.all<{ agentsn: string; component: number }>(
          `SELECT agentsn, component FROM host_components WHERE agentsn IN (${marks}) AND component != ?`,
          ...part,
          component,
        ))
          elsewhere.push(`${r.agentsn} (component ${r.component})`);
      }
      const unknown = unique.filter((a) => !known.has(a));
      if (unknown.length > 0)
        throw new PolicyRefusal('BAD_REQUEST', 'host_unknown', `unknown hosts: ${unknown.slice(0, 100).join(', ')}`);
      if (elsewhere.length > 0 && !move)
        throw new PolicyRefusal(
          'BAD_REQUEST',
          'host_second_component',
          `a host belongs to one component; already attached elsewhere: ${elsewhere.slice(0, 100).join(', ')} (send move: true to move them)`,
        );
      let attached = 0;
      for (const a of unique)
        attached += this.run(
          `INSERT INTO host_components(agentsn, component, gmt_create) VALUES (?, ?, ?)
           ON CONFLICT(agentsn) DO UPDATE SET component = excluded.component, gmt_create = excluded.gmt_create
           WHERE host_components.component != excluded.component`,
          a,
          component,
          now,
        ).changes;
      this.run(POLICY_SQL.bump);
      return { attached };
    });
  }

  async detachHost(component: number, agentsn: string, _now: number): Promise<number> {
    return this.tx(() => {
      this.node(component);
      const { changes } = this.run(
        'DELETE FROM host_components WHERE component = ? AND agentsn = ?',
        component,
        agentsn,
      );
      if (changes > 0) this.run(POLICY_SQL.bump);
      return changes;
    });
  }

  async componentHosts(component: number): Promise<string[]> {
    return this.all<{ agentsn: string }>(
      'SELECT agentsn FROM host_components WHERE component = ? ORDER BY agentsn',
      component,
    ).map((r) => r.agentsn);
  }

  async hostCounts(): Promise<Map<number, number>> {
    return new Map(this.all<{ component: number; n: number }>(POLICY_SQL.hostCounts).map((r) => [r.component, r.n]));
  }

  async explicitComponent(agentsn: string): Promise<number | undefined> {
    return this.get<{ component: number }>('SELECT component FROM host_components WHERE agentsn = ?', agentsn)
      ?.component;
  }

  async hostTags(agentsn: string): Promise<HostTags | undefined> {
    const h = this.get<{ reported_tags: string }>(POLICY_SQL.hostTags, agentsn);
    if (!h) return undefined;
    return {
      reported: h.reported_tags,
      bound: this.all<{ pair: string }>(POLICY_SQL.boundTags, agentsn).map((r) => r.pair),
    };
  }

  async putPolicy(scope: PolicyScope, doc: PolicyDocument, now: number): Promise<PolicyRow> {
    return this.tx(() => {
      if (scope.startsWith('node:')) this.node(Number(scope.slice(5)));
      if (scope.startsWith('host:') && !this.get(POLICY_SQL.hostTags, scope.slice(5)))
        throw new PolicyRefusal('NOT_FOUND', 'host_unknown', `no host ${scope.slice(5)}`);
      this.run(
        `INSERT INTO policies(scope, document, gmt_create, gmt_modify) VALUES (?, ?, ?, ?)
         ON CONFLICT(scope) DO UPDATE SET document = excluded.document, gmt_modify = excluded.gmt_modify`,
        scope,
        JSON.stringify(doc),
        now,
        now,
      );
      this.run(POLICY_SQL.bump);
      return policyRow(
        this.get<{ scope: string; document: string; gmt_create: number; gmt_modify: number }>(
          'SELECT * FROM policies WHERE scope = ?',
          scope,
        )!,
      );
    });
  }

  async getPolicy(scope: PolicyScope): Promise<PolicyRow | undefined> {
    const r = this.get<{ scope: string; document: string; gmt_create: number; gmt_modify: number }>(
      'SELECT * FROM policies WHERE scope = ?',
      scope,
    );
    return r ? policyRow(r) : undefined;
  }

  async deletePolicy(scope: PolicyScope, _now: number): Promise<number> {
    return this.tx(() => {
      const { changes } = this.run('DELETE FROM policies WHERE scope = ?', scope);
      if (changes > 0) this.run(POLICY_SQL.bump);
      return changes;
    });
  }

  async listPolicies(): Promise<PolicyRow[]> {
    return this.all<{ scope: string; document: string; gmt_create: number; gmt_modify: number }>(
      'SELECT * FROM policies ORDER BY scope',
    ).map(policyRow);
  }
}
