"""Starter model files from a database's tables (`cohort models generate --from-db`).

Plain data in (tables, columns, keys, foreign keys, as read by `api/introspect.py`),
YAML text out. What it writes is a start that passes `cohort validate --db` as it is:
a dimension per column, a count, distinct counts of id-like columns, sums and averages
of numeric columns, joins from foreign keys (both directions), tenant columns hidden.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import yaml

from schema.spec import is_name

ColumnKind = Literal["integer", "float", "boolean", "time", "date", "string"]


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    kind: ColumnKind
    nullable: bool = True


@dataclass(frozen=True, slots=True)
class ForeignKey:
    columns: tuple[str, ...]
    target_schema: str | None
    target_table: str
    target_columns: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TableInfo:
    schema: str | None  # None: the default search path (public)
    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    foreign_keys: tuple[ForeignKey, ...] = ()
    unique: tuple[tuple[str, ...], ...] = ()  # unique constraints besides the key
    comment: str | None = None


@dataclass(frozen=True, slots=True)
class Generated:
    files: dict[str, str]  # file name -> YAML text
    skipped: dict[str, str] = field(default_factory=dict)  # table -> why no model


def model_name(text: str) -> str:
    """A valid model or member name for a table or column name (snake_case, ASCII)."""
    name = re.sub(r"[^a-z0-9]+", "_", re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text).lower()).strip("_")
    name = re.sub(r"_+", "_", name)
    if not name or not name[0].isalpha():
        name = f"t_{name}" if name else "unnamed"
    return name


def _quoted(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def _column_sql(column: str, member: str) -> str | None:
    """The member's SQL: nothing when the column is named like the member."""
    return None if column == member and is_name(column) else f"{{TABLE}}.{_quoted(column)}"


def _title(name: str) -> str:
    return name.replace("_", " ").strip().capitalize()


def _id_like(column: Column, keys: set[str]) -> bool:
    return column.name not in keys and (column.name.endswith("_id") or column.name == "uuid")


