-- The lineage store: an append-only event log and the provenance graph derived from it.
-- Every fact row carries the `seq` of the event that asserted it, so any query can be
-- answered "as of" a past point of the log.

-- Facts about the store itself: `hash_scheme`, how event and batch hashes encode their
-- fields (lineage/eventlog.py).
CREATE TABLE IF NOT EXISTS store_meta (
    key          VARCHAR PRIMARY KEY,
    value        VARCHAR NOT NULL
);

-- One row per ingest transaction; `hash` chains the batches (see lineage/eventlog.py).
CREATE TABLE IF NOT EXISTS batches (
    batch        BIGINT PRIMARY KEY,
    source       VARCHAR NOT NULL,
    received_at  TIMESTAMPTZ NOT NULL,
    first_seq    BIGINT,
    last_seq     BIGINT,
    events       BIGINT NOT NULL,
    events_hash  VARCHAR NOT NULL,
    prev_hash    VARCHAR NOT NULL,
    hash         VARCHAR NOT NULL
);

-- Every accepted raw record, never updated. `payload` is the canonical JSON text that was hashed.
-- `seq` and `event_id` are unique; the store guarantees it (each ingest anti-joins the log)
-- rather than index constraints, whose upkeep dominated bulk manifest ingests.
CREATE TABLE IF NOT EXISTS events (
    seq          BIGINT NOT NULL,
    event_id     VARCHAR NOT NULL,
    batch        BIGINT NOT NULL,
    source       VARCHAR NOT NULL,
    type         VARCHAR NOT NULL,
    occurred_us  BIGINT,
    origin       VARCHAR,
    payload      VARCHAR NOT NULL,
    hash         VARCHAR NOT NULL
);

-- Graph nodes. `defined_seq` is NULL while a node is only referenced (its lineage is unknown).
-- `repo` repeats attrs.repo, so a gate groups ten million examples by repository without
-- parsing their JSON.
CREATE TABLE IF NOT EXISTS nodes (
    id           BIGINT PRIMARY KEY,
    key          VARCHAR NOT NULL UNIQUE,
    kind         VARCHAR NOT NULL,
    attrs        VARCHAR NOT NULL,
    first_seq    BIGINT NOT NULL,
    defined_seq  BIGINT,
    repo         VARCHAR
);
-- Stores made before `repo`: the store fills it once when it adds it.
ALTER TABLE nodes ADD COLUMN IF NOT EXISTS repo VARCHAR;
-- An output's or a session's tool, model and time repeat its attrs (NULL for other kinds),
-- so a policy's rules select the restricted ones without parsing their JSON
-- (lineage/store/facets.py); stores made before them fill them once (migration 3).
ALTER TABLE nodes ADD COLUMN IF NOT EXISTS tool VARCHAR;
ALTER TABLE nodes ADD COLUMN IF NOT EXISTS model VARCHAR;
ALTER TABLE nodes ADD COLUMN IF NOT EXISTS occurred_at TIMESTAMPTZ;

-- Edges point from ancestor to descendant. A span is the part of `dst` (or of `src` for
-- chunking) the edge is about, in `span_unit` (line or byte), 1-based and inclusive.
CREATE TABLE IF NOT EXISTS edges (
    src          BIGINT NOT NULL,
    dst          BIGINT NOT NULL,
    kind         VARCHAR NOT NULL,
    seq          BIGINT NOT NULL,
    span_start   BIGINT,
    span_end     BIGINT,
    span_unit    VARCHAR,
    line_map     VARCHAR
);

-- A second name for a node (a file at a commit names the file version with that blob).
CREATE TABLE IF NOT EXISTS aliases (
    alias        BIGINT NOT NULL,
    target       BIGINT NOT NULL,
    seq          BIGINT NOT NULL
);

-- Line intervals of a file version that descend from a tool output, and why.
-- `carried` rows are recomputed from their parent versions; the others were asserted.
CREATE TABLE IF NOT EXISTS attributions (
    file_version BIGINT NOT NULL,
    output       BIGINT NOT NULL,
    line_start   BIGINT NOT NULL,
    line_end     BIGINT,
    evidence     VARCHAR NOT NULL,
    seq          BIGINT NOT NULL,
    carried      BOOLEAN NOT NULL
);

