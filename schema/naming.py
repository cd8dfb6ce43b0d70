"""How model names become GraphQL names."""

from __future__ import annotations


def camel(name: str) -> str:
    """snake_case member name -> camelCase GraphQL field name."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def pascal(name: str) -> str:
    """snake_case model name -> PascalCase GraphQL type name."""
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


# Types every schema has; a model whose type name is one of them would collide.
RESERVED_TYPE_NAMES = frozenset(
    {"Query", "Meta", "MetaModel", "MetaMeasure", "MetaDimension", "MetaSegment", "MetaJoin", "Direction"}
    | {"MetaDashboard", "MetaDashboardFilter", "MetaListen", "MetaTile"}
    | {"StringFilter", "IntFilter", "FloatFilter", "BooleanFilter", "TimeFilter", "LocalDateTime", "Time"}
    | {"String", "Int", "Float", "Boolean", "ID"}
)
