"""Model reload: rebuild the schema when the model (or dashboard) files change, without a restart.

The folders are polled (file names, sizes and modification times); an invalid change
keeps the running schema and logs every problem. Reading and validating the files runs
in a worker thread, off the event loop; the new schema is applied on it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from pathlib import Path

from schema.issues import ModelValidationError
from schema.registry import Registry
from schema.validator import load_registry

log = logging.getLogger("cohort.reload")

Fingerprint = tuple[tuple[str, int, int], ...]


def fingerprint(directory: Path, *more: Path | None) -> Fingerprint:
    found = []
    paths = [path for folder in (directory, *more) if folder is not None for path in _files(folder)]
    for path in paths:
        try:
            stat = path.stat()
        except FileNotFoundError:
            continue
        found.append((str(path), stat.st_size, stat.st_mtime_ns))
    return tuple(found)


def _files(directory: Path) -> list[Path]:
    return sorted([*directory.glob("*.yml"), *directory.glob("*.yaml")])


def _changed(old: Mapping[str, object], new: Mapping[str, object], what: str) -> list[str]:
    added = sorted(set(new) - set(old))
    removed = sorted(set(old) - set(new))
    changed = sorted(name for name in set(old) & set(new) if old[name] != new[name])
    return [
        f"{label} {what}{', '.join(names)}"
        for label, names in (("added", added), ("removed", removed), ("changed", changed))
        if names
    ]


def changes(before: Registry | None, after: Registry) -> str:
    """What a reload changed, in words: models (and dashboards) added, removed and changed."""
    models = _changed({} if before is None else before.models, after.models, "")
    dashboards = _changed({} if before is None else before.dashboards, after.dashboards, "dashboards ")
    return "; ".join(models + dashboards) or "no model changed"


class ModelWatcher:
    def __init__(
        self,
        directory: Path,
        apply: Callable[[Registry], None],
        interval_s: float,
        current: Registry | None = None,
        dashboards: Path | None = None,
    ) -> None:
        self.directory = directory
        self.dashboards = dashboards
        self.apply = apply
        self.interval_s = interval_s
        self.current = current
        self.seen = fingerprint(directory, dashboards)

    def _load_if_changed(self) -> Registry | None:
        current = fingerprint(self.directory, self.dashboards)
        if current == self.seen:
            return None
        self.seen = current
        try:
            return load_registry(self.directory, self.dashboards)
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
