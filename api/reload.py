"""Model reload: rebuild the schema when the model files change, without a restart.

The folder is polled (file names, sizes and modification times); an invalid change
keeps the running schema and logs every problem. Reading and validating the files runs
in a worker thread, off the event loop; the new schema is applied on it.
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


def changes(before: Registry | None, after: Registry) -> str:
    """What a reload changed, in words: models added, removed and changed."""
    old = {} if before is None else dict(before.models)
    added = sorted(set(after.models) - set(old))
    removed = sorted(set(old) - set(after.models))
    changed = sorted(name for name in set(old) & set(after.models) if old[name] != after.models[name])
    parts = [
        f"{label} {', '.join(names)}"
        for label, names in (("added", added), ("removed", removed), ("changed", changed))
        if names
    ]
    return "; ".join(parts) or "no model changed"


class ModelWatcher:
    def __init__(
        self,
        directory: Path,
        apply: Callable[[Registry], None],
        interval_s: float,
        current: Registry | None = None,
    ) -> None:
        self.directory = directory
        self.apply = apply
        self.interval_s = interval_s
        self.current = current
        self.seen = fingerprint(directory)

    def _load_if_changed(self) -> Registry | None:
        current = fingerprint(self.directory)
        if current == self.seen:
            return None
        self.seen = current
        try:
            return load_registry(self.directory)
        except ModelValidationError as exc:
            log.error("model files changed but are invalid; still serving the previous schema\n%s", exc)
            return None

    def _apply(self, registry: Registry | None) -> bool:
        if registry is None:
            return False
        before, self.current = self.current, registry
        self.apply(registry)
        log.info("models reloaded: version %s (%s)", registry.version, changes(before, registry))
        return True

    def check(self) -> bool:
        """Reload if the files changed; True when a new registry was applied."""
        return self._apply(self._load_if_changed())

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                self._apply(await asyncio.to_thread(self._load_if_changed))
            except Exception:  # a reload must never take the server down
                log.exception("model reload failed; still serving the previous schema")
