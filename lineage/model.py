"""The provenance model: node kinds, edge kinds and the stable text keys of nodes.

Keys are the identity of a node across every loader, so they are built here and only here.
"""

from enum import StrEnum
from string import Formatter


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
    # file_version -> file_version: a merge took another parent's version of the file, so
    # no line of this one is carried (as `git blame` has it), yet strict lineage follows it
    MERGED = "merged"
    # Provenance that never carries taint.
    USED = "used"  # tool/person -> session (the agent of an activity)
    GENERATED = "generated"  # session -> output
    COMMITTED = "committed"  # commit -> file_version
    MEMBER = "member"  # example -> shard -> dataset_version


DERIVATION: frozenset[EdgeKind] = frozenset(
    {
        EdgeKind.WROTE,
        EdgeKind.REVISED,
        EdgeKind.CHUNKED,
        EdgeKind.DERIVED,
        EdgeKind.TRANSCRIBED,
        EdgeKind.MERGED,
    }
)

# Nodes whose own attributes can make them a taint root.
ROOT_KINDS: frozenset[NodeKind] = frozenset({NodeKind.OUTPUT, NodeKind.SESSION})


class Key:
    """A kind of node key, from one template: called with its fields' values it gives the
    key; `.sql(...)` with SQL expressions gives the same key computed by DuckDB, for the
    store's set-based ingestion of millions of rows. One definition, so they cannot drift.

    >>> example_key("code-pretrain", "v1", "ex-002")
    'example:code-pretrain@v1:ex-002'
    >>> example_key.sql("dataset", "version", "example")
    "concat('example:', dataset, '@', version, ':', example)"
    """

    def __init__(self, template: str) -> None:
        self.template = template
        self.parts = list(Formatter().parse(template))  # (literal, field, spec, conversion)
        self.fields = [name for _, name, _, _ in self.parts if name]
        # the template with its fields numbered: formatted from the values as given
        numbers = iter(range(len(self.fields)))
        self._numbered = "".join(
            literal.replace("{", "{{").replace("}", "}}") + (f"{{{next(numbers)}}}" if name else "")
            for literal, name, _, _ in self.parts
        )

    def __call__(self, *values: str) -> str:
        if len(values) != len(self.fields):
            raise TypeError(f"{self.template} takes {len(self.fields)} values")
        return self._numbered.format(*values)

    def sql(self, *expressions: str) -> str:
        if len(expressions) != len(self.fields):
            raise TypeError(f"{self.template} takes {len(self.fields)} expressions")
        given = iter(expressions)
        pieces = []
        for literal, name, _, _ in self.parts:
            if literal:
                pieces.append("'" + literal.replace("'", "''") + "'")
            if name:
                pieces.append(next(given))
        return f"concat({', '.join(pieces)})"


tool_key = Key("tool:{tool}")
person_key = Key("person:{person}")
session_key = Key("session:{session}")
output_key = Key("output:{output}")
commit_key = Key("commit:{repo}@{sha}")
# What a commit's own evidence attributes to a tool, as outputs: its trailers or its author's
# identity (one output per tool) and its git-ai note (one per range and path).
commit_output = Key("commit:{repo}@{sha}:{tool}")
note_output = Key("git-ai:{repo}@{sha}:{range}:{path}")
# A file version is a blob at a path of a repository.
file_version_key = Key("file:{repo}:{path}@{blob}")
# The name of the file version found at `path` in `commit` (an alias, resolved by git).
file_at_commit_key = Key("file:{repo}:{path}@commit:{commit}")
dataset_version_key = Key("dataset:{dataset}@{version}")
shard_key = Key("shard:{dataset}@{version}/{shard}")
example_key = Key("example:{dataset}@{version}:{example}")
build_run_key = Key("build_run:{run}")
