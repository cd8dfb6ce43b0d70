"""The course catalog: instructors, courses and their modules, assessments and skills."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import accumulate
from typing import Final

from api.demo.names import CULTURE_WEIGHTS, CULTURES, full_name, mailbox_for
from api.demo.organizations import Organization, enterprises, universities
from api.demo.scales import Scale
from api.demo.tables import Row
from api.demo.values import enrollment_window, second, table_rng, timestamp, weighted

_SUBJECTS: Final = {
    # subject: (share of the catalog, learner demand, topics)
    "Data Science": (
        1.4,
        3.0,
        ("Machine Learning", "Data Analysis", "Statistics", "Data Visualization", "SQL"),
    ),
    "Computer Science": (
        1.4,
        2.4,
        ("Algorithms", "Web Development", "Cloud Computing", "Cybersecurity", "Software Design"),
    ),
    "Business": (
        1.2,
        2.0,
        ("Project Management", "Financial Accounting", "Marketing Strategy", "Leadership"),
    ),
    "Health": (0.9, 1.0, ("Public Health", "Nutrition", "Epidemiology", "Patient Safety")),
    "Language Learning": (
        0.8,
        1.3,
        ("Spanish", "English for Professionals", "Mandarin Chinese", "French"),
    ),
    "Arts and Humanities": (
        0.8,
        0.6,
        ("Art History", "Creative Writing", "Philosophy", "Music Theory"),
    ),
    "Physical Science": (0.7, 0.6, ("Physics", "Chemistry", "Astronomy", "Climate Science")),
    "Social Sciences": (0.8, 0.8, ("Psychology", "Economics", "Sociology", "Political Science")),
}
_SUBJECT_NAMES: Final = tuple(_SUBJECTS)
_SUBJECT_SHARES: Final = tuple(accumulate(share for share, _, _ in _SUBJECTS.values()))
_TITLE_FORMS: Final = {
    "beginner": ("Introduction to {}", "{} for Everyone", "Foundations of {}"),
    "intermediate": ("Applied {}", "{} in Practice", "{}: Tools and Techniques"),
    "advanced": ("Advanced {}", "{}: Theory and Research", "Mastering {}"),
}
_LEVELS: Final = ("beginner", "intermediate", "advanced")
_LEVEL_WEIGHTS: Final = (5.0, 8.0, 10.0)  # cumulative: 50% beginner, 30%, 20%
_COMPLETION_RATE: Final = {"beginner": 0.32, "intermediate": 0.25, "advanced": 0.18}
_LANGUAGES: Final = ("en", "es", "fr", "de", "pt", "zh", "ja", "ar")
_LANGUAGE_WEIGHTS: Final = tuple(accumulate((60, 12, 6, 5, 6, 5, 3, 3)))
_PRICES: Final = tuple(
    Decimal(price) for price in ("29.00", "39.00", "49.00", "49.99", "79.00", "99.00", "149.00")
)
_FREE: Final = Decimal("0.00")
_MODULE_TOPICS: Final = (
    "Core concepts",
    "Key terminology",
    "Worked examples",
    "Hands-on lab",
    "Case study",
    "Common pitfalls",
    "Working with real data",
    "Peer discussion",
    "Tools of the trade",
    "Deep dive",
    "Practice set",
)

SKILLS: Final = (
    ("Python", "Programming"),
    ("SQL", "Data"),
    ("Machine Learning", "Data"),
    ("Statistics", "Data"),
    ("Data Visualization", "Data"),
    ("Software Engineering", "Programming"),
    ("Cloud Computing", "Technology"),
    ("Cybersecurity", "Technology"),
    ("Project Management", "Business"),
    ("Financial Analysis", "Business"),
    ("Marketing", "Business"),
    ("Leadership", "Business"),
    ("Communication", "Soft skills"),
    ("Critical Thinking", "Soft skills"),
    ("Academic Writing", "Communication"),
    ("Foreign Language", "Language"),
    ("Public Health", "Health"),
    ("Research Methods", "Science"),
    ("Quantitative Reasoning", "Science"),
    ("Psychology", "Social science"),
    ("Creativity", "Arts"),
)
_SKILL_IDS: Final = {name: index for index, (name, _) in enumerate(SKILLS, start=1)}
_SUBJECT_SKILLS: Final = {
    "Data Science": ("Python", "SQL", "Machine Learning", "Statistics", "Data Visualization"),
    "Computer Science": ("Python", "Software Engineering", "Cloud Computing", "Cybersecurity"),
    "Business": ("Project Management", "Financial Analysis", "Marketing", "Leadership"),
    "Health": ("Public Health", "Research Methods", "Statistics", "Communication"),
    "Language Learning": ("Foreign Language", "Communication", "Academic Writing"),
    "Arts and Humanities": ("Academic Writing", "Critical Thinking", "Creativity"),
    "Physical Science": ("Quantitative Reasoning", "Research Methods", "Statistics", "Python"),
    "Social Sciences": ("Psychology", "Research Methods", "Statistics", "Critical Thinking"),
}


@dataclass(frozen=True, slots=True)
class Assessment:
    id: int
    module_position: int | None  # None: taken at the end of the course


@dataclass(slots=True)
class Course:
    id: int
    partner_id: str
    subject: str
    level: str
    is_paid: bool
    launched: int
    module_ids: tuple[int, ...]
    module_minutes: tuple[int, ...]
    quality: float  # 0..1, drives ratings
    popularity: float = 0.0
    assessments: tuple[Assessment, ...] = ()
    skill_ids: tuple[int, ...] = ()

    @property
    def completion_rate(self) -> float:
        return _COMPLETION_RATE[self.level] + (0.08 if self.is_paid else 0.0)


@dataclass(slots=True)
class Catalog:
    universities: list[Organization]
    enterprises: list[Organization]
    courses: list[Course] = field(default_factory=list)
    rows: dict[str, list[Row]] = field(default_factory=dict)


def _instructor_rows(seed: int, scale: Scale, catalog: Catalog) -> tuple[list[Row], dict[str, list[int]]]:
    """The instructor rows and the instructor ids of each university."""
    rng = table_rng(seed, "instructors")
    rows: list[Row] = []
    staff: dict[str, list[int]] = {}
    for university in catalog.universities:
        for _ in range(scale.instructors_per_university):
            instructor_id = len(rows) + 1
            name = full_name(rng, CULTURES[weighted(rng, CULTURE_WEIGHTS)])
            mailbox = mailbox_for(name, keep_unicode=False) or f"instructor{instructor_id}"
            rows.append((instructor_id, university.id, name, f"{mailbox}@{university.id}.example"))
            staff.setdefault(university.id, []).append(instructor_id)
    return rows, staff


def _module_rows(rng: random.Random, course_id: int, first_id: int) -> tuple[list[Row], tuple[int, ...]]:
    count = rng.randint(4, 12)
    middle = rng.sample(_MODULE_TOPICS, count - 2)
    topics = ["Welcome and orientation", *middle, "Final project and review"]
    minutes = tuple(rng.randrange(20, 155, 5) for _ in topics)
    rows: list[Row] = [
        (first_id + index, course_id, index + 1, f"Week {index + 1}: {topic}", minutes[index])
        for index, topic in enumerate(topics)
    ]
    return rows, minutes


def _course_rows(seed: int, scale: Scale, catalog: Catalog, staff: dict[str, list[int]]) -> None:
    """Courses and their modules, into `catalog`."""
    rng, module_rng = table_rng(seed, "courses"), table_rng(seed, "course_modules")
    partners = catalog.universities
    partner_sizes = tuple(accumulate(1.0 / (rank + 1) + 0.3 for rank in range(len(partners))))
    course_rows: list[Row] = []
    module_rows: list[Row] = []
    for course_id in range(1, scale.courses + 1):
        # Every university gets a course before the big ones get more.
        index = course_id - 1 if course_id <= len(partners) else weighted(rng, partner_sizes)
        partner = partners[index]
        subject = _SUBJECT_NAMES[weighted(rng, _SUBJECT_SHARES)]
        level = _LEVELS[weighted(rng, _LEVEL_WEIGHTS)]
        topic = rng.choice(_SUBJECTS[subject][2])
        is_paid = rng.random() < 0.45
        modules, minutes = _module_rows(module_rng, course_id, len(module_rows) + 1)
        module_rows.extend(modules)
        launched = rng.randint(second(2022, 1, 1), second(2024, 6, 30))
        course_rows.append(
            (
                course_id,
                partner.id,
                rng.choice(staff[partner.id]),
                rng.choice(_TITLE_FORMS[level]).format(topic),
                subject,
                level,
                _LANGUAGES[weighted(rng, _LANGUAGE_WEIGHTS)],
                is_paid,
                rng.choice(_PRICES) if is_paid else _FREE,
                Decimal(round(sum(minutes) / 6)).scaleb(-1),  # tenths of an hour
                timestamp(launched),
            )
        )
        catalog.courses.append(
            Course(
                course_id,
                partner.id,
                subject,
                level,
                is_paid,
                launched,
                tuple(range(len(module_rows) - len(modules) + 1, len(module_rows) + 1)),
                minutes,
                quality=rng.triangular(0.1, 1.0, 0.7),
            )
        )
    _rank_popularity(rng, catalog.courses)
    catalog.rows["courses"] = course_rows
    catalog.rows["course_modules"] = module_rows


def _rank_popularity(rng: random.Random, courses: Sequence[Course]) -> None:
    """Zipf-like popularity: a few hits, a long tail; popular subjects and free courses win."""
    ranks = list(range(len(courses)))
    rng.shuffle(ranks)
    for course, rank in zip(courses, ranks, strict=True):
        demand = _SUBJECTS[course.subject][1] * (1.0 if course.is_paid else 1.5)
        course.popularity = demand / (rank + 3) * enrollment_window(course.launched)


_FINAL_ASSESSMENTS: Final = {"assignment": "Capstone assignment", "exam": "Final exam"}


def _assessment_rows(seed: int, courses: Sequence[Course]) -> list[Row]:
    rng = table_rng(seed, "assessments")
    rows: list[Row] = []
    for course in courses:
        assessments: list[Assessment] = []
        for _ in range(rng.randint(1, 3)):
            kind = rng.choice(("quiz", "quiz", "quiz", "assignment", "assignment", "exam"))
            position: int | None = rng.randint(1, len(course.module_ids))
            if kind == "exam" or (kind == "assignment" and rng.random() < 0.3):
                position = None
            title = f"Week {position} {kind}" if position else _FINAL_ASSESSMENTS[kind]
            module_id = None if position is None else course.module_ids[position - 1]
            assessment_id = len(rows) + 1
            rows.append(
                (
                    assessment_id,
                    course.id,
                    module_id,
                    course.partner_id,
                    title,
                    kind,
                    Decimal("100.00"),
                )
            )
            assessments.append(Assessment(assessment_id, position))
        course.assessments = tuple(assessments)
    return rows


def _course_skill_rows(seed: int, courses: Sequence[Course]) -> list[Row]:
    rng = table_rng(seed, "course_skills")
    rows: list[Row] = []
    for course in courses:
        candidates = _SUBJECT_SKILLS[course.subject]
        names = rng.sample(candidates, rng.randint(1, min(4, len(candidates))))
        course.skill_ids = tuple(sorted(_SKILL_IDS[name] for name in names))
        rows.extend((course.id, skill_id) for skill_id in course.skill_ids)
    return rows


def build_catalog(scale: Scale, seed: int) -> Catalog:
    rng = table_rng(seed, "organizations")
    catalog = Catalog(universities(rng, scale.universities), enterprises(rng, scale.enterprises))
    organizations = catalog.universities + catalog.enterprises
    catalog.rows["organizations"] = [organization.row() for organization in organizations]
    catalog.rows["instructors"], staff = _instructor_rows(seed, scale, catalog)
    _course_rows(seed, scale, catalog, staff)
    catalog.rows["skills"] = [(index, *skill) for index, skill in enumerate(SKILLS, start=1)]
    catalog.rows["course_skills"] = _course_skill_rows(seed, catalog.courses)
    catalog.rows["assessments"] = _assessment_rows(seed, catalog.courses)
    return catalog