-- Records a loader could not read, with where they came from and why.
CREATE TABLE IF NOT EXISTS rejected (
    id           VARCHAR PRIMARY KEY,
    source       VARCHAR NOT NULL,
    file         VARCHAR,
    line         BIGINT,
    reason       VARCHAR NOT NULL,
    raw          VARCHAR,
    received_at  TIMESTAMPTZ NOT NULL
);

-- Policy versions; each is also an event of the log (source 'policy') so as-of finds it.
CREATE TABLE IF NOT EXISTS policies (
    version      BIGINT PRIMARY KEY,
    hash         VARCHAR NOT NULL,
    seq          BIGINT NOT NULL,
    toml         VARCHAR NOT NULL,
    set_at       TIMESTAMPTZ NOT NULL
);

-- Content-match evidence. Significant lines a commit added to a file version, and the lines an
-- output wrote, by the hash of their normalized text (loaders/agent_outputs.py `line_hash`).
-- A line added to `repo` matches an output of that repo not later than the commit; both sides
-- only grow, so each match is made once, when the later of the two arrives.
CREATE TABLE IF NOT EXISTS added_lines (
    file_version BIGINT NOT NULL,
    line         BIGINT NOT NULL,
    hash         VARCHAR NOT NULL,
    repo         VARCHAR NOT NULL,
    time_us      BIGINT,
    seq          BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS output_lines (
    output       BIGINT NOT NULL,
    hash         VARCHAR NOT NULL,
    repo         VARCHAR,
    time_us      BIGINT,
    seq          BIGINT NOT NULL
);

-- Snapshot names (lineage/snapshots.py). What each commit's tree holds at the paths its
-- first-parent diff touched (`file_version` NULL where the path left the tree), or at every
-- path when `whole`; the first parent, even when it was never ingested.
CREATE TABLE IF NOT EXISTS tree_entries (
    repo         VARCHAR NOT NULL,
    commit       VARCHAR NOT NULL,
    path         VARCHAR NOT NULL,
    file_version BIGINT,
    seq          BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS commit_trees (
    repo         VARCHAR NOT NULL,
    commit       VARCHAR NOT NULL,
    first_parent VARCHAR,
    whole        BOOLEAN NOT NULL,
    seq          BIGINT NOT NULL
);

-- Rebuilt per repository from the two above: commits in pre-order of their first-parent
-- forest ([pre, post] spans a commit's first-parent descendants; `complete` when the forest
-- root recorded its whole tree), and each path's versions as disjoint spans of that order.
CREATE TABLE IF NOT EXISTS commit_order (
    repo         VARCHAR NOT NULL,
    commit       VARCHAR NOT NULL,
    pre          BIGINT NOT NULL,
    post         BIGINT NOT NULL,
    complete     BOOLEAN NOT NULL
);

-- Repositories whose batches were stored while their snapshot index above was left to be
-- rebuilt once, at the end of an ingest (`Store.deferring_snapshots`); a row outlives only an
-- ingest that was killed, and the next ingest rebuilds its index.
CREATE TABLE IF NOT EXISTS snapshot_stale (
    repo         VARCHAR NOT NULL
);

CREATE TABLE IF NOT EXISTS snapshot_spans (
    repo         VARCHAR NOT NULL,
    path         VARCHAR NOT NULL,
    lo           BIGINT NOT NULL,
    hi           BIGINT NOT NULL,
    file_version BIGINT NOT NULL
);

-- Where each line of a file version ends (little-endian uint32 byte offsets just past each
-- newline; the last is the file's length): byte spans map to the lines they touch.
CREATE TABLE IF NOT EXISTS line_ends (
    file_version BIGINT NOT NULL,
    length       BIGINT NOT NULL,
    ends         BLOB NOT NULL
);

-- Byte spans of chunked edges named before their file's content was seen, mapped to the
-- lines they touch once it was (`seq`: the ingest that made the mapping possible).
CREATE TABLE IF NOT EXISTS byte_lines (
    src          BIGINT NOT NULL,
    dst          BIGINT NOT NULL,
    byte_start   BIGINT NOT NULL,
    line_start   BIGINT NOT NULL,
    line_end     BIGINT NOT NULL,
    seq          BIGINT NOT NULL
);
