"""A request body split into its events' raw JSON, not yet checked one by one.

`application/json`: one JSON array of events (a body that is not a JSON array is refused
whole: nothing in it can be told apart). `application/x-ndjson` (or `application/jsonl`):
one event per line, blank lines skipped; a line that is not JSON is one rejected event.
"""

from __future__ import annotations

import msgspec

JSON = "application/json"
JSON_LINES = ("application/x-ndjson", "application/jsonl", "application/json-lines")
_split_array = msgspec.json.Decoder(list[msgspec.Raw]).decode


class BodyError(ValueError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def split_events(body: bytes, media: str, max_events: int) -> list[bytes]:
    if media == JSON:
        try:
            raws = [bytes(raw) for raw in _split_array(body)]
        except msgspec.DecodeError:  # ValidationError (not an array) included
            raise BodyError(400, "the body must be a JSON array of events") from None
    elif media in JSON_LINES:
        raws = [line for line in (part.strip() for part in body.split(b"\n")) if line]
    else:
        raise BodyError(415, f"send the events as {JSON} (an array) or {JSON_LINES[0]} (one per line)")
    if not raws:
        raise BodyError(400, "the batch holds no events")
    if len(raws) > max_events:
        raise BodyError(413, f"a batch holds at most {max_events} events; this one has {len(raws)}")
    return raws
