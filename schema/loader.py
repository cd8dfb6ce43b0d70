"""Read model files (YAML) into ModelSpecs, collecting every problem instead of stopping."""

from __future__ import annotations

import re
from collections.abc import Hashable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from schema.issues import Issue
from schema.spec import ModelSpec


@dataclass(frozen=True, slots=True)
class LoadedModel:
    file: str
    spec: ModelSpec
    # Members left out because their own shape is wrong ("measures.rate"): the rest of the
    # model is still checked, so one run reports every problem.
    removed: frozenset[str] = frozenset()


@dataclass
class Loaded:
    """What a set of files gave: valid specs, issues, and the names of models whose file
    could not be read (so other files' references to them are not reported twice)."""

    models: list[LoadedModel] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    broken: set[str] = field(default_factory=set)

    def add(self, text: str, file: str) -> None:
        model, issues = load_text(text, file)
        self.issues.extend(issues)
        if model is not None:
            self.models.append(model)
        else:
            self.broken.add(_declared_name(text, file))


class _StrictLoader(yaml.SafeLoader):
    """A SafeLoader that records duplicate keys, which PyYAML silently overwrites."""

    duplicates: list[tuple[str, int]]


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Hashable, Any]:
    seen: set[Hashable] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            loader.duplicates.append((str(key), key_node.start_mark.line + 1))
        seen.add(key)
    mapping: dict[Hashable, Any] = loader.construct_mapping(node)
    return mapping


_StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,
)


def _location(loc: tuple[int | str, ...], model: str) -> str:
    return ".".join([model, *(str(part) for part in loc)]) if loc else model


def load_text(text: str, file: str) -> tuple[LoadedModel | None, list[Issue]]:
    stem = Path(file).stem
    loader = _StrictLoader(text)
    loader.duplicates = []
    try:
        data = loader.get_single_data()
    except yaml.YAMLError as exc:
        return None, [Issue(file, stem, f"not valid YAML: {exc}")]
    finally:
        loader.dispose()
    issues = [Issue(file, stem, f"duplicate key {key!r} on line {line}") for key, line in loader.duplicates]
    if not isinstance(data, dict):
        return None, [*issues, Issue(file, stem, "a model file must be a mapping")]
    name = str(data.get("model") or stem)
    try:
        spec = ModelSpec.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            issues.append(Issue(file, _location(error["loc"], name), error["msg"]))
        salvaged = _salvage(data, exc)
        return salvaged if salvaged is None else replace(salvaged, file=file), issues
    return LoadedModel(file, spec), issues


_MEMBER_KINDS = ("dimensions", "measures", "joins", "segments")
_OPTIONAL = frozenset({"title", "description", "learner_count", "refresh"})


def _salvage(data: dict[Any, Any], error: ValidationError) -> LoadedModel | None:
    """The model without the members whose shape is wrong, so that the rules can check
    the rest in the same run; None when what is wrong is the model itself."""
    data = {
        key: dict(value) if key in _MEMBER_KINDS and isinstance(value, dict) else value
        for key, value in data.items()
    }
    removed: set[str] = set()
    for _ in range(3):  # a second pass catches errors hidden behind the first ones
        for problem in error.errors():
            loc = problem["loc"]
            if len(loc) >= 2 and loc[0] in _MEMBER_KINDS and isinstance(data.get(loc[0]), dict):
                data[str(loc[0])].pop(loc[1], None)
                removed.add(f"{loc[0]}.{loc[1]}")
            elif len(loc) >= 1 and loc[0] in _OPTIONAL:
                data.pop(str(loc[0]), None)
                removed.add(str(loc[0]))
            else:
                return None  # the model's own keys (name, table, key) are wrong
        try:
            return LoadedModel("", ModelSpec.model_validate(data), frozenset(removed))
        except ValidationError as again:
            error = again
    return None


def _declared_name(text: str, file: str) -> str:
    match = re.search(r"^model:\s*([A-Za-z0-9_]+)", text, re.MULTILINE)
    return match.group(1) if match else Path(file).stem


def load_directory(directory: Path) -> Loaded:
    loaded = Loaded()
    files = sorted([*directory.glob("*.yml"), *directory.glob("*.yaml")])
    if not files:
        loaded.issues.append(Issue(str(directory), "-", "no model files (*.yml) found"))
    for path in files:
        loaded.add(path.read_text(encoding="utf-8"), path.name)
    return loaded
