-- The engine's tables, in the store's file but owned by lineage.engine (which creates them,
-- idempotently, before it computes a run): the store never reads or writes them.

-- Materialized taint, one computation per (policy hash, as-of seq).
CREATE TABLE IF NOT EXISTS taint_runs (
    run          BIGINT PRIMARY KEY,
    policy_hash  VARCHAR NOT NULL,
    waivers      VARCHAR NOT NULL,  -- the waivers active at the as-of time
    as_of        BIGINT NOT NULL,
    computed_at  TIMESTAMPTZ NOT NULL
);

-- (node, root) pairs: `root` is a restricted output or session that reaches `node`; `pred` is
-- the previous node of one shortest path, and edge_kind, span and edge_seq the edge from it;
-- `blocked_by` names the waiver that stopped it (NULL for real taint). mode 'strict' covers
-- every node, 'precise' covers examples.
CREATE TABLE IF NOT EXISTS taint (
    run          BIGINT NOT NULL,
    mode         VARCHAR NOT NULL,
    node         BIGINT NOT NULL,
    root         BIGINT NOT NULL,
    pred         BIGINT,
    depth        INTEGER NOT NULL,
    blocked_by   BIGINT,
    edge_kind    VARCHAR,
    span_start   BIGINT,
    span_end     BIGINT,
    span_unit    VARCHAR,
    edge_seq     BIGINT
);
-- Stores made before taint rows kept their edge: runs are recomputed, so no data moves.
ALTER TABLE taint ADD COLUMN IF NOT EXISTS edge_kind VARCHAR;
ALTER TABLE taint ADD COLUMN IF NOT EXISTS span_start BIGINT;
ALTER TABLE taint ADD COLUMN IF NOT EXISTS span_end BIGINT;
ALTER TABLE taint ADD COLUMN IF NOT EXISTS span_unit VARCHAR;
ALTER TABLE taint ADD COLUMN IF NOT EXISTS edge_seq BIGINT;

-- The runs whose taint and incomplete rows make up a run: itself, and the runs it extended,
-- whose rows it reads as its own rather than copying them (engine._inherit).
CREATE TABLE IF NOT EXISTS taint_parts (
    run          BIGINT NOT NULL,
    part         BIGINT NOT NULL
);

-- Nodes whose lineage is incomplete: `missing` is a never-ingested ancestor.
CREATE TABLE IF NOT EXISTS incomplete (
    run          BIGINT NOT NULL,
    node         BIGINT NOT NULL,
    missing      BIGINT NOT NULL
);
