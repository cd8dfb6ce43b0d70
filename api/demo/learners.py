"""Learners: who they work for, where they live, when they signed up, how keen they are."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import accumulate

from api.demo.names import CULTURE_WEIGHTS, CULTURES, MAIL_DOMAINS, ROSTER, full_name, mailbox_for
from api.demo.organizations import Organization
from api.demo.scales import Scale
from api.demo.tables import Row
from api.demo.values import enrollment_window, second, skewed, table_rng, timestamp, weighted


@dataclass(frozen=True, slots=True)
class Learner:
    id: int
    enterprise_id: str | None
    culture: int
    country: str
    signed_up: int
    ability: float  # 0..1, drives completion, grades and scores
    activity: float  # relative number of enrollments


def build_learners(scale: Scale, seed: int, enterprises: Sequence[Organization]) -> list[Learner]:
    rng = table_rng(seed, "learners")
    ranks = list(range(len(enterprises)))
    rng.shuffle(ranks)
    sizes = tuple(accumulate(1.0 / (rank + 2) for rank in ranks))
    last_sign_up = second(2025, 12, 15)
    learners: list[Learner] = []
    for learner_id in range(1, scale.learners + 1):
        culture = weighted(rng, CULTURE_WEIGHTS)
        country = rng.choice(CULTURES[culture].countries)
        enterprise = None if rng.random() < 0.4 else enterprises[weighted(rng, sizes)]
        if enterprise is not None and rng.random() < 0.6:
            country = enterprise.country
        if learner_id <= len(ROSTER):
            country = ROSTER[learner_id - 1][1]
        first = max(second(2021, 1, 1), enterprise.joined if enterprise else 0)
        signed_up = rng.randint(first, last_sign_up)
        activity = (0.3 + 2.7 * skewed(rng)) * (1.5 if enterprise else 1.0)
        activity *= enrollment_window(signed_up)
        learners.append(
            Learner(
                learner_id,
                enterprise.id if enterprise else None,
                culture,
                country,
                signed_up,
                rng.triangular(0.05, 1.0, 0.65),
                activity,
            )
        )
    return learners


def learner_rows(seed: int, learners: Iterable[Learner]) -> Iterator[Row]:
    rng = table_rng(seed, "learner_names")
    for learner in learners:
        if learner.id <= len(ROSTER):
            name = ROSTER[learner.id - 1][0]
        else:
            name = full_name(rng, CULTURES[learner.culture])
        mailbox = mailbox_for(name, keep_unicode=rng.random() < 0.2) or "learner"
        tag = "+learning" if rng.random() < 0.08 else ""
        domain = f"{learner.enterprise_id}.example" if learner.enterprise_id else None
        email = f"{mailbox}{learner.id}{tag}@{domain or rng.choice(MAIL_DOMAINS)}"
        yield (
            learner.id,
            learner.enterprise_id,
            email,
            name,
            learner.country,
            timestamp(learner.signed_up),
        )
