"""Development secrets (the JWT secret, the embed token secret), so that `make run` works on a
fresh machine with no key configured.

It is created once under the data folder (mode 0600) and reused on later starts, so tokens
minted by `cohort dev-token` keep working across restarts and across uvicorn workers.
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
from pathlib import Path

from api.settings import SettingsError

FILE_NAME = "jwt-dev-secret"
SECRET_BYTES = 32  # 256 bits: the HS256 minimum (RFC 7518 section 3.2)
log = logging.getLogger(__name__)


def dev_secret_path(data_dir: Path, name: str = FILE_NAME) -> Path:
    return data_dir / name


def load_or_create(data_dir: Path, name: str = FILE_NAME) -> bytes:
    path = dev_secret_path(data_dir, name)
    if not path.exists():
        _create(path)
    return _read(path)


def _create(path: Path) -> None:
    """Write the whole secret to a private temporary file, then link it into place: link()
    fails if the file exists, so workers starting together agree on one secret and none of
    them ever reads a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as file:
            file.write(secrets.token_hex(SECRET_BYTES) + "\n")
        try:
            os.link(temporary, path)
        except FileExistsError:
            return
        log.warning("created a development secret in %s", path)
    finally:
        temporary.unlink(missing_ok=True)


def _read(path: Path) -> bytes:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        path.chmod(0o600)
        log.warning("%s was readable by others (mode %o): now 0600", path, mode)
    text = path.read_text(encoding="ascii", errors="replace").strip()
    try:
        secret = bytes.fromhex(text)
    except ValueError:
        secret = b""
    if len(secret) != SECRET_BYTES:
        raise SettingsError(f"{path} is not a development secret (64 hex digits): delete it")
    return secret
