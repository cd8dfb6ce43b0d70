"""The test suite's JWT secret and the type of the `mint` fixture."""

from __future__ import annotations

from collections.abc import Callable

TEST_JWT_SECRET = "test-secret-that-is-long-enough-for-hs256!"
Mint = Callable[..., str]
