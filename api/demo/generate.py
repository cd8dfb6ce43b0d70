"""Deterministic rows for the demo warehouse.

`generate(scale, seed)` yields `(table, rows)` batches in an order that satisfies the
foreign keys; every row is a tuple in the column order of `COLUMNS[table]`. Nothing
here does I/O. The same (scale, seed) gives the same rows on every run and machine:

* each table draws from its own `random.Random`, seeded from SHA-256 of (seed, table);
* random floats only meet +, -, *, / and sqrt, which IEEE 754 rounds exactly, so no
  platform's libm (log, exp, pow, cos) can move a digit;
* times are whole seconds as aware UTC datetimes; numerics are `Decimal`.

Learners, enrollments and the facts that hang off enrollments are streamed in chunks,
so the "large" scale never holds its millions of rows in memory.
"""

from __future__ import annotations

import hashlib
import random
import re
import unicodedata
from bisect import bisect
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from itertools import accumulate, islice
from typing import Final

from api.demo.scales import Scale

Row = tuple[object, ...]
Batch = tuple[str, list[Row]]

# Columns of every table, in the order the migration declares them; the dict's order
# is also the load order (parents before children).
_COLUMN_NAMES: Final = {
    "organizations": "id name kind country joined_at",
    "instructors": "id partner_id full_name email",
    "courses": (
        "id partner_id instructor_id title subject level language is_paid price duration_hours launched_at"
    ),
    "course_modules": "id course_id position title estimated_minutes",
    "skills": "id name category",
    "course_skills": "course_id skill_id",
    "assessments": "id course_id module_id partner_id title kind max_score",
    "learners": "id enterprise_id email full_name country signed_up_at",
    "enrollments": (
        "id learner_id course_id partner_id enterprise_id enrolled_at status progress"
        " completed_at grade updated_at"
    ),
    "progress_events": (
        "id enrollment_id learner_id course_id module_id partner_id enterprise_id"
        " event_type occurred_at minutes_spent"
    ),
    "assessment_submissions": (
        "id assessment_id enrollment_id learner_id course_id partner_id enterprise_id"
        " submitted_at score passed"
    ),
    "feedback": (
        "id enrollment_id learner_id course_id partner_id enterprise_id submitted_at rating nps comment"
    ),
    "skill_scores": "id learner_id skill_id course_id partner_id enterprise_id assessed_at score",
}
COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    table: tuple(names.split()) for table, names in _COLUMN_NAMES.items()
}
TABLES: Final[tuple[str, ...]] = tuple(COLUMNS)
FACT_TABLES: Final[tuple[str, ...]] = (
    "enrollments",
    "progress_events",
    "assessment_submissions",
    "feedback",
    "skill_scores",
)

# --- time ------------------------------------------------------------------------------

MINUTE: Final = 60
HOUR: Final = 60 * MINUTE
DAY: Final = 24 * HOUR
_ORIGIN: Final = datetime(2015, 1, 1, tzinfo=UTC)


def _second(year: int, month: int, day: int) -> int:
    return int((datetime(year, month, day, tzinfo=UTC) - _ORIGIN).total_seconds())


def _at(second: int) -> datetime:
    return _ORIGIN + timedelta(seconds=second)


ENROLLMENTS_FROM: Final = _second(2024, 1, 1)
# Enrollments happen before it; events that would fall after it have not happened yet.
HORIZON: Final = _second(2026, 1, 1)

# --- numbers ---------------------------------------------------------------------------

_HUNDREDTH: Final = Decimal("0.01")


def _hundredths(value: float) -> Decimal:
    """`value` clamped to 0..100, as a Decimal with two decimals."""
    return Decimal(round(min(100.0, max(0.0, value)) * 100)).scaleb(-2)


def _noise(rng: random.Random, spread: float) -> float:
    """Triangular noise in [-spread, spread], peaked at 0."""
    return (rng.random() + rng.random() - 1.0) * spread


def _skewed(rng: random.Random) -> float:
    """A number in [0, 1), usually small: the square of a uniform draw."""
    draw = rng.random()
    return draw * draw  # not draw ** 2: pow() comes from libm


