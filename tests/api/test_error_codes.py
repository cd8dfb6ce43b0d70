"""The codes the README promises in `extensions.code` are the codes the code produces."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("api", "authz", "resolvers", "cache", "schema")
# `code = "X"`, `"code": "X"`, `code: str = "X"`, `code: str = "X"` defaults, `Refused(..., "X")` refusals
PRODUCED = re.compile(
    r"""(?:\bcode\b(?:\s*:\s*str)?\s*=\s*|["']code["']\s*:\s*|Refused\([^)]*,\s*)["']([A-Z]{3,}(?:_[A-Z]+)*)["']"""
)


def _readme_codes() -> set[str]:
    text = "\n".join(path.read_text() for path in (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))))
    start = text.index("**Errors** always carry `extensions.code`")
    paragraph = text[start : text.index("\n\n", start)]
    return set(re.findall(r"`([A-Z]{3,}(?:_[A-Z]+)*)`", paragraph))


def _produced_codes() -> set[str]:
    found: set[str] = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            found |= set(PRODUCED.findall(path.read_text()))
    return found


def test_the_readme_lists_every_code_and_only_those() -> None:
    listed, produced = _readme_codes(), _produced_codes()
    assert {"BAD_USER_INPUT", "GRAPHQL_VALIDATION_FAILED", "UNAUTHENTICATED", "TIMEOUT"} <= produced
    assert listed == produced, f"README only: {listed - produced}; code only: {produced - listed}"
