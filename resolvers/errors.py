"""Errors of the query path. `QueryError` messages are safe to show to clients."""

from __future__ import annotations


class ResolverError(Exception):
    """Root of this package's errors."""

    code = "INTERNAL_SERVER_ERROR"


class QueryError(ResolverError):
    """The client asked for something invalid; the message says what and where."""

    code = "BAD_USER_INPUT"


class QueryTimeoutError(ResolverError):
    """The statement ran past its timeout and was cancelled by PostgreSQL."""

    code = "TIMEOUT"


class ExecutionError(ResolverError):
    """The database failed for a reason the client cannot fix (masked for clients)."""


class QueryTooExpensive(ResolverError):
    """PostgreSQL's estimate of the query's cost is over the principal's budget: refused
    before it runs."""

    code = "QUERY_TOO_EXPENSIVE"
