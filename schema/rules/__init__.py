"""Validation rules over all loaded models; each returns the issues it finds."""

from __future__ import annotations

from collections.abc import Callable

from schema.issues import Issue
from schema.loader import Loaded
from schema.rules import joins, members, names, references, rollups

Rule = Callable[[Loaded], list[Issue]]

RULES: tuple[Rule, ...] = (names.check, members.check, references.check, joins.check, rollups.check)
