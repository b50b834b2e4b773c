"""What a GraphQL operation would cost, bounded before it is validated or run.

The depth, token and alias limiters strawberry ships do not see the two shapes that hurt:
fragments that spread each other twice (20 doublings of an 824-byte query are 2^20 spreads,
and graphql-core's own validation rules expand them all before anything runs), and list
fields nested in list fields (four hops of `children(first: 50)` are 50^4 nodes). This module
measures both in one walk over the document that computes each fragment once (linear in the
document's size, whatever the spreads expand to), and `CostLimiter` refuses an operation over
the limits with a GraphQL error before graphql-core validates it.

The cost model: every field costs one per time it is resolved. A field with a `first`
argument multiplies what is under it by its page size (the argument, a variable, or the
schema's default: defaults count); a field with a list argument (`verdicts(examples:)`) by the
list's length; any other list field by LIST_SIZE, except the list a paged connection holds
(`tainted(first: 50) { nodes }`: the page is already counted). Introspection (`__schema`,
`__type`) is bounded by the schema and counts one per selection.
"""

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValueNode,
    VariableNode,
    get_named_type,
)
from strawberry.extensions import SchemaExtension

MAX_COST = 20_000  # fields resolved, list fields times their page sizes (see the module doc)
MAX_SELECTIONS = 2_000  # selections once every fragment is spread: what validation walks
MAX_DEPTH = 12  # nested fields (fragments are transparent; introspection is not counted)
MAX_PAGE = 500  # the largest `first` a field takes: a bigger one counts as this (and fails)
LIST_SIZE = 10  # the assumed length of a list field without a page size (waivers, steps...)


@dataclass(frozen=True)
class Cost:
    """The measure of one selection set, per instance of the object it selects on."""

    fields: int = 0  # fields resolved, lists multiplied out
    selections: int = 0  # selections with fragments expanded
    depth: int = 0  # deepest nesting of fields

    def __add__(self, other: "Cost") -> "Cost":
        return Cost(
            self.fields + other.fields,
            self.selections + other.selections,
            max(self.depth, other.depth),
        )


class _Walk:
    """One document's measure; a fragment is measured once per context and then reused."""

    def __init__(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        variables: Mapping[str, Any],
        defaults: Mapping[str, Any],
    ) -> None:
        self.schema = schema
        self.variables = {**defaults, **variables}
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.memo: dict[tuple[str, bool], Cost] = {}
        self.active: set[str] = set()

    def selections(
        self, node: SelectionSetNode | None, parent: GraphQLNamedType | None, paged: bool
    ) -> Cost:
        total = Cost()
        for sel in node.selections if node else ():
            if isinstance(sel, FieldNode):
                total += self.field(sel, parent, paged)
            elif isinstance(sel, InlineFragmentNode):
                typed = self._type(sel.type_condition.name.value) if sel.type_condition else parent
                total += Cost(selections=1) + self.selections(sel.selection_set, typed, paged)
            elif isinstance(sel, FragmentSpreadNode):
                total += Cost(selections=1) + self.spread(sel.name.value, paged)
        return total

    def spread(self, name: str, paged: bool) -> Cost:
        fragment = self.fragments.get(name)
        if fragment is None or name in self.active:  # unknown or cyclic: validation says so
            return Cost()
        key = (name, paged)
        if key not in self.memo:
            self.active.add(name)
            self.memo[key] = self.selections(
                fragment.selection_set, self._type(fragment.type_condition.name.value), paged
            )
            self.active.discard(name)
        return self.memo[key]

    def field(self, node: FieldNode, parent: GraphQLNamedType | None, paged: bool) -> Cost:
        if node.name.value.startswith("__"):
            inner = self.selections(node.selection_set, None, True)
            return Cost(1 + inner.selections, 1 + inner.selections, 0)
        found = (
            parent.fields.get(node.name.value)
            if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType)
            else None
        )
        if found is None:  # an unknown field: validation reports it
            inner = self.selections(node.selection_set, None, False)
            return Cost(1 + inner.fields, 1 + inner.selections, 1 + inner.depth)
        page, pages = self.page(node, found, paged)
        inner = self.selections(node.selection_set, get_named_type(found.type), pages)
        return Cost(1 + page * inner.fields, 1 + inner.selections, 1 + inner.depth)

    def page(self, node: FieldNode, found: GraphQLField, paged: bool) -> tuple[int, bool]:
        """(how many times what is under `node` resolves, whether it is a paged connection)."""
        given = {a.name.value: a.value for a in node.arguments or ()}
        if "first" in found.args:
            value = (
                self.value(given["first"])
                if "first" in given
                else found.args["first"].default_value
            )
            return _clamp(value if isinstance(value, int) else MAX_PAGE), True
        for name, arg in found.args.items():
            if _is_list(arg.type) and name in given:
                value = self.value(given[name])
                return _clamp(len(value) if isinstance(value, list) else MAX_PAGE), False
        if _is_list(found.type) and not paged:
            return LIST_SIZE, False
        return 1, False

    def value(self, node: ValueNode) -> Any:
        if isinstance(node, VariableNode):
            return self.variables.get(node.name.value)
        if isinstance(node, IntValueNode):
            return int(node.value)
        if isinstance(node, ListValueNode):
            return list(node.values)
        return None

    def _type(self, name: str) -> GraphQLNamedType | None:
        return self.schema.get_type(name)


