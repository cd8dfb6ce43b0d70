"""Tenant and role names: plain words, so they can never smuggle a policy separator or a
wildcard into Casbin, nor be mistaken for each other (roles are stored as `role:<name>`,
principals as `user:<sub>` or `token:<id>`)."""

from __future__ import annotations

import re

NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
_NAME = re.compile(NAME_PATTERN)
ROLE_PREFIX = "role:"


class InvalidNameError(ValueError):
    pass


def check_name(value: str, what: str) -> str:
    if not isinstance(value, str) or not _NAME.fullmatch(value):  # `$` would allow a final newline
        raise InvalidNameError(f"invalid {what} name {value!r}: use lowercase letters, digits, '-' and '_'")
    return value


def role_subject(role: str) -> str:
    return ROLE_PREFIX + check_name(role, "role")