class _Names:
    """Member names of one model: unique across dimensions, measures and joins."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def take(self, wanted: str) -> str:
        name, n = wanted, 2
        while name in self.used:
            name, n = f"{wanted}_{n}", n + 1
        self.used.add(name)
        return name


def _reference(table: TableInfo) -> tuple[str | None, str]:
    return (table.schema, table.name)


def generate(tables: Sequence[TableInfo], tenant_columns: Iterable[str] = ()) -> Generated:
    tenants = set(tenant_columns)
    names = _model_names(tables)
    keyed = [t for t in tables if t.primary_key]
    skipped = {t.name: "no primary key: add one to the table, or write the model by hand" for t in tables}
    for table in keyed:
        skipped.pop(table.name)
    by_ref = {_reference(t): t for t in keyed}
    models: dict[tuple[str | None, str], dict[str, Any]] = {}
    member_names: dict[tuple[str | None, str], _Names] = {}
    for table in keyed:
        ref = _reference(table)
        member_names[ref] = _Names()
        models[ref] = _model(table, names[ref], tenants, member_names[ref])
    for table in keyed:
        for fk in table.foreign_keys:
            target = by_ref.get((fk.target_schema or table.schema, fk.target_table))
            if target is None:
                continue  # a table not generated: no join
            _add_joins(table, target, fk, names, models, member_names)
    files = {f"{names[ref]}.yml": _dump(spec) for ref, spec in models.items()}
    return Generated(files, skipped)


def _model_names(tables: Sequence[TableInfo]) -> dict[tuple[str | None, str], str]:
    names: dict[tuple[str | None, str], str] = {}
    taken = _Names()
    for table in tables:
        base = model_name(table.name)
        if table.schema not in (None, "public") and base in taken.used:
            base = model_name(f"{table.schema}_{table.name}")
        names[_reference(table)] = taken.take(base)
    return names


def _model(table: TableInfo, name: str, tenants: set[str], members: _Names) -> dict[str, Any]:
    keys = set(table.primary_key)
    qualified = table.name if table.schema in (None, "public") else f"{table.schema}.{table.name}"
    spec: dict[str, Any] = {"model": name, "title": _title(name)}
    if table.comment:
        spec["description"] = table.comment
    spec["table"] = qualified
    key_members = [model_name(column) for column in table.primary_key]
    # A key column the model names differently is written as SQL (quoted as in the table).
    key_sql = [
        column if member == column and is_name(column) else f"{{TABLE}}.{_quoted(column)}"
        for column, member in zip(table.primary_key, key_members, strict=True)
    ]
    spec["primary_key"] = key_sql[0] if len(key_sql) == 1 else key_sql
    dimensions: dict[str, dict[str, Any]] = {}
    for column in table.columns:
        member = members.take(model_name(column.name))
        dimension: dict[str, Any] = {"type": _dimension_type(column.kind), "title": _title(member)}
        if column.kind == "integer":
            dimension["data_type"] = "integer"
        if column.kind == "date":  # a calendar date: read as its midnight in UTC
            dimension["sql"] = f"({{TABLE}}.{_quoted_or_bare(column.name)}::timestamp at time zone 'UTC')"
            dimension["description"] = "A date, read as midnight UTC."
        elif (sql := _column_sql(column.name, member)) is not None:
            dimension["sql"] = sql
        if column.name in tenants:
            dimension["public"] = False
            dimension["description"] = "Tenant column (hidden; row filters use it)."
        dimensions[member] = dimension
    spec["dimensions"] = dimensions
    measures: dict[str, dict[str, Any]] = {"count": {"type": "count", "title": "Count", "format": "integer"}}
    members.take("count")
    for column in table.columns:
        if column.name in tenants:
            continue
        if _id_like(column, keys):
            stem = model_name(column.name.removesuffix("_id"))
            measures[members.take(f"{stem}_count")] = {
                "type": "count_distinct",
                "sql": _quoted_or_bare(column.name),
                "title": f"Distinct {_title(stem).lower()}s",
                "format": "integer",
            }
        elif column.kind in ("integer", "float") and column.name not in keys:
            stem = model_name(column.name)
            total: dict[str, Any] = {"type": "sum", "sql": _quoted_or_bare(column.name)}
            if column.kind == "integer":
                total["data_type"] = "integer"
            measures[members.take(f"total_{stem}")] = {**total, "title": f"Total {_title(stem).lower()}"}
            measures[members.take(f"avg_{stem}")] = {
                "type": "avg",
                "sql": _quoted_or_bare(column.name),
                "title": f"Average {_title(stem).lower()}",
            }
    spec["measures"] = measures
    return spec


def _quoted_or_bare(column: str) -> str:
    return column if is_name(column) else f"{{TABLE}}.{_quoted(column)}"


def _dimension_type(kind: ColumnKind) -> str:
    if kind == "date":
        return "time"
    return "number" if kind in ("integer", "float") else kind


def _add_joins(
    table: TableInfo,
    target: TableInfo,
    fk: ForeignKey,
    names: dict[tuple[str | None, str], str],
    models: dict[tuple[str | None, str], dict[str, Any]],
    member_names: dict[tuple[str | None, str], _Names],
) -> None:
    source_ref, target_ref = _reference(table), _reference(target)
    source_name, target_name = names[source_ref], names[target_ref]
    if source_ref == target_ref:
        return  # a self-reference needs two aliases of one model: left to the data team
    on = " and ".join(
        f"{{{source_name}}}.{_quoted(a) if not is_name(a) else a} = "
        f"{{{target_name}}}.{_quoted(b) if not is_name(b) else b}"
        for a, b in zip(fk.columns, fk.target_columns, strict=True)
    )
    unique_in_source = set(fk.columns) in ({*table.primary_key}, *({*u} for u in table.unique))
    forward = "one_to_one" if unique_in_source else "many_to_one"
    backward = "one_to_one" if unique_in_source else "one_to_many"
    stem = fk.columns[0].removesuffix("_id") if len(fk.columns) == 1 else target_name
    forward_name = member_names[source_ref].take(model_name(stem) if stem != fk.columns[0] else target_name)
    models[source_ref].setdefault("joins", {})[forward_name] = {
        "model": target_name,
        "relationship": forward,
        "sql": on,
    }
    backward_name = member_names[target_ref].take(source_name)
    models[target_ref].setdefault("joins", {})[backward_name] = {
        "model": source_name,
        "relationship": backward,
        "sql": on,
    }


class _Dumper(yaml.SafeDumper):
    pass


def _flow_mapping(dumper: yaml.SafeDumper, data: dict[str, Any]) -> yaml.Node:
    # Members on one line each, as in the hand-written model files.
    flow = all(not isinstance(value, dict) for value in data.values()) and len(data) <= 6
    return dumper.represent_mapping("tag:yaml.org,2002:map", data.items(), flow_style=flow)


_Dumper.add_representer(dict, _flow_mapping)


def _dump(spec: dict[str, Any]) -> str:
    order = ["model", "title", "description", "table", "primary_key", "joins", "dimensions", "measures"]
    ordered = {key: spec[key] for key in order if key in spec}
    header = "# Generated by `cohort models generate --from-db`: a start, to edit and keep.\n"
    body = yaml.dump(ordered, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=110)
    return header + body
