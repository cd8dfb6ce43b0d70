"""The one error authentication raises, and the RFC 6750 challenge that goes with it."""

from __future__ import annotations

import re
from typing import Literal

REALM = "cohort"
BearerError = Literal["invalid_token", "invalid_request"]
# RFC 6750 section 3: error_description is %x20-21 / %x23-5B / %x5D-7E (no quote, no backslash).
_UNSAFE = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")


class AuthenticationError(Exception):
    """The request carries no usable credentials.

    `reason` is safe to show to the client: it names what is wrong, never the token nor a
    claim's value. `error` is None when no bearer credentials were given (the challenge then
    only names the realm, as RFC 6750 asks), "invalid_token" when a token was rejected and
    "invalid_request" when the Authorization header is malformed (HTTP 400 rather than 401).
    """

    def __init__(
        self, reason: str, *, error: BearerError | None = "invalid_token", code: str = "UNAUTHENTICATED"
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.error = error
        self.code = code  # extensions.code: EMBED_SESSION_EXPIRED tells a page to ask for a new session

    @property
    def status_code(self) -> int:
        return 400 if self.error == "invalid_request" else 401

    @property
    def challenge(self) -> str:
        """The WWW-Authenticate header value."""
        if self.error is None:
            return f'Bearer realm="{REALM}"'
        description = _UNSAFE.sub("?", self.reason)
        return f'Bearer realm="{REALM}", error="{self.error}", error_description="{description}"'


def no_credentials(reason: str = "bearer credentials are required") -> AuthenticationError:
    return AuthenticationError(reason, error=None)
