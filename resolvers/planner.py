"""Planning: resolve a semantic query's names against the registry into a Plan.

Every client mistake (an unknown member, a bad value, a limit out of range) is a
QueryError here, before any SQL exists.
"""

from __future__ import annotations

import functools
from dataclasses import replace
from zoneinfo import ZoneInfo, available_timezones

from resolvers.errors import QueryError
from resolvers.plan import (
    Node,
    Path,
    Plan,
    PlannedCondition,
    PlannedDimension,
    PlannedFilter,
    PlannedGroup,
    PlannedMeasure,
    PlannedOrder,
)
from resolvers.values import check_values
from schema.paths import PathError, walk
from schema.query import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    And,
    DimensionRef,
    EffectiveQuery,
    Filter,
    MemberType,
    Or,
    measure_key,
)
from schema.registry import Registry, UnknownModelError
from schema.spec import ModelSpec

MAX_OFFSET = 10_000_000
MAX_LABEL = 63  # PostgreSQL truncates longer identifiers


MAX_BOUND_VALUES = 10_000  # each is checked, and repr'd into the cache key, on the event loop
MAX_TIMEZONE_CHARS = 64


@functools.cache
def _zones() -> frozenset[str]:
    """IANA zone names: only names from this list reach ZoneInfo and PostgreSQL (a folder such
    as `Europe`, a file such as `zone.tab` or `right/UTC` would fail there, not here)."""
    return frozenset(available_timezones())


def _timezone(name: str) -> ZoneInfo:
    if len(name) > MAX_TIMEZONE_CHARS or name not in _zones():
        shown = name if len(name) <= MAX_TIMEZONE_CHARS else name[:MAX_TIMEZONE_CHARS] + "..."
        raise QueryError(f"unknown timezone {shown!r}; use an IANA name such as Europe/London")
    return ZoneInfo(name)


def _bound_values(filters: list[PlannedFilter]) -> int:
    count, pending = 0, list(filters)
    while pending:
        item = pending.pop()
        if isinstance(item, PlannedGroup):
            pending.extend(item.items)
        else:
            count += len(item.values)
    return count


class _Planner:
    def __init__(self, registry: Registry, root: ModelSpec, zone: ZoneInfo) -> None:
        self.registry = registry
        self.zone = zone  # the query's timezone, in which naive filter values are read
        self.row_masked: frozenset[Path] = frozenset()  # nodes whose dimensions show in a scope only
        self.nodes: dict[Path, Node] = {(): Node((), root, root.model, None)}

    # --- the join tree -------------------------------------------------------------

    def _child(self, node: Node, join_name: str) -> Node:
        path = (*node.path, join_name)
        if path not in self.nodes:
            join = node.model.joins[join_name]
            self.nodes[path] = Node(path, self.registry.model(join.model), "__".join(path), join)
        return self.nodes[path]

    def walk(self, member: str) -> tuple[Node, str]:
        try:
            steps, name = walk(self.registry, self.nodes[()].model, member)
        except PathError as exc:
            raise QueryError(str(exc)) from None
        node = self.nodes[()]
        for step in steps[1:]:
            node = self._child(node, step.joins[-1])
        return node, name

    # --- members -------------------------------------------------------------------

    def dimension(self, ref: DimensionRef, hidden_ok: bool = False) -> PlannedDimension:
        node, name = self.walk(ref.member)
        spec = node.model.dimensions.get(name)
        if spec is None or not (spec.public or hidden_ok):
            raise QueryError(f"unknown dimension {ref.member!r} on {node.model.model}")
        if ref.granularity is not None:
            if spec.type != "time":
                raise QueryError(f"{ref.member!r} is a {spec.type} dimension and has no granularity")
            allowed = spec.granularities or ()
            if allowed and ref.granularity not in allowed:
                raise QueryError(f"{ref.member!r} has no granularity {ref.granularity!r}")
        row_masked = not hidden_ok and node.path in self.row_masked
        return PlannedDimension(ref.key, node.path, name, spec, ref.granularity, row_masked=row_masked)

    def measure(self, member: str) -> PlannedMeasure:
        node, name = self.walk(member)
        spec = node.model.measures.get(name)
        if spec is None or not spec.public:
            raise QueryError(f"unknown measure {member!r} on {node.model.model}")
        return PlannedMeasure(measure_key(member), node.path, name, spec)

    def _target(self, member: str, hidden_ok: bool) -> PlannedDimension | PlannedMeasure:
        node, name = self.walk(member)
        if name in node.model.measures:
            return self.measure(member)
        return self.dimension(DimensionRef(member), hidden_ok)

    def condition(self, item: Filter, hidden_ok: bool) -> PlannedFilter:
        if isinstance(item, And | Or):
            if not item.items:
                raise QueryError("an AND / OR filter needs at least one condition")
            planned = tuple(self.condition(child, hidden_ok) for child in item.items)
            if len({_is_measure_filter(child) for child in planned}) > 1:
                raise QueryError("one AND / OR group cannot mix measure and dimension conditions")
            return PlannedGroup("and" if isinstance(item, And) else "or", planned)
        target = self._target(item.member, hidden_ok)
        member_type: MemberType = "measure" if isinstance(target, PlannedMeasure) else target.spec.type
        return PlannedCondition(
            target, item.op, check_values(item.member, member_type, item.op, item.values, self.zone)
        )


