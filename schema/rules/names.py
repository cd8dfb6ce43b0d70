"""Names: unique models, well-formed member names, no two fields with one GraphQL name."""

from __future__ import annotations

from collections import defaultdict

from schema.issues import Issue
from schema.loader import Loaded
from schema.naming import RESERVED_TYPE_NAMES, camel, pascal
from schema.spec import NAME_PATTERN, is_name


def check(loaded: Loaded) -> list[Issue]:
    models = loaded.models
    issues: list[Issue] = []
    files_by_name: dict[str, list[str]] = defaultdict(list)
    for model in models:
        files_by_name[model.spec.model].append(model.file)
    for name, files in files_by_name.items():
        if len(files) > 1:
            for file in files:
                issues.append(Issue(file, name, f"model {name!r} is defined in {sorted(files)}"))
    type_names: dict[str, str] = {}
    for model in models:
        name = model.spec.model
        type_name = pascal(name)
        if type_name in RESERVED_TYPE_NAMES:
            issues.append(
                Issue(model.file, name, f"the GraphQL type {type_name!r} is reserved; rename the model")
            )
        elif type_names.setdefault(type_name, name) != name:
            reason = f"both {name!r} and {type_names[type_name]!r} become the GraphQL type {type_name!r}"
            issues.append(Issue(model.file, name, reason))

    for model in models:
        spec = model.spec
        fields: dict[str, str] = {}  # GraphQL field name -> "kind.name"
        for kind, member_names in spec.member_names().items():
            for member in member_names:
                where = f"{spec.model}.{kind}.{member}"
                if not is_name(member):
                    issues.append(Issue(model.file, where, f"name must match {NAME_PATTERN}"))
                    continue
                if kind in ("segments", "rollups"):
                    continue  # segments are arguments and rollups storage, not fields
                if kind == "joins" and member == spec.model:
                    issues.append(Issue(model.file, where, "a join cannot share its model's name"))
                field = camel(member)
                if field in fields:
                    reason = f"clashes with {fields[field]} (both are the field {field!r})"
                    issues.append(Issue(model.file, where, reason))
                else:
                    fields[field] = f"{kind}.{member}"
    return issues
