"""API token strings: `cohort_` + 192 random bits in base62 + a base62 CRC32 of the random part.

The prefix lets secret scanners recognise a leaked token; the checksum rejects a typo or a
truncated token without a database query (it is not a secret: anyone can compute it).
Only `token_hash(token)` is ever stored.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import zlib

PREFIX = "cohort_"
RANDOM_BYTES = 24  # 192 bits
RANDOM_CHARS = 33  # 62**33 > 2**192
CHECKSUM_CHARS = 6  # 62**6 > 2**32
TOKEN_LENGTH = len(PREFIX) + RANDOM_CHARS + CHECKSUM_CHARS
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SHAPE = re.compile(f"{PREFIX}[0-9A-Za-z]{{{RANDOM_CHARS + CHECKSUM_CHARS}}}", re.ASCII)


def _base62(number: int, width: int) -> str:
    """Fixed width, zero-padded: every token has the same length."""
    digits = []
    for _ in range(width):
        number, digit = divmod(number, 62)
        digits.append(_ALPHABET[digit])
    if number:
        raise ValueError("number too large for the width")
    return "".join(reversed(digits))


def _checksum(random_part: str) -> str:
    return _base62(zlib.crc32(random_part.encode("ascii")), CHECKSUM_CHARS)


def new_token() -> str:
    random_part = _base62(int.from_bytes(secrets.token_bytes(RANDOM_BYTES), "big"), RANDOM_CHARS)
    return PREFIX + random_part + _checksum(random_part)


def checksum_ok(token: object) -> bool:
    if not isinstance(token, str) or not _SHAPE.fullmatch(token):
        return False
    body = token[len(PREFIX) :]
    return _checksum(body[:RANDOM_CHARS]) == body[RANDOM_CHARS:]


def token_hash(token: str) -> bytes:
    """SHA-256 of the whole token. A fast hash is right here: the token has 192 random bits,
    so there is nothing to brute-force, unlike a password."""
    return hashlib.sha256(token.encode("ascii")).digest()


def last_four(token: str) -> str:
    return token[-4:]