def _clamp(n: int) -> int:
    return max(0, min(n, MAX_PAGE))


def _is_list(kind: Any) -> bool:
    return isinstance(kind.of_type if isinstance(kind, GraphQLNonNull) else kind, GraphQLList)


def _operations(document: DocumentNode, name: str | None) -> list[OperationDefinitionNode]:
    ops = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = [o for o in ops if name is None or (o.name and o.name.value == name)]
    return chosen


def _defaults(op: OperationDefinitionNode) -> dict[str, Any]:
    """Variables' default values, as far as a cost needs them (ints and list lengths)."""
    out: dict[str, Any] = {}
    for var in op.variable_definitions or ():
        if isinstance(var.default_value, IntValueNode):
            out[var.variable.name.value] = int(var.default_value.value)
        elif isinstance(var.default_value, ListValueNode):
            out[var.variable.name.value] = list(var.default_value.values)
    return out


def measure(
    schema: GraphQLSchema,
    document: DocumentNode,
    variables: Mapping[str, Any] | None,
    operation_name: str | None = None,
) -> Cost:
    """The cost of the operation(s) `operation_name` picks (all of them when None)."""
    total = Cost()
    for op in _operations(document, operation_name):
        root = {
            "query": schema.query_type,
            "mutation": schema.mutation_type,
            "subscription": schema.subscription_type,
        }[op.operation.value]
        walk = _Walk(schema, document, variables or {}, _defaults(op))
        total += walk.selections(op.selection_set, root, False)
    return total


def problems(cost: Cost, operation_name: str | None) -> list[str]:
    """Why an operation of `cost` is refused (empty when it is within every limit)."""
    out = []
    if cost.selections > MAX_SELECTIONS:
        out.append(
            f"the query expands to {_count(cost.selections)} selections once its "
            f"fragments are spread (at most {MAX_SELECTIONS:,}): spread fewer "
            "fragments into each other"
        )
    if cost.depth > MAX_DEPTH:
        out.append(
            f"'{operation_name or 'anonymous'}' exceeds maximum operation depth of {MAX_DEPTH}"
        )
    if cost.fields > MAX_COST:
        out.append(
            f"the query would resolve about {_count(cost.fields)} fields (list fields "
            f"times their page sizes; at most {MAX_COST:,}): ask for smaller pages "
            "(first:) or fewer nested hops (use `lineage` to walk many hops)"
        )
    return out


def _count(n: int) -> str:
    return f"{n:,}" if n < 10**12 else "more than 10^12"


class CostLimiter(SchemaExtension):
    """Refuses an operation over MAX_COST, MAX_SELECTIONS or MAX_DEPTH before graphql-core
    validates it (its rules would expand the fragments first)."""

    def on_validate(self) -> Iterator[None]:
        ctx = self.execution_context
        if ctx.graphql_document is not None and not ctx.pre_execution_errors:
            cost = measure(
                ctx.schema._schema, ctx.graphql_document, ctx.variables, ctx.operation_name
            )
            found = problems(cost, ctx.operation_name)
            if found:
                ctx.pre_execution_errors = [GraphQLError(p) for p in found]
        yield
