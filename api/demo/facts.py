"""Enrollments and what hangs off them: progress events, submissions, feedback, skill scores."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import Final

from api.demo.catalog import Catalog, Course
from api.demo.learners import Learner
from api.demo.scales import Scale
from api.demo.tables import FACT_TABLES, Batch, Row
from api.demo.values import (
    DAY,
    ENROLLMENTS_FROM,
    HORIZON,
    HOUR,
    MINUTE,
    hundredths,
    noise,
    progress_percent,
    skewed,
    table_rng,
    timestamp,
    weighted,
)

COMMENTS: Final = {
    "low": (
        "Too fast for beginners.",
        "The exercises didn't match the lectures.",
        "Couldn't follow after module 2 :(",
        "Zu schwer, zu wenig Erklärungen.",
        "Not what the description promised; I'd like a refund.",
        "Broken links in the reading list <br> please fix",
        "Demasiado teórico.",
    ),
    "mid": (
        "Good content, but the videos were too long.",
        "Some modules felt rushed; others dragged.",
        "OK overall — needs more worked examples.",
        "Bon cours, mais un peu théorique.",
        "Solid intro; the audio in week 3 was poor.",
        "It's fine, I guess. The forum wasn't very active.",
    ),
    "high": (
        "Excellent course, very clear explanations.",
        "Loved the hands-on labs — worth every minute.",
        "Très bien expliqué, merci !",
        "Sehr gut strukturiert. Die Übungen sind top.",
        "¡Excelente curso! Aprendí muchísimo.",
        "非常实用的课程，推荐！",  # noqa: RUF001
        'The "capstone" project tied it all together.',
        "10/10 would recommend 👍",
        "Great pacing.\nThe quizzes were fair.",
    ),
}


def _enrollment_counts(rng: random.Random, learners: Sequence[Learner], total: int, cap: int) -> list[int]:
    """How many enrollments each learner has: `total` in all, at most `cap` each."""
    if total > cap * len(learners):
        raise ValueError(f"{total} enrollments do not fit {len(learners)} learners")
    weights = list(accumulate(learner.activity for learner in learners))
    counts = [0] * len(learners)
    for index in rng.choices(range(len(learners)), cum_weights=weights, k=total):
        counts[index] += 1
    spill = 0
    for index, count in enumerate(counts):
        if count > cap:
            spill += count - cap
            counts[index] = cap
    index = 0
    while spill:  # hand the excess to the next learners with room
        if counts[index] < cap:
            counts[index] += 1
            spill -= 1
        index = (index + 1) % len(counts)
    return counts


class _CoursePicker:
    """Distinct courses for one learner, drawn by popularity."""

    def __init__(self, courses: Sequence[Course]) -> None:
        self._courses = courses
        self._weights = tuple(accumulate(course.popularity for course in courses))

    def pick(self, rng: random.Random, count: int) -> list[Course]:
        chosen: list[int] = []
        while len(chosen) < count:
            index = weighted(rng, self._weights)
            if index not in chosen:
                chosen.append(index)
        return [self._courses[index] for index in chosen]


@dataclass(frozen=True, slots=True)
class _Enrollment:
    id: int
    learner: Learner
    course: Course
    enrolled: int


@dataclass(frozen=True, slots=True)
class _Outcome:
    completions: tuple[int, ...]  # when each completed module was completed, in order
    last_activity: int
    status: str


class _FactWriter:
    """Generates the facts of one enrollment at a time into per-table buffers."""

    def __init__(self, seed: int) -> None:
        self._rngs = {table: table_rng(seed, table) for table in FACT_TABLES}
        self._last_ids = dict.fromkeys(FACT_TABLES, 0)
        self._buffers: dict[str, list[Row]] = {table: [] for table in FACT_TABLES}

    @property
    def buffered(self) -> int:
        return max(len(rows) for rows in self._buffers.values())

    def drain(self) -> Iterator[Batch]:
        """The buffered rows, enrollments first (the other tables refer to them)."""
        for table in FACT_TABLES:
            rows = self._buffers[table]
            if rows:
                self._buffers[table] = []
                yield table, rows

    def _next_id(self, table: str) -> int:
        self._last_ids[table] += 1
        return self._last_ids[table]

    def enroll(self, learner: Learner, course: Course) -> None:
        rng = self._rngs["enrollments"]
        first = max(ENROLLMENTS_FROM, learner.signed_up, course.launched)
        enrollment = _Enrollment(
            self._next_id("enrollments"), learner, course, rng.randint(first, HORIZON - 1)
        )
        started, completed = self._plan(rng, learner, course)
        completions, last_activity = self._progress_events(enrollment, started, completed)
        modules = len(course.module_ids)
        finished = len(completions) == modules
        dropped = not finished and rng.random() < 0.25
        status = "completed" if finished else "dropped" if dropped else "active"
        grade = hundredths(40 + 55 * learner.ability + noise(rng, 10)) if finished else None
        self._buffers["enrollments"].append(
            (
                enrollment.id,
                learner.id,
                course.id,
                course.partner_id,
                learner.enterprise_id,
                timestamp(enrollment.enrolled),
                status,
                progress_percent(len(completions), modules),
                timestamp(completions[-1]) if finished else None,
                grade,
                timestamp(last_activity),
            )
        )
        outcome = _Outcome(tuple(completions), last_activity, status)
        self._submissions(enrollment, outcome)
        if last_activity > enrollment.enrolled:
            self._feedback(enrollment, outcome)
        self._skill_scores(enrollment, outcome)

    @staticmethod
    def _plan(rng: random.Random, learner: Learner, course: Course) -> tuple[int, int]:
        """(modules to start, modules to complete); the horizon may cut both short."""
        modules = len(course.module_ids)
        chance = course.completion_rate * (0.6 + 0.8 * learner.ability)
        if learner.enterprise_id is not None:
            chance += 0.07
        if rng.random() < chance:
            return modules, modules
        started = rng.randint(0, modules)
        return started, rng.randint(0, min(started, modules - 1))

    def _progress_events(
        self, enrollment: _Enrollment, started: int, completed: int
    ) -> tuple[list[int], int]:
        """Writes the events; returns the completion times and the last event's time."""
        rng = self._rngs["progress_events"]
        course = enrollment.course
        completions: list[int] = []
        last = enrollment.enrolled
        at = last + MINUTE + int(skewed(rng) * 3 * DAY)
        for position in range(1, started + 1):
            if at >= HORIZON:
                break
            self._event(enrollment, position, "module_started", at, 1 + int(rng.random() * 15))
            last = at
            if position > completed:
                at += 5 * MINUTE + int(skewed(rng) * 5 * DAY)
                continue
            spent = max(1, int(course.module_minutes[position - 1] * (0.5 + rng.random())))
            done = at + spent * MINUTE + int(skewed(rng) * 4 * DAY)
            if done >= HORIZON:
                break
            self._event(enrollment, position, "module_completed", done, spent)
            completions.append(done)
            last = done
            at = done + MINUTE + int(skewed(rng) * 7 * DAY)
        return completions, last

    def _event(self, enrollment: _Enrollment, position: int, kind: str, at: int, minutes: int) -> None:
        course, learner = enrollment.course, enrollment.learner
        self._buffers["progress_events"].append(
            (
                self._next_id("progress_events"),
                enrollment.id,
                learner.id,
                course.id,
                course.module_ids[position - 1],
                course.partner_id,
                learner.enterprise_id,
                kind,
                timestamp(at),
                minutes,
            )
        )

    def _submissions(self, enrollment: _Enrollment, outcome: _Outcome) -> None:
        rng = self._rngs["assessment_submissions"]
        course, learner = enrollment.course, enrollment.learner
        for assessment in course.assessments:
            position = assessment.module_position
            if position is None:  # end of course: only after finishing it
                if outcome.status != "completed" or rng.random() >= 0.9:
                    continue
                after, difficulty = outcome.completions[-1], 8.0
            else:
                if position > len(outcome.completions) or rng.random() >= 0.85:
                    continue
                after, difficulty = outcome.completions[position - 1], 0.0
            at = after + 5 * MINUTE + int(skewed(rng) * 2 * DAY)
            if at >= HORIZON:
                continue
            score = hundredths(35 + 60 * learner.ability - difficulty + noise(rng, 25))
            self._buffers["assessment_submissions"].append(
                (
                    self._next_id("assessment_submissions"),
                    assessment.id,
                    enrollment.id,
                    learner.id,
                    course.id,
                    course.partner_id,
                    learner.enterprise_id,
                    timestamp(at),
                    score,
                    score >= 60,
                )
            )

    def _feedback(self, enrollment: _Enrollment, outcome: _Outcome) -> None:
        rng = self._rngs["feedback"]
        course = enrollment.course
        share = len(outcome.completions) / len(course.module_ids)
        finished = outcome.status == "completed"
        if rng.random() >= (0.6 if finished else 0.08 + 0.25 * share):
            return
        at = outcome.last_activity + HOUR + int(skewed(rng) * 14 * DAY)
        if at >= HORIZON:
            return
        # Good courses, progress and good grades (ability) make happy learners.
        mood = 0.3 * course.quality + 0.25 * share + 0.2 * enrollment.learner.ability
        mood += 0.2 * rng.random() - 0.05
        mood += 0.25 if finished else -0.15 if outcome.status == "dropped" else 0.0
        rating = min(5, max(1, 1 + int(mood * 5)))
        nps = min(10, max(0, 2 * rating + rng.randint(-2, 1)))
        comment = None
        if rng.random() < 0.55:
            mood_name = "low" if rating <= 2 else "mid" if rating == 3 else "high"
            comment = rng.choice(COMMENTS[mood_name])
        self._buffers["feedback"].append(
            (
                self._next_id("feedback"),
                enrollment.id,
                enrollment.learner.id,
                course.id,
                course.partner_id,
                enrollment.learner.enterprise_id,
                timestamp(at),
                rating,
                nps,
                comment,
            )
        )

    def _skill_scores(self, enrollment: _Enrollment, outcome: _Outcome) -> None:
        """A score per course skill after the first, middle and last completed module."""
        completed = len(outcome.completions)
        if not completed:
            return
        rng = self._rngs["skill_scores"]
        course, learner = enrollment.course, enrollment.learner
        modules = len(course.module_ids)
        checkpoints = sorted({1, (completed + 1) // 2, completed})
        for skill_id in course.skill_ids:
            start = 15 + 35 * rng.random()
            gain = (100 - start) * (0.3 + 0.6 * learner.ability)
            for position in checkpoints:
                score = hundredths(start + gain * position / modules + noise(rng, 4))
                self._buffers["skill_scores"].append(
                    (
                        self._next_id("skill_scores"),
                        learner.id,
                        skill_id,
                        course.id,
                        course.partner_id,
                        learner.enterprise_id,
                        timestamp(outcome.completions[position - 1]),
                        score,
                    )
                )


def fact_batches(
    scale: Scale, seed: int, catalog: Catalog, learners: Sequence[Learner], chunk_size: int
) -> Iterator[Batch]:
    rng = table_rng(seed, "enrollment_plan")
    cap = min(scale.max_enrollments_per_learner, len(catalog.courses) // 2)
    counts = _enrollment_counts(rng, learners, scale.enrollments, cap)
    picker = _CoursePicker(catalog.courses)
    writer = _FactWriter(seed)
    for learner, count in zip(learners, counts, strict=True):
        for course in picker.pick(rng, count):
            writer.enroll(learner, course)
        if writer.buffered >= chunk_size:
            yield from writer.drain()
    yield from writer.drain()