def _is_measure_filter(item: PlannedFilter) -> bool:
    if isinstance(item, PlannedGroup):
        return _is_measure_filter(item.items[0])
    return isinstance(item.target, PlannedMeasure)


def _multiplied(nodes: dict[Path, Node]) -> frozenset[Path]:
    """Nodes whose rows the join tree repeats.

    Across a one_to_many join every row on the "one" side meets many rows, so
    everything outside the child's subtree is repeated; across a many_to_one join the
    child's subtree is. Aggregates over a repeated node need de-duplication.
    """
    repeated: set[Path] = set()
    for path, node in nodes.items():
        if node.join is None:
            continue
        subtree = {other for other in nodes if other[: len(path)] == path}
        if node.join.relationship == "one_to_many":
            repeated |= set(nodes) - subtree
        elif node.join.relationship == "many_to_one":
            repeated |= subtree
    return frozenset(repeated)


def _limit(limit: int | None, offset: int, max_limit: int) -> tuple[int, int]:
    if limit is None:
        limit = DEFAULT_LIMIT
    if not 1 <= limit <= max_limit:
        raise QueryError(f"limit must be between 1 and {max_limit}, got {limit}")
    if not 0 <= offset <= MAX_OFFSET:
        raise QueryError(f"offset must be between 0 and {MAX_OFFSET}, got {offset}")
    return limit, offset


def plan(registry: Registry, effective: EffectiveQuery, max_limit: int = MAX_LIMIT) -> Plan:
    """`max_limit`: the most rows a query may ask for (exports stream more than a page)."""
    query = effective.query
    try:
        root = registry.model(query.model)
    except UnknownModelError:
        raise QueryError(f"unknown model {query.model!r}") from None
    zone = _timezone(query.timezone)
    planner = _Planner(registry, root, zone)
    planner.row_masked = frozenset(tuple(path.split(".")) for path, _ in effective.row_masks)

    dimensions = {
        d.key: _masked(d, effective.masked) for d in (planner.dimension(ref) for ref in query.dimensions)
    }
    measures = {m.key: m for m in (planner.measure(member) for member in query.measures)}
    if not dimensions and not measures:
        raise QueryError(f"select at least one measure or dimension of {root.model}")
    for key in (*dimensions, *measures):
        if len(key) > MAX_LABEL:
            raise QueryError(f"member path {key!r} is too long")

    filters = [planner.condition(item, hidden_ok=False) for item in query.filters]
    filters += [planner.condition(item, hidden_ok=True) for item in effective.mandatory_filters]
    row_masks = {
        tuple(path.split(".")): planner.condition(scope, hidden_ok=True)
        for path, scope in effective.row_masks
    }
    bound = _bound_values(filters)
    if bound > MAX_BOUND_VALUES:
        raise QueryError(
            f"the filters hold {bound:,} values in all; a query takes at most {MAX_BOUND_VALUES:,}"
        )
    segments = []
    for member in query.segments:
        node, name = planner.walk(member)
        if name not in node.model.segments:
            raise QueryError(f"unknown segment {member!r} on {node.model.model}")
        segments.append((node.path, node.model.segments[name]))

    selected = {*dimensions, *measures}
    order = []
    for item in query.order:
        key = DimensionRef(item.member, item.granularity).key
        if key not in selected:
            raise QueryError(f"cannot order by {item.member!r}: it is not selected")
        order.append(PlannedOrder(key, item.descending))
    order += _default_order(list(dimensions.values()), list(measures.values()), bool(order))
    limit, offset = _limit(query.limit, query.offset, max_limit)

    return Plan(
        root=root.model,
        nodes=dict(planner.nodes),
        dimensions=tuple(dimensions.values()),
        measures=tuple(measures.values()),
        where=tuple(f for f in filters if not _is_measure_filter(f)),
        having=tuple(f for f in filters if _is_measure_filter(f)),
        segments=tuple(segments),
        order=_dedupe_order(order),
        limit=limit,
        offset=offset,
        timezone=query.timezone,
        multiplied=_multiplied(planner.nodes),
        row_masks=row_masks,
    )


def _masked(dimension: PlannedDimension, masked: frozenset[str]) -> PlannedDimension:
    if ".".join((*dimension.path, dimension.name)) in masked:
        return replace(dimension, masked=True)
    return dimension


def _default_order(
    dimensions: list[PlannedDimension], measures: list[PlannedMeasure], ordered: bool
) -> list[PlannedOrder]:
    """Without an explicit order: by the first time grain, else the first measure
    descending. Every dimension follows as a tie-breaker, so pages are stable."""
    order: list[PlannedOrder] = []
    if not ordered:
        grains = [d for d in dimensions if d.granularity is not None]
        if grains:
            order.append(PlannedOrder(grains[0].key, descending=False))
        elif measures:
            order.append(PlannedOrder(measures[0].key, descending=True))
    order += [PlannedOrder(d.key, descending=False) for d in dimensions]
    return order


def _dedupe_order(order: list[PlannedOrder]) -> tuple[PlannedOrder, ...]:
    seen: set[str] = set()
    result = []
    for item in order:
        if item.key not in seen:
            seen.add(item.key)
            result.append(item)
    return tuple(result)
