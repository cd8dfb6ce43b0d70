"""Validation: run every rule over every model file, raise once with all the issues."""

from __future__ import annotations

from pathlib import Path

from schema.issues import ModelValidationError
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


def load_registry(directory: Path) -> Registry:
    return validate(load_directory(directory))


def registry_from_texts(texts: dict[str, str]) -> Registry:
    """A registry from in-memory files (name -> YAML text); handy for tests and tools."""
    loaded = Loaded()
    for file, text in sorted(texts.items()):
        loaded.add(text, file)
    return validate(loaded)
