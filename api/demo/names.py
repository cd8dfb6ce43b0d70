"""People's names, e-mail mailboxes and slugs, with the awkward characters real data has."""

from __future__ import annotations

import random
import re
import unicodedata
from dataclasses import dataclass
from itertools import accumulate
from typing import Final

# Letters NFKD does not decompose into ASCII.
_FOLD = str.maketrans({"ø": "o", "Ø": "O", "ł": "l", "Ł": "L", "ß": "ss", "æ": "ae", "ı": "i"})  # noqa: RUF001


def _ascii(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.translate(_FOLD))
    return decomposed.encode("ascii", "ignore").decode("ascii")


def slug(name: str) -> str:
    """'Université de Montclair' -> 'universite-de-montclair'."""
    return re.sub(r"[^a-z0-9]+", "-", _ascii(name).lower()).strip("-")


@dataclass(frozen=True, slots=True)
class Culture:
    given: tuple[str, ...]
    family: tuple[str, ...]
    countries: tuple[str, ...]
    weight: float
    family_first: str | None = None  # the separator when the family name comes first


CULTURES: Final = (
    Culture(
        ("James", "Emma", "Olivia", "Liam", "Noah", "Ava", "Mary-Jane", "Chloe", "Ethan"),
        ("Smith", "Johnson", "O'Brien", "Williams", "Brown", "D'Angelo", "Taylor", "O'Neill"),
        ("US", "GB", "CA", "AU", "IE", "NZ"),
        30,
    ),
    Culture(
        ("José", "María", "Lucía", "Sofía", "Iñaki", "Andrés", "Ana-María"),
        ("Ñúñez", "García", "Fernández", "Martínez", "López", "Peña", "de la Cruz"),
        ("ES", "MX", "AR", "CO", "CL", "PE"),
        14,
    ),
    Culture(
        ("Zoë", "Jürgen", "Lena", "Lukas", "Maximilian", "Anna", "Jörg"),
        ("Müller", "Schröder", "Weiß", "Groß", "Becker", "Köhler"),
        ("DE", "AT", "CH"),
        9,
    ),
    Culture(
        ("Søren", "Åsa", "Ingrid", "Bjørn", "Freyja", "Eiríkur"),
        ("Ørsted", "Ólafsdóttir", "Lindqvist", "Hansen", "Nyström"),
        ("DK", "NO", "SE", "IS", "FI"),
        5,
    ),
    Culture(
        ("François", "Amélie", "Zoé", "Aïcha", "Hélène", "Noël", "Jean-Luc"),
        ("Lefèvre", "Dubois", "Girard", "Bélanger", "Moreau", "D'Aubigné"),
        ("FR", "BE", "CA", "SN"),
        8,
    ),
    Culture(
        ("雷", "伟", "芳", "娜", "静", "敏"),
        ("李", "王", "张", "刘", "陈"),
        ("CN", "TW", "SG"),
        10,
        "",
    ),
    Culture(("太郎", "花子", "翔", "さくら"), ("山田", "佐藤", "鈴木", "高橋"), ("JP",), 4, ""),
    Culture(("Minh", "Thảo", "Huy", "Lan"), ("Nguyễn", "Trần", "Lê", "Phạm"), ("VN",), 4, " "),
    Culture(
        ("Priya", "Arjun", "Ananya", "Rohan", "Aditi", "Vikram"),
        ("Sharma", "Patel", "Iyer", "Reddy", "Gupta"),
        ("IN",),
        10,
    ),
    Culture(
        ("Łukasz", "Zofia", "Jiří", "Agnieszka", "Małgorzata"),
        ("Dvořák", "Wójcik", "Nowak", "Kowalczyk", "Šťastný"),
        ("PL", "CZ"),
        4,
    ),
    Culture(
        ("Omar", "Layla", "Youssef", "Fatima", "Karim"),
        ("Al-Hassan", "El-Sayed", "Haddad", "Mansour"),
        ("EG", "AE", "JO", "MA"),
        4,
    ),
    Culture(
        ("João", "Ana", "Thiago", "Beatriz", "Conceição"),
        ("Gonçalves", "Araújo", "Silva", "Magalhães"),
        ("BR", "PT"),
        7,
    ),
    Culture(("Çağrı", "Elif", "Emre", "Gülşen"), ("Çelik", "Yılmaz", "Öztürk"), ("TR",), 3),  # noqa: RUF001
)
CULTURE_WEIGHTS: Final = tuple(accumulate(culture.weight for culture in CULTURES))

# The first learners of every warehouse, so awkward names are always there to test with.
ROSTER: Final = (
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

MAIL_DOMAINS: Final = ("mail.example", "inbox.example", "post.example", "correo.example")


def full_name(rng: random.Random, culture: Culture) -> str:
    return compose_name(culture, rng.choice(culture.given), rng.choice(culture.family))


def compose_name(culture: Culture, given: str, family: str) -> str:
    if culture.family_first is not None:
        return f"{family}{culture.family_first}{given}"
    return f"{given} {family}"


def mailbox_for(name: str, keep_unicode: bool) -> str:
    """'Zoë Müller' -> 'zoe.muller' (or 'zoë.müller'); '' when nothing is left."""
    text = name if keep_unicode else _ascii(name)
    words = re.sub(r'[\s"]+', " ", text.lower()).split()
    return ".".join(words)
