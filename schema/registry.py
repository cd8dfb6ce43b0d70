"""The registry: the validated models, the only schema API the rest of Cohort reads."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import orjson

from schema.spec import ModelSpec

if TYPE_CHECKING:
    from schema.dashboards import Dashboard


class UnknownModelError(KeyError):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name

    def __str__(self) -> str:
        return f"unknown model {self.name!r}"


@dataclass(frozen=True, slots=True)
class Registry:
    models: Mapping[str, ModelSpec]
    files: Mapping[str, str] = field(default_factory=dict)  # model name -> file it came from
    # Dashboards checked against these models (schema/dashboards.py), by name.
    dashboards: Mapping[str, Dashboard] = field(default_factory=dict)
    dashboard_files: Mapping[str, str] = field(default_factory=dict)
    # A digest of every model's definition: it changes whenever a model does (not with a
    # dashboard: cached results stay valid).
    version: str = field(init=False)

    def __post_init__(self) -> None:
        canonical = orjson.dumps(
            {name: spec.model_dump(mode="json") for name, spec in self.models.items()},
            option=orjson.OPT_SORT_KEYS,
        )
        object.__setattr__(self, "version", hashlib.sha256(canonical).hexdigest()[:16])

    def model(self, name: str) -> ModelSpec:
        try:
            return self.models[name]
        except KeyError:
            raise UnknownModelError(name) from None

    def __contains__(self, name: object) -> bool:
        return name in self.models
