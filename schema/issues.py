"""Validation issues: every problem in the model files, reported at once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True, order=True)
class Issue:
    file: str
    member: str  # "model", "model.measures.count", ...
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: {self.member}: {self.reason}"


class ModelValidationError(Exception):
    """Raised once, with every issue found, when model files are invalid."""

    def __init__(self, issues: Sequence[Issue]) -> None:
        self.issues = tuple(sorted(issues))
        lines = "\n".join(f"  - {issue}" for issue in self.issues)
        super().__init__(f"{len(self.issues)} problem(s) in the model files:\n{lines}")
