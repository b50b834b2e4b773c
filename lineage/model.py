"""The provenance model: node kinds, edge kinds and the stable text keys of nodes.

Keys are the identity of a node across every loader, so they are built here and only here.
"""

from enum import StrEnum


class NodeKind(StrEnum):
    TOOL = "tool"
    PERSON = "person"
    SESSION = "session"
    COMMIT = "commit"
    BUILD_RUN = "build_run"
    OUTPUT = "output"
    FILE_VERSION = "file_version"
    DATASET_VERSION = "dataset_version"
    SHARD = "shard"
    EXAMPLE = "example"


class EdgeKind(StrEnum):
    # Derivation: these carry taint from ancestor to descendant.
    WROTE = "wrote"  # output -> file_version (with the line span it wrote)
    REVISED = "revised"  # file_version -> file_version (with the diff's line map)
    CHUNKED = "chunked"  # file_version -> example (with the example's span)
    DERIVED = "derived"  # example -> example (dedup, filter, mix, packing)
    TRANSCRIBED = "transcribed"  # output/session -> example (built from agent records)
    # Provenance that never carries taint.
    USED = "used"  # tool/person -> session (the agent of an activity)
    GENERATED = "generated"  # session -> output
    COMMITTED = "committed"  # commit -> file_version
    MEMBER = "member"  # example -> shard -> dataset_version


DERIVATION: frozenset[EdgeKind] = frozenset(
    {EdgeKind.WROTE, EdgeKind.REVISED, EdgeKind.CHUNKED, EdgeKind.DERIVED, EdgeKind.TRANSCRIBED}
)

# Nodes whose own attributes can make them a taint root.
ROOT_KINDS: frozenset[NodeKind] = frozenset({NodeKind.OUTPUT, NodeKind.SESSION})


def tool_key(tool: str) -> str:
    return f"tool:{tool}"


def person_key(person: str) -> str:
    return f"person:{person}"


def session_key(session: str) -> str:
    return f"session:{session}"


def output_key(output: str) -> str:
    return f"output:{output}"


def commit_key(repo: str, sha: str) -> str:
    return f"commit:{repo}@{sha}"


def file_version_key(repo: str, path: str, blob: str) -> str:
    """A file version is a blob at a path of a repository."""
    return f"file:{repo}:{path}@{blob}"


def file_at_commit_key(repo: str, path: str, commit: str) -> str:
    """The name of the file version found at `path` in `commit` (an alias, resolved by git)."""
    return f"file:{repo}:{path}@commit:{commit}"


def dataset_version_key(dataset: str, version: str) -> str:
    return f"dataset:{dataset}@{version}"


def shard_key(dataset: str, version: str, shard: str) -> str:
    return f"shard:{dataset}@{version}/{shard}"


def example_key(dataset: str, version: str, example: str) -> str:
    return f"example:{dataset}@{version}:{example}"


# SQL twins of the key builders, for set-based ingestion of millions of rows (the store's
# columnar path). Arguments are SQL expressions; tests check both spellings agree.


def file_version_key_sql(repo: str, path: str, blob: str) -> str:
    return f"concat('file:', {repo}, ':', {path}, '@', {blob})"


def file_at_commit_key_sql(repo: str, path: str, commit: str) -> str:
    return f"concat('file:', {repo}, ':', {path}, '@commit:', {commit})"


def dataset_version_key_sql(dataset: str, version: str) -> str:
    return f"concat('dataset:', {dataset}, '@', {version})"


def shard_key_sql(dataset: str, version: str, shard: str) -> str:
    return f"concat('shard:', {dataset}, '@', {version}, '/', {shard})"


def example_key_sql(dataset: str, version: str, example: str) -> str:
    return f"concat('example:', {dataset}, '@', {version}, ':', {example})"


def output_key_sql(output: str) -> str:
    return f"concat('output:', {output})"


def session_key_sql(session: str) -> str:
    return f"concat('session:', {session})"


def build_run_key(run_id: str) -> str:
    return f"build_run:{run_id}"
