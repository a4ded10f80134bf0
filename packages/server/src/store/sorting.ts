/**
 * The columns each list may be sorted by: the design's `sortby` is looked up here and the SQL
 * text comes from this table, never from the request. Unknown names are rejected at the route.
 */
export const SORTABLE = {
  hosts: {
    id: 'h.id',
    agentsn: 'h.agentsn',
    hostname: 'h.hostname',
    ipaddr: 'h.ipaddr',
    status: 'h.status',
    region: 'h.region',
    os: 'h.os',
    arch: 'h.arch',
    version: 'h.curvers',
    last_seen: 'h.last_seen',
    gmt_create: 'h.gmt_create',
    gmt_modify: 'h.gmt_modify',
  },
  packages: {
    id: 'id',
    name: 'name',
    version: 'version',
    os: 'os',
    arch: 'arch',
    file: 'file',
    size: 'size',
    gmt_create: 'gmt_create',
    gmt_modify: 'gmt_modify',
  },
  tasks: {
    id: 'id',
    command: 'command',
    status: 'status',
    count: 'count',
    complete: 'complete',
    gmt_create: 'gmt_create',
    gmt_modify: 'gmt_modify',
  },
  tags: {
    id: 't.id',
    name: 't.name',
    value: 't.value',
    hosts: 'hosts',
    gmt_create: 't.gmt_create',
    gmt_modify: 't.gmt_modify',
  },
  regions: { id: 'r.id', name: 'r.name', hosts: 'hosts', gmt_create: 'r.gmt_create', gmt_modify: 'r.gmt_modify' },
  events: { id: 'id', occurred: 'occurred', agentsn: 'agentsn', kind: 'kind', gmt_create: 'gmt_create' },
  audit: { id: 'id', at: 'at', token: 'token', route: 'route', code: 'code' },
} as const satisfies Record<string, Record<string, string>>;

export type Sortable = keyof typeof SORTABLE;

export function sortColumn(resource: Sortable, key: string): string {
  const table: Record<string, string> = SORTABLE[resource];
  const col = table[key];
  // Defence in depth: the route has already rejected unknown names.
  if (!col) throw new Error(`sortby ${JSON.stringify(key)} is not a column of ${resource}`);
  return col;
}
