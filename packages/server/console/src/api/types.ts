/**
 * Shapes of the operator API answers the console reads (packages/server routes; seed 000
 * REST-API). Times are UTC unix milliseconds unless named otherwise.
 */
export interface PageOf {
  count: number;
  offset: number;
  limit: number;
}

export interface AgentReport {
  name: string;
  version?: string;
  status?: string;
  pid?: number;
  [k: string]: unknown;
}

export interface Host {
  id: number;
  agentsn: string;
  hostname: string;
  ipaddr: string | null;
  region: number;
  region_name: string | null;
  status: string;
  os: string | null;
  arch: string | null;
  curvers: string | null;
  agents: AgentReport[];
  /** Bound tags, k=v */
  tags: string[];
  /** Tags the agent reports itself, "k=v,k2=v2" */
  reported_tags: string;
  last_seen: number | null;
  gmt_create: number;
  gmt_modify: number;
}

export interface HostEvent {
  id: number;
  agentsn: string;
  /** unix seconds, as the agent reported it */
  occurred: number;
  kind: string;
  agent: string | null;
  message: string;
}

export interface Package {
  id: number;
  name: string;
  version: string;
  os: string;
  arch: string;
  file: string;
  path: string;
  size: number;
  sha256: string;
  gmt_create: number;
  gmt_modify: number;
}

export interface Tag {
  id: number;
  name: string;
  value: string;
  hosts: number;
  gmt_create: number;
  gmt_modify: number;
}

export interface Region {
  id: number;
  name: string;
  hosts: number;
}

export interface Task {
  id: number;
  command: string;
  parameters: Record<string, unknown>;
  status: string;
  selector: 'agents' | 'tags';
  tags: string | null;
  count: number;
  complete: number;
  gmt_create: number;
  gmt_modify: number;
}

export interface Subtask {
  id: string;
  taskid: number;
  agentsn: string;
  state: string;
  attempts: number;
  errcode: number | null;
  message: string | null;
  gmt_modify: number;
}

export interface DashboardStats {
  hosts: { total: number; online: number; offline: number; registered?: number };
  agents: { name: string; deployed: number; online: number }[];
  computedAt: number;
}

export interface StatsSample {
  t: number;
  online: number;
  total: number;
}
