-- The four source tables of the daily report, exactly as the call platform replicates them
-- (the real ones have more columns). Used by the integration tests, which split this file on
-- semicolons, and by the demo (`generate.sql`). Production is read-only: the handler never
-- creates them.

CREATE TABLE public_runs (id String, timestamp DateTime64(3, 'UTC'))
  ENGINE = MergeTree ORDER BY (timestamp, id);

CREATE TABLE public_sessions (id String, run_id String, org_id String,
  user_number String,
  duration Float64)
  ENGINE = MergeTree ORDER BY (org_id, run_id);

CREATE TABLE public_node_outputs (id String, run_id String, node_persistent_id String,
  flat_data String,
  timestamp DateTime64(3, 'UTC'))
  ENGINE = MergeTree ORDER BY (node_persistent_id, run_id);

CREATE TABLE public_nodes (id String, persistent_id String, org_id String, name String)
  ENGINE = MergeTree ORDER BY persistent_id;
