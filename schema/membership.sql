-- The engine's member counts, in the store's file but owned by lineage.membership (created by
-- engine.prepare where the store is writable; a read-only store goes without and counts).
-- How many examples a dataset version holds, per source repository (`repos[i]` has
-- `counts[i]`), as of seq `computed_at`, unchanged since seq `changed_at`: a gate counts the
-- clean examples from here instead of listing ten million members (lineage.membership).
CREATE TABLE IF NOT EXISTS member_counts (
    dv           BIGINT NOT NULL,
    computed_at  BIGINT NOT NULL,
    changed_at   BIGINT NOT NULL,
    repos        VARCHAR[] NOT NULL,
    counts       BIGINT[] NOT NULL
);
