"""Tenant and role names: refused only for what is unsafe, so a warehouse's own tenant
values (`3`, `BBB`, a uuid, `northbridge-university`) are used as they are, case kept.

Unsafe is what could smuggle a policy separator (`,`), a namespace prefix (`role:`), a
wildcard (`*`), a path or pattern character, whitespace or a control character into Casbin
or a log line. Roles are stored as `role:<name>`, principals as `user:<sub>` or
`token:<id>`, so neither can be mistaken for the other.
"""

from __future__ import annotations

import re

# Letters, digits and `. _ - @`, starting with a letter or digit; checked to the very end
# (fullmatch: `$` would let a final newline through).
_PATTERNS = {
    "tenant": re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}"),
    "role": re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}"),
}
_RULES = {
    "tenant": "letters, digits and . _ - @, starting with a letter or digit, at most 128 characters",
    "role": "letters, digits, - and _, starting with a letter or digit, at most 63 characters",
}
ROLE_PREFIX = "role:"


class InvalidNameError(ValueError):
    pass


def check_name(value: str, what: str) -> str:
    """`value` if it is a safe `what` ("tenant" or "role") name; InvalidNameError otherwise."""
    pattern = _PATTERNS[what]
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise InvalidNameError(
            f"invalid {what} name {value!r}: use {_RULES[what]} (no separators, wildcards, "
            "spaces or control characters)"
        )
    return value


def role_subject(role: str) -> str:
    return ROLE_PREFIX + check_name(role, "role")
