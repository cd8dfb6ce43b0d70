"""Validation: run every rule over every model file, raise once with all the issues."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from schema.issues import Issue, ModelValidationError
from schema.loader import LoadedModel, load_directory, load_text
from schema.registry import Registry
from schema.rules import RULES


def validate(models: Sequence[LoadedModel], issues: Sequence[Issue] = ()) -> Registry:
    """The registry of `models`, or ModelValidationError listing every problem."""
    found = list(issues)
    for rule in RULES:
        found.extend(rule(models))
    if found:
        raise ModelValidationError(found)
    return Registry(
        models={loaded.spec.model: loaded.spec for loaded in models},
        files={loaded.spec.model: loaded.file for loaded in models},
    )


def load_registry(directory: Path) -> Registry:
    models, issues = load_directory(directory)
    return validate(models, issues)


def registry_from_texts(texts: dict[str, str]) -> Registry:
    """A registry from in-memory files (name -> YAML text); handy for tests and tools."""
    models: list[LoadedModel] = []
    issues: list[Issue] = []
    for file, text in sorted(texts.items()):
        model, found = load_text(text, file)
        issues.extend(found)
        if model is not None:
            models.append(model)
    return validate(models, issues)
