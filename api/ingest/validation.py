"""Events checked against their declared type (schema/events.yml), one by one.

The catalog becomes one msgspec Struct per event type, tagged by `type`, with exactly the
declared fields (unknown ones refused); decoding an event's raw JSON into their union is
the whole check, in C. An event that does not decode is rejected with msgspec's reason
(`Expected int, got str - at $.course_id`) and kept with its raw bytes; one that does is
accepted with its fields re-encoded as the JSON stored in `data`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal, NamedTuple, Union

import msgspec

from api.ingest.tables import day_start, event_key, first_kept_day
from schema.event_types import INT64, EventCatalog, EventField

MAX_ID_CHARS = 128
MAX_FUTURE = timedelta(days=1)  # clocks drift; an event from further ahead is a client's bug
_REPORTED_CHARS = 200  # of a rejected event's id or type, in the answer
_encode = msgspec.json.Encoder().encode
_NUL = re.compile(r"\x00")

EventId = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_ID_CHARS)]
Time = Annotated[datetime, msgspec.Meta(tz=True)]


class AcceptedEvent(NamedTuple):  # a tuple: made for every event, it must be cheap
    position: int  # in the batch
    event_id: str
    event_type: str
    occurred_at: datetime
    data: str  # the declared fields, as JSON
    key: bytes  # event_key(tenant, event_id): made here, outside the commit's critical section


@dataclass(frozen=True, slots=True)
class RejectedEvent:
    position: int
    event_id: str | None  # when the payload had one (as a string)
    event_type: str | None
    reason: str
    payload: bytes  # exactly as received


class _Envelope(msgspec.Struct):
    """What a rejected event can still tell about itself."""

    id: Any = None
    type: Any = None


def _field_type(spec: EventField) -> Any:
    meta: dict[str, Any] = {}
    base: Any
    match spec.type:
        case "string":
            base = str
            if spec.max_length is not None:
                meta["max_length"] = spec.max_length
        case "integer":
            base = int
            meta["ge"] = int(spec.min) if spec.min is not None else INT64[0]
            meta["le"] = int(spec.max) if spec.max is not None else INT64[1]
        case "number":
            base = float
            if spec.min is not None:
                meta["ge"] = spec.min
            if spec.max is not None:
                meta["le"] = spec.max
        case "boolean":
            base = bool
        case "time":
            base = Time
    if spec.values is not None:
        base = Literal[spec.values]
    elif meta:
        base = Annotated[base, msgspec.Meta(**meta)]
    if not spec.required:
        return Union[base, None, msgspec.UnsetType]  # noqa: UP007
    return base


class EventValidator:
    def __init__(self, catalog: EventCatalog, retention_days: int) -> None:
        self.retention_days = retention_days
        self._fields: dict[type, tuple[str, ...]] = {}
        self._names: dict[type, str] = {}
        self._data: dict[type, type] = {}  # the type's fields alone: what `data` holds
        structs = []
        for name, event_type in catalog.events.items():
            fields: list[Any] = [("id", EventId), ("occurred_at", Time)]
            for field_name, spec in event_type.fields.items():
                kind = _field_type(spec)
                fields.append((field_name, kind, msgspec.UNSET) if not spec.required else (field_name, kind))
            # Required fields first: msgspec (like dataclasses) wants defaults last.
            fields.sort(key=lambda field: len(field) == 3)
            struct = msgspec.defstruct(
                f"Event_{name}", fields, tag=name, tag_field="type", forbid_unknown_fields=True
            )
            self._data[struct] = msgspec.defstruct(f"Data_{name}", fields[2:], omit_defaults=True)
            self._fields[struct] = tuple(field[0] for field in fields[2:])
            self._names[struct] = name
            structs.append(struct)
        union: Any = structs[0] if len(structs) == 1 else Union[tuple(structs)]  # noqa: UP007
        self._decode = msgspec.json.Decoder(union).decode
        self._envelope = msgspec.json.Decoder(_Envelope).decode

    def validate(
        self, raws: Sequence[bytes], now: datetime, tenant: str
    ) -> tuple[list[AcceptedEvent], list[RejectedEvent]]:
        earliest = day_start(first_kept_day(now.date(), self.retention_days))
        latest = now + MAX_FUTURE
        accepted: list[AcceptedEvent] = []
        rejected: list[RejectedEvent] = []
        for index, raw in enumerate(raws):
            try:
                event = self._decode(raw)
            except (msgspec.ValidationError, msgspec.DecodeError) as error:
                rejected.append(self._rejected(index, raw, _reason(error)))
                continue
            occurred = event.occurred_at
            problem = None
            if occurred < earliest:
                problem = f"occurred_at is before the retention window, which starts on {earliest:%Y-%m-%d}"
            elif occurred > latest:
                problem = "occurred_at is more than 24 hours ahead of the server's clock"
            elif b"u0000" in raw and self._has_nul(event):
                problem = "strings may not contain the NUL character (\\u0000)"
            if problem is not None:
                rejected.append(self._rejected(index, raw, problem))
                continue
            kind = type(event)
            data = _encode(self._data[kind](*msgspec.structs.astuple(event)[2:])).decode()
            key = event_key(tenant, event.id)
            accepted.append(AcceptedEvent(index, event.id, self._names[kind], occurred, data, key))
        return accepted, rejected

    def _has_nul(self, event: Any) -> bool:
        values = [event.id, *(getattr(event, name) for name in self._fields[type(event)])]
        return any(isinstance(value, str) and _NUL.search(value) for value in values)

    def _rejected(self, index: int, raw: bytes, reason: str) -> RejectedEvent:
        try:
            envelope = self._envelope(raw)
        except (msgspec.ValidationError, msgspec.DecodeError):
            envelope = _Envelope()
        return RejectedEvent(index, _reported(envelope.id), _reported(envelope.type), reason, bytes(raw))


def _reported(value: Any) -> str | None:
    if not isinstance(value, str) or "\x00" in value:
        return None
    return value[:_REPORTED_CHARS]


def _reason(error: Exception) -> str:
    message = str(error)
    if not isinstance(error, msgspec.ValidationError):  # a ValidationError is a DecodeError too
        return f"not valid JSON: {message}"
    if message.startswith("Invalid value") and message.endswith("at `$.type`"):
        return f"unknown event type: {message}"
    return message