@cache
def progress_percent(completed: int, modules: int) -> Decimal:
    """100 * completed / modules, rounded half-up to two decimals (as PostgreSQL's round)."""
    exact = Decimal(100 * completed) / Decimal(modules)
    return exact.quantize(_HUNDREDTH, rounding=ROUND_HALF_UP)


def _enrollment_window(since: int) -> float:
    """The share of the enrollment period after `since`.

    Scaling a learner's (or course's) number of enrollments by it keeps enrollments per
    day even: late sign-ups would otherwise crowd their enrollments into the last weeks.
    """
    start = max(since, ENROLLMENTS_FROM)
    return (HORIZON - start) / (HORIZON - ENROLLMENTS_FROM)


def _rng(seed: int, table: str) -> random.Random:
    digest = hashlib.sha256(f"{seed}:{table}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _weighted(rng: random.Random, cumulative: Sequence[float]) -> int:
    """An index drawn with the weights whose running totals are `cumulative`."""
    return bisect(cumulative, rng.random() * cumulative[-1], 0, len(cumulative) - 1)


# --- text ------------------------------------------------------------------------------

# Letters NFKD does not decompose into ASCII.
_FOLD = str.maketrans({"ø": "o", "Ø": "O", "ł": "l", "Ł": "L", "ß": "ss", "æ": "ae", "ı": "i"})  # noqa: RUF001


def _ascii(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.translate(_FOLD))
    return decomposed.encode("ascii", "ignore").decode("ascii")


def _slug(name: str) -> str:
    """'Université de Montclair' -> 'universite-de-montclair'."""
    return re.sub(r"[^a-z0-9]+", "-", _ascii(name).lower()).strip("-")


@dataclass(frozen=True, slots=True)
class _Culture:
    given: tuple[str, ...]
    family: tuple[str, ...]
    countries: tuple[str, ...]
    weight: float
    family_first: str | None = None  # the separator when the family name comes first


_CULTURES: Final = (
    _Culture(
        ("James", "Emma", "Olivia", "Liam", "Noah", "Ava", "Mary-Jane", "Chloe", "Ethan"),
        ("Smith", "Johnson", "O'Brien", "Williams", "Brown", "D'Angelo", "Taylor", "O'Neill"),
        ("US", "GB", "CA", "AU", "IE", "NZ"),
        30,
    ),
    _Culture(
        ("José", "María", "Lucía", "Sofía", "Iñaki", "Andrés", "Ana-María"),
        ("Ñúñez", "García", "Fernández", "Martínez", "López", "Peña", "de la Cruz"),
        ("ES", "MX", "AR", "CO", "CL", "PE"),
        14,
    ),
    _Culture(
        ("Zoë", "Jürgen", "Lena", "Lukas", "Maximilian", "Anna", "Jörg"),
        ("Müller", "Schröder", "Weiß", "Groß", "Becker", "Köhler"),
        ("DE", "AT", "CH"),
        9,
    ),
    _Culture(
        ("Søren", "Åsa", "Ingrid", "Bjørn", "Freyja", "Eiríkur"),
        ("Ørsted", "Ólafsdóttir", "Lindqvist", "Hansen", "Nyström"),
        ("DK", "NO", "SE", "IS", "FI"),
        5,
    ),
    _Culture(
        ("François", "Amélie", "Zoé", "Aïcha", "Hélène", "Noël", "Jean-Luc"),
        ("Lefèvre", "Dubois", "Girard", "Bélanger", "Moreau", "D'Aubigné"),
        ("FR", "BE", "CA", "SN"),
        8,
    ),
    _Culture(
        ("雷", "伟", "芳", "娜", "静", "敏"),
        ("李", "王", "张", "刘", "陈"),
        ("CN", "TW", "SG"),
        10,
        "",
    ),
    _Culture(("太郎", "花子", "翔", "さくら"), ("山田", "佐藤", "鈴木", "高橋"), ("JP",), 4, ""),
    _Culture(("Minh", "Thảo", "Huy", "Lan"), ("Nguyễn", "Trần", "Lê", "Phạm"), ("VN",), 4, " "),
    _Culture(
        ("Priya", "Arjun", "Ananya", "Rohan", "Aditi", "Vikram"),
        ("Sharma", "Patel", "Iyer", "Reddy", "Gupta"),
        ("IN",),
        10,
    ),
    _Culture(
        ("Łukasz", "Zofia", "Jiří", "Agnieszka", "Małgorzata"),
        ("Dvořák", "Wójcik", "Nowak", "Kowalczyk", "Šťastný"),
        ("PL", "CZ"),
        4,
    ),
    _Culture(
        ("Omar", "Layla", "Youssef", "Fatima", "Karim"),
        ("Al-Hassan", "El-Sayed", "Haddad", "Mansour"),
        ("EG", "AE", "JO", "MA"),
        4,
    ),
    _Culture(
        ("João", "Ana", "Thiago", "Beatriz", "Conceição"),
        ("Gonçalves", "Araújo", "Silva", "Magalhães"),
        ("BR", "PT"),
        7,
    ),
    _Culture(("Çağrı", "Elif", "Emre", "Gülşen"), ("Çelik", "Yılmaz", "Öztürk"), ("TR",), 3),  # noqa: RUF001
)
_CULTURE_WEIGHTS: Final = tuple(accumulate(culture.weight for culture in _CULTURES))

# The first learners of every warehouse, so awkward names are always there to test with.
_ROSTER: Final = (
    ("Zoë Müller", "DE"),
    ("José Ñúñez", "ES"),
    ("李雷", "CN"),
    ("Siobhán O'Brien", "IE"),
    ("Søren Ørsted", "DK"),
    ("Nguyễn Thị Thảo", "VN"),
    ('Renée "Rae" Lefèvre', "FR"),
    ("Łukasz Dvořák", "PL"),
    ("Ольга Иванова", "RU"),
    ("محمد الحسن", "EG"),
    ("Mary-Jane O'Connor-Smith", "US"),
    ("Ana-María de la Cruz y Peña", "MX"),
)

_MAIL_DOMAINS: Final = ("mail.example", "inbox.example", "post.example", "correo.example")


def _full_name(rng: random.Random, culture: _Culture) -> str:
    given, family = rng.choice(culture.given), rng.choice(culture.family)
    if culture.family_first is not None:
        return f"{family}{culture.family_first}{given}"
    return f"{given} {family}"


def _mailbox(name: str, keep_unicode: bool) -> str:
    """'Zoë Müller' -> 'zoe.muller' (or 'zoë.müller'); '' when nothing is left."""
    text = name if keep_unicode else _ascii(name)
    words = re.sub(r'[\s"]+', " ", text.lower()).split()
    return ".".join(words)


# --- organizations ---------------------------------------------------------------------

_UNIVERSITIES: Final = (
    ("Northbridge University", "US"),
    ("Université de Montclair", "FR"),
    ("Lakemont Institute of Technology", "CA"),
    ("Hochschule Königsfeld", "DE"),
    ("University of Eastvale", "GB"),
    ("Universidad del Pacífico Sur", "CL"),
    ("Kōyō University", "JP"),
    ("Riverside State University", "US"),
    ("Stellenbrook University", "ZA"),
    ("Universidade Nova Esperança", "BR"),
    ("Indus Valley Institute of Science", "IN"),
    ("Aurora Polytechnic", "FI"),
    ("Southern Cross University of Technology", "AU"),
    ("Ashford College London", "GB"),
)
_ENTERPRISES: Final = (
    ("Acme Corp", "US"),
    ("Globex Industries", "US"),
    ("Nordvik Energi", "NO"),
    ("Sakura Logistics", "JP"),
    ("Vértice Consultores", "ES"),
    ("Brightwave Media", "GB"),
    ("Kestrel Bank", "SG"),
    ("Maple & Pine Retail", "CA"),
    ("Lotus Fintech", "IN"),
    ("Orbital Freight", "DE"),
    ("Pampas Agro", "AR"),
    ("Cedar Health Systems", "US"),
    ("Atlas Software", "IE"),
    ("Zenith Pharma", "CH"),
    ("Blue Harbor Insurance", "AU"),
    ("Müller & Søn Engineering", "DK"),
)
_PLACES: Final = (
    "Brookhaven",
    "Cedar Falls",
    "Dunmore",
    "Elmstead",
    "Fairhaven",
    "Glenrock",
    "Harrowgate",
    "Ironbridge",
    "Juniper Bay",
    "Kingsmere",
    "Larchmont",
    "Millbrook",
    "Newhaven",
    "Oakridge",
    "Pinecrest",
    "Queensbury",
    "Redcliff",
    "Silverlake",
    "Thornbury",
    "Upton Vale",
    "Westmarch",
    "Yarrow",
    "Ashcombe",
    "Bellmont",
    "Coldwater",
    "Driftwood",
    "Eastwick",
    "Foxhollow",
    "Greywater",
    "Highgate",
)
_UNIVERSITY_FORMS: Final = ("{} University", "University of {}", "{} College")
_COMPANY_SUFFIXES: Final = ("Group", "Labs", "Systems", "Partners", "Holdings")
_COUNTRIES: Final = ("US", "GB", "DE", "FR", "ES", "IT", "NL", "CA", "AU", "IN", "BR", "JP", "KR")


def _organization_names(curated: Sequence[tuple[str, str]], forms: Sequence[str]) -> Iterator[str]:
    """Curated names first, then invented ones; seed-independent, so ids are stable."""
    yield from (name for name, _ in curated)
    for form in forms:
        for place in _PLACES:
            yield form.format(place)


@dataclass(frozen=True, slots=True)
class _Organization:
    id: str
    name: str
    kind: str
    country: str
    joined: int

    def row(self) -> Row:
        return (self.id, self.name, self.kind, self.country, _at(self.joined))


def _organizations(
    rng: random.Random,
    kind: str,
    count: int,
    curated: Sequence[tuple[str, str]],
    forms: Sequence[str],
    joined_between: tuple[int, int],
) -> list[_Organization]:
    countries = dict(curated)
    names = islice(_organization_names(curated, forms), count)
    organizations = [
        _Organization(
            _slug(name),
            name,
            kind,
            countries.get(name) or rng.choice(_COUNTRIES),
            rng.randint(*joined_between),
        )
        for name in names
    ]
    if len(organizations) < count:
        raise ValueError(f"at most {len(organizations)} {kind} names are available")
    return organizations


# --- catalog: instructors, courses, modules, assessments, skills -----------------------

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

_SKILLS: Final = (
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
_SKILL_IDS: Final = {name: index for index, (name, _) in enumerate(_SKILLS, start=1)}
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
class _Assessment:
    id: int
    module_position: int | None  # None: taken at the end of the course


@dataclass(slots=True)
class _Course:
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
    assessments: tuple[_Assessment, ...] = ()
    skill_ids: tuple[int, ...] = ()

    @property
    def completion_rate(self) -> float:
        return _COMPLETION_RATE[self.level] + (0.08 if self.is_paid else 0.0)


@dataclass(slots=True)
class _Catalog:
    universities: list[_Organization]
    enterprises: list[_Organization]
    courses: list[_Course] = field(default_factory=list)
    rows: dict[str, list[Row]] = field(default_factory=dict)


def _instructor_rows(seed: int, scale: Scale, catalog: _Catalog) -> tuple[list[Row], dict[str, list[int]]]:
    """The instructor rows and the instructor ids of each university."""
    rng = _rng(seed, "instructors")
    rows: list[Row] = []
    staff: dict[str, list[int]] = {}
    for university in catalog.universities:
        for _ in range(scale.instructors_per_university):
            instructor_id = len(rows) + 1
            name = _full_name(rng, _CULTURES[_weighted(rng, _CULTURE_WEIGHTS)])
            mailbox = _mailbox(name, keep_unicode=False) or f"instructor{instructor_id}"
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


def _course_rows(seed: int, scale: Scale, catalog: _Catalog, staff: dict[str, list[int]]) -> None:
    """Courses and their modules, into `catalog`."""
    rng, module_rng = _rng(seed, "courses"), _rng(seed, "course_modules")
    partners = catalog.universities
    partner_sizes = tuple(accumulate(1.0 / (rank + 1) + 0.3 for rank in range(len(partners))))
    course_rows: list[Row] = []
    module_rows: list[Row] = []
    for course_id in range(1, scale.courses + 1):
        # Every university gets a course before the big ones get more.
        index = course_id - 1 if course_id <= len(partners) else _weighted(rng, partner_sizes)
        partner = partners[index]
        subject = _SUBJECT_NAMES[_weighted(rng, _SUBJECT_SHARES)]
        level = _LEVELS[_weighted(rng, _LEVEL_WEIGHTS)]
        topic = rng.choice(_SUBJECTS[subject][2])
        is_paid = rng.random() < 0.45
        modules, minutes = _module_rows(module_rng, course_id, len(module_rows) + 1)
        module_rows.extend(modules)
        launched = rng.randint(_second(2022, 1, 1), _second(2024, 6, 30))
        course_rows.append(
            (
                course_id,
                partner.id,
                rng.choice(staff[partner.id]),
                rng.choice(_TITLE_FORMS[level]).format(topic),
                subject,
                level,
                _LANGUAGES[_weighted(rng, _LANGUAGE_WEIGHTS)],
                is_paid,
                rng.choice(_PRICES) if is_paid else _FREE,
                Decimal(round(sum(minutes) / 6)).scaleb(-1),  # tenths of an hour
                _at(launched),
            )
        )
        catalog.courses.append(
            _Course(
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


def _rank_popularity(rng: random.Random, courses: Sequence[_Course]) -> None:
    """Zipf-like popularity: a few hits, a long tail; popular subjects and free courses win."""
    ranks = list(range(len(courses)))
    rng.shuffle(ranks)
    for course, rank in zip(courses, ranks, strict=True):
        demand = _SUBJECTS[course.subject][1] * (1.0 if course.is_paid else 1.5)
        course.popularity = demand / (rank + 3) * _enrollment_window(course.launched)


_FINAL_ASSESSMENTS: Final = {"assignment": "Capstone assignment", "exam": "Final exam"}


def _assessment_rows(seed: int, courses: Sequence[_Course]) -> list[Row]:
    rng = _rng(seed, "assessments")
    rows: list[Row] = []
    for course in courses:
        assessments: list[_Assessment] = []
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
            assessments.append(_Assessment(assessment_id, position))
        course.assessments = tuple(assessments)
    return rows


def _course_skill_rows(seed: int, courses: Sequence[_Course]) -> list[Row]:
    rng = _rng(seed, "course_skills")
    rows: list[Row] = []
    for course in courses:
        candidates = _SUBJECT_SKILLS[course.subject]
        names = rng.sample(candidates, rng.randint(1, min(4, len(candidates))))
        course.skill_ids = tuple(sorted(_SKILL_IDS[name] for name in names))
        rows.extend((course.id, skill_id) for skill_id in course.skill_ids)
    return rows


def _catalog(scale: Scale, seed: int) -> _Catalog:
    rng = _rng(seed, "organizations")
    catalog = _Catalog(
        _organizations(
            rng,
            "university",
            scale.universities,
            _UNIVERSITIES,
            _UNIVERSITY_FORMS,
            (_second(2016, 1, 1), _second(2020, 12, 31)),
        ),
        _organizations(
            rng,
            "enterprise",
            scale.enterprises,
            _ENTERPRISES,
            tuple(f"{{}} {suffix}" for suffix in _COMPANY_SUFFIXES),
            (_second(2018, 1, 1), _second(2023, 6, 30)),
        ),
    )
    organizations = catalog.universities + catalog.enterprises
    catalog.rows["organizations"] = [organization.row() for organization in organizations]
    catalog.rows["instructors"], staff = _instructor_rows(seed, scale, catalog)
    _course_rows(seed, scale, catalog, staff)
    catalog.rows["skills"] = [(index, *skill) for index, skill in enumerate(_SKILLS, start=1)]
    catalog.rows["course_skills"] = _course_skill_rows(seed, catalog.courses)
    catalog.rows["assessments"] = _assessment_rows(seed, catalog.courses)
    return catalog


# --- learners --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Learner:
    id: int
    enterprise_id: str | None
    culture: int
    country: str
    signed_up: int
    ability: float  # 0..1, drives completion, grades and scores
    activity: float  # relative number of enrollments


def _learners(scale: Scale, seed: int, enterprises: Sequence[_Organization]) -> list[_Learner]:
    rng = _rng(seed, "learners")
    ranks = list(range(len(enterprises)))
    rng.shuffle(ranks)
    sizes = tuple(accumulate(1.0 / (rank + 2) for rank in ranks))
    last_sign_up = _second(2025, 12, 15)
    learners: list[_Learner] = []
    for learner_id in range(1, scale.learners + 1):
        culture = _weighted(rng, _CULTURE_WEIGHTS)
        country = rng.choice(_CULTURES[culture].countries)
        enterprise = None if rng.random() < 0.4 else enterprises[_weighted(rng, sizes)]
        if enterprise is not None and rng.random() < 0.6:
            country = enterprise.country
        if learner_id <= len(_ROSTER):
            country = _ROSTER[learner_id - 1][1]
        first = max(_second(2021, 1, 1), enterprise.joined if enterprise else 0)
        signed_up = rng.randint(first, last_sign_up)
        activity = (0.3 + 2.7 * _skewed(rng)) * (1.5 if enterprise else 1.0)
        activity *= _enrollment_window(signed_up)
        learners.append(
            _Learner(
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


def _learner_rows(seed: int, learners: Iterable[_Learner]) -> Iterator[Row]:
    rng = _rng(seed, "learner_names")
    for learner in learners:
        if learner.id <= len(_ROSTER):
            name = _ROSTER[learner.id - 1][0]
        else:
            name = _full_name(rng, _CULTURES[learner.culture])
        mailbox = _mailbox(name, keep_unicode=rng.random() < 0.2) or "learner"
        tag = "+learning" if rng.random() < 0.08 else ""
        domain = f"{learner.enterprise_id}.example" if learner.enterprise_id else None
        email = f"{mailbox}{learner.id}{tag}@{domain or rng.choice(_MAIL_DOMAINS)}"
        yield (
            learner.id,
            learner.enterprise_id,
            email,
            name,
            learner.country,
            _at(learner.signed_up),
        )


# --- facts: enrollments and what hangs off them ----------------------------------------

_COMMENTS: Final = {
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


def _enrollment_counts(rng: random.Random, learners: Sequence[_Learner], total: int, cap: int) -> list[int]:
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

    def __init__(self, courses: Sequence[_Course]) -> None:
        self._courses = courses
        self._weights = tuple(accumulate(course.popularity for course in courses))

    def pick(self, rng: random.Random, count: int) -> list[_Course]:
        chosen: list[int] = []
        while len(chosen) < count:
            index = _weighted(rng, self._weights)
            if index not in chosen:
                chosen.append(index)
        return [self._courses[index] for index in chosen]


@dataclass(frozen=True, slots=True)
class _Enrollment:
    id: int
    learner: _Learner
    course: _Course
    enrolled: int


@dataclass(frozen=True, slots=True)
class _Outcome:
    completions: tuple[int, ...]  # when each completed module was completed, in order
    last_activity: int
    status: str


class _FactWriter:
    """Generates the facts of one enrollment at a time into per-table buffers."""

    def __init__(self, seed: int) -> None:
        self._rngs = {table: _rng(seed, table) for table in FACT_TABLES}
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

    def enroll(self, learner: _Learner, course: _Course) -> None:
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
        grade = _hundredths(40 + 55 * learner.ability + _noise(rng, 10)) if finished else None
        self._buffers["enrollments"].append(
            (
                enrollment.id,
                learner.id,
                course.id,
                course.partner_id,
                learner.enterprise_id,
                _at(enrollment.enrolled),
                status,
                progress_percent(len(completions), modules),
                _at(completions[-1]) if finished else None,
                grade,
                _at(last_activity),
            )
        )
        outcome = _Outcome(tuple(completions), last_activity, status)
        self._submissions(enrollment, outcome)
        if last_activity > enrollment.enrolled:
            self._feedback(enrollment, outcome)
        self._skill_scores(enrollment, outcome)

    @staticmethod
    def _plan(rng: random.Random, learner: _Learner, course: _Course) -> tuple[int, int]:
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
        at = last + MINUTE + int(_skewed(rng) * 3 * DAY)
        for position in range(1, started + 1):
            if at >= HORIZON:
                break
            self._event(enrollment, position, "module_started", at, 1 + int(rng.random() * 15))
            last = at
            if position > completed:
                at += 5 * MINUTE + int(_skewed(rng) * 5 * DAY)
                continue
            spent = max(1, int(course.module_minutes[position - 1] * (0.5 + rng.random())))
            done = at + spent * MINUTE + int(_skewed(rng) * 4 * DAY)
            if done >= HORIZON:
                break
            self._event(enrollment, position, "module_completed", done, spent)
            completions.append(done)
            last = done
            at = done + MINUTE + int(_skewed(rng) * 7 * DAY)
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
                _at(at),
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
            at = after + 5 * MINUTE + int(_skewed(rng) * 2 * DAY)
            if at >= HORIZON:
                continue
            score = _hundredths(35 + 60 * learner.ability - difficulty + _noise(rng, 25))
            self._buffers["assessment_submissions"].append(
                (
                    self._next_id("assessment_submissions"),
                    assessment.id,
                    enrollment.id,
                    learner.id,
                    course.id,
                    course.partner_id,
                    learner.enterprise_id,
                    _at(at),
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
        at = outcome.last_activity + HOUR + int(_skewed(rng) * 14 * DAY)
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
            comment = rng.choice(_COMMENTS[mood_name])
        self._buffers["feedback"].append(
            (
                self._next_id("feedback"),
                enrollment.id,
                enrollment.learner.id,
                course.id,
                course.partner_id,
                enrollment.learner.enterprise_id,
                _at(at),
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
                score = _hundredths(start + gain * position / modules + _noise(rng, 4))
                self._buffers["skill_scores"].append(
                    (
                        self._next_id("skill_scores"),
                        learner.id,
                        skill_id,
                        course.id,
                        course.partner_id,
                        learner.enterprise_id,
                        _at(outcome.completions[position - 1]),
                        score,
                    )
                )


def _chunks(table: str, rows: Iterator[Row], size: int) -> Iterator[Batch]:
    while chunk := list(islice(rows, size)):
        yield table, chunk


def _fact_batches(
    scale: Scale, seed: int, catalog: _Catalog, learners: Sequence[_Learner], chunk_size: int
) -> Iterator[Batch]:
    rng = _rng(seed, "enrollment_plan")
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


# --- public ----------------------------------------------------------------------------


def generate(scale: Scale, seed: int, chunk_size: int = 50_000) -> Iterator[Batch]:
    """Every row of the demo warehouse as `(table, rows)` batches, parents before children.

    A table may come in several batches; its rows, in order, do not depend on
    `chunk_size`, only on (scale, seed).
    """
    if chunk_size < 1:
        raise ValueError("chunk_size must be positive")
    catalog = _catalog(scale, seed)
    for table in TABLES[: TABLES.index("learners")]:
        yield table, catalog.rows[table]
    learners = _learners(scale, seed, catalog.enterprises)
    yield from _chunks("learners", _learner_rows(seed, learners), chunk_size)
    yield from _fact_batches(scale, seed, catalog, learners, chunk_size)


def planned_rows(scale: Scale) -> dict[str, int]:
    """Row counts known from the scale alone (the others follow from random outcomes)."""
    return {
        "organizations": scale.universities + scale.enterprises,
        "instructors": scale.universities * scale.instructors_per_university,
        "courses": scale.courses,
        "skills": len(_SKILLS),
        "learners": scale.learners,
        "enrollments": scale.enrollments,
    }
