"""Validation: run every rule over every model file, raise once with all the issues."""

from __future__ import annotations

from pathlib import Path

from schema import dashboards as dashboard_files
from schema.issues import Issue, ModelValidationError
from schema.loader import Loaded, load_directory
from schema.registry import Registry
from schema.rules import RULES


def validate(loaded: Loaded) -> Registry:
    """The registry of the loaded models, or ModelValidationError listing every problem."""
    found = list(loaded.issues)
    for rule in RULES:
        found.extend(rule(loaded))
    if found:
        raise ModelValidationError(found)
    return Registry(
        models={model.spec.model: model.spec for model in loaded.models},
        files={model.spec.model: model.file for model in loaded.models},
    )


def load_registry(directory: Path, dashboards: Path | None = None) -> Registry:
    """The models of `directory` and, when `dashboards` is given, the dashboards of that
    folder (none if it does not exist) checked against them; every problem raised at once."""
    registry = validate(load_directory(directory))
    if dashboards is None:
        return registry
    return with_dashboards(registry, *dashboard_files.load_directory(dashboards))


def with_dashboards(
    registry: Registry, loaded: list[dashboard_files.LoadedDashboard], issues: list[Issue]
) -> Registry:
    issues = [*issues, *dashboard_files.check(registry, loaded)]
    if issues:
        raise ModelValidationError(issues)
    return Registry(
        registry.models,
        registry.files,
        {d.spec.dashboard: d.spec for d in loaded},
        {d.spec.dashboard: d.file for d in loaded},
    )


def registry_from_texts(texts: dict[str, str]) -> Registry:
    """A registry from in-memory files (name -> YAML text); handy for tests and tools."""
    loaded = Loaded()
    for file, text in sorted(texts.items()):
        loaded.add(text, file)
    return validate(loaded)
