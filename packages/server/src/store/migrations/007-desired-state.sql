-- Desired state along a product tree (docs/lifecycle.md "Desired state"): product > service >
-- component nodes, hosts attached to a component explicitly, policies at the root, a node or a
-- host. A component's `tags` ('k=v,...') attaches the hosts whose tags hold every pair.
CREATE TABLE tree_nodes (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  kind       TEXT NOT NULL CHECK (kind IN ('product', 'service', 'component')),
  name       TEXT NOT NULL,
  parent     INTEGER REFERENCES tree_nodes(id),
  tags       TEXT,
  gmt_create INTEGER NOT NULL,
  gmt_modify INTEGER NOT NULL
);
-- Names are unique among siblings (products: among products).
CREATE UNIQUE INDEX idx_tree_nodes_sibling ON tree_nodes(COALESCE(parent, 0), name);

-- At most one explicit component per host (the primary key).
CREATE TABLE host_components (
  agentsn    TEXT PRIMARY KEY,
  component  INTEGER NOT NULL REFERENCES tree_nodes(id),
  gmt_create INTEGER NOT NULL
);
CREATE INDEX idx_host_components_component ON host_components(component);

-- One policy document per level: scope 'root', 'node:<id>' or 'host:<agentsn>'.
CREATE TABLE policies (
  scope      TEXT PRIMARY KEY,
  document   TEXT NOT NULL,
  gmt_create INTEGER NOT NULL,
  gmt_modify INTEGER NOT NULL
);

-- Bumped by every change of the tree, the attachments or a policy: a server caching effective
-- policies re-reads them when it moved (several nodes share it through the database).
INSERT INTO meta(key, value) VALUES ('policy_generation', '0');
