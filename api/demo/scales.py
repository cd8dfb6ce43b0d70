"""How big the demo warehouse is at each named scale."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Scale:
    """Sizes of the demo warehouse; every other table's size follows from these."""

    name: str
    universities: int
    enterprises: int
    instructors_per_university: int
    courses: int
    learners: int
    enrollments: int
    max_enrollments_per_learner: int = 25


_KNOWN = (
    # For tests: ~4k enrollments, ~30k progress events; seeds in under a second.
    Scale(
        "tiny",
        universities=3,
        enterprises=3,
        instructors_per_university=4,
        courses=30,
        learners=1_500,
        enrollments=4_000,
    ),
    # The demo a developer runs: ~475k progress events; seeds in ~7 s on 2 cores.
    Scale(
        "default",
        universities=12,
        enterprises=16,
        instructors_per_university=10,
        courses=360,
        learners=20_000,
        enrollments=55_000,
    ),
    # For benchmarks: ~11.4M progress events, ~20M rows; seeds in ~3 min on 2 cores.
    Scale(
        "large",
        universities=40,
        enterprises=120,
        instructors_per_university=25,
        courses=2_400,
        learners=450_000,
        enrollments=1_250_000,
    ),
)
SCALES: dict[str, Scale] = {scale.name: scale for scale in _KNOWN}


def get_scale(name: str) -> Scale:
    """The scale called `name`; ValueError naming the known scales otherwise."""
    try:
        return SCALES[name]
    except KeyError:
        known = ", ".join(SCALES)
        raise ValueError(f"unknown demo scale {name!r}; known scales: {known}") from None
