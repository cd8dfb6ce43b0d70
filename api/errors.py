"""GraphQL errors as clients see them: a message and `extensions.code`, internals masked."""

from __future__ import annotations

import logging
from typing import Any

from graphql import GraphQLError

from authz.errors import AccessDenied, PolicyUnavailable
from resolvers.errors import ResolverError

log = logging.getLogger("cohort.errors")

INTERNAL = "INTERNAL_SERVER_ERROR"
MASKED_MESSAGE = "Internal server error"


def error_code(error: GraphQLError) -> str:
    original = error.original_error
    if original is None:
        return str((error.extensions or {}).get("code") or "BAD_USER_INPUT")
    if isinstance(original, ResolverError | AccessDenied | PolicyUnavailable):
        return original.code
    if isinstance(original, GraphQLError):
        return error_code(original)
    return INTERNAL


def format_error(error: GraphQLError) -> dict[str, Any]:
    code = error_code(error)
    if code == INTERNAL:
        log.error("internal error at %s", error.path, exc_info=error.original_error)
        formatted: dict[str, Any] = {"message": MASKED_MESSAGE}
    else:
        formatted = {"message": error.message}
        if error.locations:
            formatted["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    if error.path:
        formatted["path"] = error.path
    formatted["extensions"] = {"code": code}
    return formatted


def request_error(message: str, code: str = "BAD_USER_INPUT") -> dict[str, Any]:
    return {"message": message, "extensions": {"code": code}}
