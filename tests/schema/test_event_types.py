"""The event types file: the demo's loads; a broken one reports every problem at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.ingest.settings import DEFAULT_EVENTS_FILE
from schema.event_types import load_event_catalog
from schema.issues import ModelValidationError


def test_the_demo_event_types_load() -> None:
    catalog = load_event_catalog(DEFAULT_EVENTS_FILE)
    assert "module_completed" in catalog.events
    assert catalog.events["module_completed"].fields["minutes_spent"].required is False


def test_every_problem_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "events.yml"
    path.write_text(
        "events:\n"
        "  Bad-Name: {fields: {}}\n"
        "  ok_type:\n"
        "    fields:\n"
        "      id: {type: string}\n"
        "      score: {type: number, max_length: 3}\n"
        "      when: {type: date}\n"
        "      extra: {type: string, colour: red}\n",
        encoding="utf-8",
    )
    with pytest.raises(ModelValidationError) as caught:
        load_event_catalog(path)
    reasons = " | ".join(f"{issue.member}: {issue.reason}" for issue in caught.value.issues)
    assert "when.type" in reasons and "string" in reasons  # the allowed types are named
    assert "score" in reasons and "max_length and values apply to string fields" in reasons
    assert "colour" in reasons
    assert len(caught.value.issues) >= 3


def test_an_unreadable_file_is_one_issue(tmp_path: Path) -> None:
    with pytest.raises(ModelValidationError, match="cannot read"):
        load_event_catalog(tmp_path / "missing.yml")
    (tmp_path / "bad.yml").write_text("events: [unclosed", encoding="utf-8")
    with pytest.raises(ModelValidationError, match="not valid YAML"):
        load_event_catalog(tmp_path / "bad.yml")
