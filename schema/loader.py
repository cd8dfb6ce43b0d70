"""Read model files (YAML) into ModelSpecs, collecting every problem instead of stopping."""

from __future__ import annotations

import re
from collections.abc import Hashable
from dataclasses import dataclass, field
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
        return None, issues
    return LoadedModel(file, spec), issues


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
