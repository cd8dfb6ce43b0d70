"""University partners and enterprise customers: their names, countries and join dates."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Final

from api.demo.names import slug
from api.demo.tables import Row
from api.demo.values import second, timestamp

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
class Organization:
    id: str
    name: str
    kind: str
    country: str
    joined: int

    def row(self) -> Row:
        return (self.id, self.name, self.kind, self.country, timestamp(self.joined))


def _organizations(
    rng: random.Random,
    kind: str,
    count: int,
    curated: Sequence[tuple[str, str]],
    forms: Sequence[str],
    joined_between: tuple[int, int],
) -> list[Organization]:
    countries = dict(curated)
    names = islice(_organization_names(curated, forms), count)
    organizations = [
        Organization(
            slug(name),
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


def universities(rng: random.Random, count: int) -> list[Organization]:
    joined_between = (second(2016, 1, 1), second(2020, 12, 31))
    return _organizations(rng, "university", count, _UNIVERSITIES, _UNIVERSITY_FORMS, joined_between)


def enterprises(rng: random.Random, count: int) -> list[Organization]:
    forms = tuple(f"{{}} {suffix}" for suffix in _COMPANY_SUFFIXES)
    joined_between = (second(2018, 1, 1), second(2023, 6, 30))
    return _organizations(rng, "enterprise", count, _ENTERPRISES, forms, joined_between)
