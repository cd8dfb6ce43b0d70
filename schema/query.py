"""SemanticQuery: what a client asks for, in the registry's vocabulary (no SQL).

It lives beside the registry rather than in resolvers/ so that authz/ can read and
restrict it without depending on the SQL compiler. Members are dotted paths from the
query's model: "status", "course.subject", "learner.enterprise.name".
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Literal

from schema.spec import Granularity

DEFAULT_LIMIT = 10_000
MAX_LIMIT = 50_000

FilterOp = Literal[
    "equals",
    "notEquals",
    "in",
    "notIn",
    "gt",
    "gte",
    "lt",
    "lte",
    "contains",
    "startsWith",
    "endsWith",
    "set",
    "notSet",
    "inDateRange",
    "beforeDate",
    "afterDate",
]
FILTER_OPS: tuple[FilterOp, ...] = FilterOp.__args__  # type: ignore[attr-defined]
FilterValue = str | int | float | bool | date | datetime
MemberType = Literal["string", "number", "boolean", "time", "measure"]

# The operators each kind of member takes, and how many values each operator takes.
OPERATORS: dict[MemberType, frozenset[FilterOp]] = {
    "string": frozenset(
        {"equals", "notEquals", "in", "notIn", "contains", "startsWith", "endsWith", "set", "notSet"}
    ),
    "number": frozenset({"equals", "notEquals", "in", "notIn", "gt", "gte", "lt", "lte", "set", "notSet"}),
    "boolean": frozenset({"equals", "notEquals", "set", "notSet"}),
    "time": frozenset(
        (
            *("equals", "notEquals", "in", "notIn", "gt", "gte", "lt", "lte", "set", "notSet"),
            *("inDateRange", "beforeDate", "afterDate"),
        )
    ),
    "measure": frozenset({"equals", "notEquals", "in", "notIn", "gt", "gte", "lt", "lte", "set", "notSet"}),
}
NO_VALUES: frozenset[FilterOp] = frozenset({"set", "notSet"})
ONE_VALUE: frozenset[FilterOp] = frozenset(
    {"equals", "notEquals", "gt", "gte", "lt", "lte", "beforeDate", "afterDate"}
)
TWO_VALUES: frozenset[FilterOp] = frozenset({"inDateRange"})


@dataclass(frozen=True, slots=True)
class Condition:
    member: str
    op: FilterOp
    values: tuple[FilterValue, ...] = ()


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Filter, ...]


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Filter, ...]


Filter = Condition | And | Or


@dataclass(frozen=True, slots=True)
class DimensionRef:
    member: str
    granularity: Granularity | None = None

    @property
    def key(self) -> str:
        """The result column: the path with "__" between parts, then the granularity."""
        parts = self.member.split(".")
        if self.granularity is not None:
            parts.append(self.granularity)
        return "__".join(parts)


@dataclass(frozen=True, slots=True)
class OrderBy:
    member: str  # a selected measure or dimension
    granularity: Granularity | None = None
    descending: bool = False


@dataclass(frozen=True, slots=True)
class SemanticQuery:
    model: str
    measures: tuple[str, ...] = ()
    dimensions: tuple[DimensionRef, ...] = ()
    filters: tuple[Filter, ...] = ()  # all must hold
    segments: tuple[str, ...] = ()
    order: tuple[OrderBy, ...] = ()
    limit: int | None = None  # None: DEFAULT_LIMIT
    offset: int = 0
    timezone: str = "UTC"


def measure_key(member: str) -> str:
    return "__".join(member.split("."))


@dataclass(frozen=True, slots=True)
class EffectiveQuery:
    """A SemanticQuery plus what access control requires of it.

    `mandatory_filters` are ANDed with everything the client asked for, so no client
    filter (not even an OR) can widen them, and they may use members that are hidden
    from clients (tenant columns); conditions on measures among them drop whole groups
    (small-group suppression). `masked` dimensions come back as a constant; the dimensions
    of a `row_masks` node come back as themselves only on rows where its scope holds.
    """

    query: SemanticQuery
    mandatory_filters: tuple[Filter, ...] = field(default=())
    masked: frozenset[str] = field(default=frozenset())  # dimension paths, e.g. "learner.email"
    # Joined models whose dimensions show only on rows within a scope, masked elsewhere:
    # (node path, scope), e.g. ("learner.enterprise", learner.enterprise.id = tenant).
    row_masks: tuple[tuple[str, Filter], ...] = field(default=())

    def restrict(self, *filters: Filter) -> EffectiveQuery:
        return replace(self, mandatory_filters=self.mandatory_filters + filters)
