"""Checks shared by JWT claims, API token records and the CLI: what a principal may carry.

Every function raises ValueError (InvalidNameError for names) with a message that names the
field, never its value, so callers can pass the message on to a client.
"""

from __future__ import annotations

import re
from typing import Any

from authz.names import InvalidNameError, check_name
from authz.principal import AttributeValue

MAX_ROLES = 32
MAX_ATTRIBUTES = 32
MAX_ATTRIBUTE_TEXT = 256
MAX_SUBJECT = 255
_INT64 = 2**63  # attribute values are bound as SQL parameters: keep them inside bigint
_ATTRIBUTE_KEY = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_SUBJECT = re.compile(r"^[\x21-\x7e]+$")  # printable ASCII, no spaces or control characters


def check_subject(value: Any) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= MAX_SUBJECT or not _SUBJECT.fullmatch(value):
        raise ValueError("invalid sub claim: 1 to 255 printable ASCII characters, no spaces")
    return value


def check_tenant(value: Any) -> str:
    try:
        return check_name(value, "tenant")
    except InvalidNameError:
        raise InvalidNameError("invalid tenant name") from None


def check_roles(value: Any) -> tuple[str, ...]:
    """A non-empty list of role names, duplicates dropped, order kept."""
    if not isinstance(value, list | tuple) or not value:
        raise ValueError("roles must be a non-empty list of role names")
    if len(value) > MAX_ROLES:
        raise ValueError(f"at most {MAX_ROLES} roles")
    for role in value:
        try:
            check_name(role, "role")
        except InvalidNameError:
            raise InvalidNameError("invalid role name") from None
    return tuple(dict.fromkeys(value))


def check_attributes(value: Any) -> dict[str, AttributeValue]:
    """An object of string or integer values with plain keys (None means no attributes)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError("attrs must be an object")
    if len(value) > MAX_ATTRIBUTES:
        raise ValueError(f"at most {MAX_ATTRIBUTES} attributes")
    checked: dict[str, AttributeValue] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not _ATTRIBUTE_KEY.fullmatch(key):
            raise ValueError("attribute names use lowercase letters, digits and '_'")
        # bool is an int subclass: true/false are not attribute values.
        if isinstance(item, bool) or not isinstance(item, int | str):
            raise ValueError(f"attribute {key!r} must be a string or an integer")
        if isinstance(item, int) and not -_INT64 <= item < _INT64:
            raise ValueError(f"attribute {key!r} is out of range")
        if isinstance(item, str) and len(item) > MAX_ATTRIBUTE_TEXT:
            raise ValueError(f"attribute {key!r} is longer than {MAX_ATTRIBUTE_TEXT} characters")
        checked[key] = item
    return checked
