"""The progress bar of a seeding: a line per table (and step), drawn on stderr."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Protocol

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn


class SeedProgress(Protocol):
    def advance(self, line: str, rows: int) -> None: ...

    def expect(self, line: str, total: int) -> None:
        """The total of a line learnt during the seeding (a line without one pulses)."""


class _Silent:
    def advance(self, line: str, rows: int) -> None:
        pass

    def expect(self, line: str, total: int) -> None:
        pass


class _Drawn:
    def __init__(self, bar: Progress, tasks: Mapping[str, TaskID]) -> None:
        self._bar = bar
        self._tasks = tasks

    def advance(self, line: str, rows: int) -> None:
        self._bar.advance(self._tasks[line], rows)

    def expect(self, line: str, total: int) -> None:
        self._bar.update(self._tasks[line], total=total)


@contextmanager
def progress_bar(enabled: bool, lines: Sequence[str], planned: Mapping[str, int]) -> Iterator[SeedProgress]:
    """A bar per line when enabled; `planned` holds the totals known up front."""
    if not enabled:
        yield _Silent()
        return
    columns = (
        TextColumn("{task.description:<24}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=Console(stderr=True)) as bar:
        tasks = {line: bar.add_task(line, total=planned.get(line)) for line in lines}
        yield _Drawn(bar, tasks)
        for task in bar.tasks:
            bar.update(task.id, total=task.completed)
