"""Members: the keys each member type needs and accepts, and what their SQL may refer to."""

from __future__ import annotations

from schema.issues import Issue
from schema.loader import Loaded
from schema.snippets import SELF, placeholders
from schema.spec import MEASURE_KEYS, MEASURES_NEEDING_SQL, ModelSpec


def _own_table_only(spec: ModelSpec, sql: str | None) -> str | None:
    if sql is None:
        return None
    unknown = placeholders(sql) - {SELF, spec.model}
    if unknown:
        return f"SQL may refer only to {{{SELF}}} or {{{spec.model}}}, not {sorted(unknown)}"
    return None


def _dimension_issues(spec: ModelSpec) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for name, dim in spec.dimensions.items():
        where = f"dimensions.{name}"
        if dim.granularities is not None and dim.type != "time":
            found.append((where, "granularities are only for time dimensions"))
        if dim.granularities == ():
            found.append((where, "granularities must not be empty"))
        if dim.data_type is not None and dim.type != "number":
            found.append((where, "data_type is only for number dimensions"))
        if problem := _own_table_only(spec, dim.sql):
            found.append((where, problem))
    return found


def _measure_issues(spec: ModelSpec) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for name, measure in spec.measures.items():
        where = f"measures.{name}"
        extra = measure.given_keys() - MEASURE_KEYS[measure.type]
        if extra:
            found.append((where, f"a {measure.type} measure does not take {sorted(extra)}"))
        if measure.type in MEASURES_NEEDING_SQL and measure.sql is None:
            found.append((where, f"a {measure.type} measure needs `sql`"))
        if measure.type == "ratio" and (measure.numerator is None or measure.denominator is None):
            found.append((where, "a ratio measure needs `numerator` and `denominator`"))
        if measure.type != "number":
            for snippet in (measure.sql, measure.filter):
                if problem := _own_table_only(spec, snippet):
                    found.append((where, problem))
    for name, segment in spec.segments.items():
        if problem := _own_table_only(spec, segment.sql):
            found.append((f"segments.{name}", problem))
    return found


def check(loaded: Loaded) -> list[Issue]:
    models = loaded.models
    issues: list[Issue] = []
    for model in models:
        spec = model.spec
        for where, reason in _dimension_issues(spec) + _measure_issues(spec):
            issues.append(Issue(model.file, f"{spec.model}.{where}", reason))
    return issues
