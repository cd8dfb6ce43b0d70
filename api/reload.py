"""Model reload: rebuild the schema when the model files change, without a restart.

The folder is polled (file names, sizes and modification times); an invalid change
keeps the running schema and logs every problem.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from schema.issues import ModelValidationError
from schema.registry import Registry
from schema.validator import load_registry

log = logging.getLogger("cohort.reload")

Fingerprint = tuple[tuple[str, int, int], ...]


def fingerprint(directory: Path) -> Fingerprint:
    found = []
    for path in sorted([*directory.glob("*.yml"), *directory.glob("*.yaml")]):
        try:
            stat = path.stat()
        except FileNotFoundError:
            continue
        found.append((path.name, stat.st_size, stat.st_mtime_ns))
    return tuple(found)


class ModelWatcher:
    def __init__(self, directory: Path, apply: Callable[[Registry], None], interval_s: float) -> None:
        self.directory = directory
        self.apply = apply
        self.interval_s = interval_s
        self.seen = fingerprint(directory)

    def check(self) -> bool:
        """Reload if the files changed; True when a new registry was applied."""
        current = fingerprint(self.directory)
        if current == self.seen:
            return False
        self.seen = current
        try:
            registry = load_registry(self.directory)
        except ModelValidationError as exc:
            log.error("model files changed but are invalid; still serving the previous schema\n%s", exc)
            return False
        self.apply(registry)
        log.info("models reloaded: version %s", registry.version)
        return True

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                self.check()
            except Exception:  # a reload must never take the server down
                log.exception("model reload failed; still serving the previous schema")
