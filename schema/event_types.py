"""The event types Cohort ingests (POST /events): a file the data team owns, like the models.

```yaml
events:
  module_completed:
    description: A learner finished a module.
    fields:
      learner_id:    {type: string, max_length: 64}
      course_id:     {type: integer, min: 1}
      minutes_spent: {type: integer, min: 0, required: false}
```

Every event carries the envelope (`id`, `type`, `occurred_at`) and exactly the fields its
type declares: a missing required field, an unknown one or a value of the wrong type is a
rejected event. Loading reports every problem of the file at once.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from schema.issues import Issue, ModelValidationError
from schema.spec import NAME_PATTERN

FieldType = Literal["string", "integer", "number", "boolean", "time"]
ENVELOPE = ("id", "type", "occurred_at")
INT64 = (-(2**63), 2**63 - 1)


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EventField(_Spec):
    type: FieldType
    description: str | None = None
    required: bool = True  # false: the field may be absent or null
    min: float | None = None  # integer and number fields
    max: float | None = None
    max_length: int | None = Field(default=None, ge=1)  # string fields
    values: tuple[str, ...] | None = Field(default=None, min_length=1)  # string fields: the allowed ones

    @model_validator(mode="after")
    def _fits_type(self) -> EventField:
        if (self.min is not None or self.max is not None) and self.type not in ("integer", "number"):
            raise ValueError("min and max apply to integer and number fields")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min is greater than max")
        if (self.max_length is not None or self.values is not None) and self.type != "string":
            raise ValueError("max_length and values apply to string fields")
        return self


class EventType(_Spec):
    description: str | None = None
    fields: dict[str, EventField] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _names(self) -> EventType:
        for name in self.fields:
            if name in ENVELOPE:
                raise ValueError(f"{name!r} is part of every event's envelope; it cannot be a field")
            if not _valid_name(name):
                raise ValueError(f"field name {name!r}: use snake_case")
        return self


class EventCatalog(_Spec):
    events: dict[str, EventType]

    @model_validator(mode="after")
    def _names(self) -> EventCatalog:
        if not self.events:
            raise ValueError("declare at least one event type")
        for name in self.events:
            if not _valid_name(name):
                raise ValueError(f"event type {name!r}: use snake_case")
        return self


def _valid_name(name: str) -> bool:
    return re.fullmatch(NAME_PATTERN, name) is not None


def load_event_catalog(path: Path) -> EventCatalog:
    """The catalog in `path`; ModelValidationError with every problem otherwise."""
    file = path.name
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ModelValidationError([Issue(file, "events", f"cannot read the file: {exc.strerror}")]) from None
    except yaml.YAMLError as exc:
        raise ModelValidationError([Issue(file, "events", f"not valid YAML: {exc}")]) from None
    try:
        return EventCatalog.model_validate(data)
    except ValidationError as exc:
        issues = [
            Issue(file, ".".join(str(part) for part in error["loc"]) or "events", error["msg"])
            for error in exc.errors()
        ]
        raise ModelValidationError(issues) from None
