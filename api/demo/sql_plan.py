"""The plan of a warehouse that PostgreSQL generates (scales with `generator="postgres"`).

A generator session of its own (not the loading transaction) holds the plan in temporary
tables: the catalog's courses and assessments (built in Python, `api/demo/catalog.py`),
weighted lookups for drawing enterprises, cultures and comments, then one row per learner
and one per enrollment with every draw that decides its facts. `api/demo/sql_rows.py`
turns the plan into the rows of each table, chunk by chunk.

Randomness is a hash: `pg_temp.bits(key, stream, part)` is hashint8extended of an entity's
id under a salt from (seed, stream, part); each 64-bit value gives four 16-bit draws
(`pg_temp.part`) or one 53-bit draw (`pg_temp.fine`). As in the Python generator, only
+, -, *, /, sqrt and floor meet the draws (no libm), sums are over integers, and ids come
from explicit orders, so a (scale, seed) gives the same rows on every run and for any
chunk size. Ids used as keys stay below 2**31, where hashint8extended folds no two together.
"""

from __future__ import annotations

import hashlib
import math
from bisect import bisect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from api.demo.catalog import Catalog
from api.demo.facts import COMMENTS
from api.demo.names import CULTURE_WEIGHTS, CULTURES, MAIL_DOMAINS, ROSTER, compose_name, mailbox_for
from api.demo.scales import Scale
from api.demo.tables import Row
from api.demo.values import DAY, ENROLLMENTS_FROM, HORIZON, ORIGIN, second, table_rng

_SLOTS: Final = 65_536  # weighted draws: 16 bits index a table of this many slots
_KEY_LIMIT: Final = 2**31
_FIRST_SIGN_UP: Final = second(2021, 1, 1)
_LAST_SIGN_UP: Final = second(2025, 12, 15)
_SESSION: Final = (
    "set statement_timeout = 0",
    "set work_mem = '256MB'",
    # Compiling each chunk's query (costed high: generate_series is guessed at 1000 rows)
    # takes longer than running it.
    "set jit = off",
    # Before the first temporary table: the plan (~2 GB at the population scale) stays in
    # the session's memory rather than in files.
    "set temp_buffers = '3GB'",
)


def _functions(seed: int) -> str:
    """The seed and the time axis, as inlinable SQL functions (only integers are formatted in)."""
    salt = int.from_bytes(hashlib.sha256(f"{seed}:postgres".encode()).digest()[:8], "big", signed=True)
    epoch = int(ORIGIN.timestamp())
    return f"""
create function pg_temp.bits(key bigint, stream text, part integer) returns bigint
    language sql immutable
    as $$ select hashint8extended(key, {salt} # (hashtext(stream)::bigint * 4096 + part)) $$;
create function pg_temp.part(h bigint, i integer) returns double precision
    language sql immutable
    as $$ select ((h >> (16 * i)) & 65535)::double precision / 65536 $$;
create function pg_temp.fine(h bigint) returns double precision
    language sql immutable
    as $$ select ((h >> 11) + 4503599627370496)::double precision / 9007199254740992 $$;
create function pg_temp.at(s bigint) returns timestamptz
    language sql immutable
    as $$ select to_timestamp({epoch} + s) $$;
create function pg_temp.horizon() returns bigint language sql immutable as $$ select {HORIZON}::bigint $$;
create function pg_temp.enrollments_from() returns bigint
    language sql immutable
    as $$ select {ENROLLMENTS_FROM}::bigint $$;
create function pg_temp.first_sign_up() returns bigint
    language sql immutable
    as $$ select {_FIRST_SIGN_UP}::bigint $$;
create function pg_temp.last_sign_up() returns bigint
    language sql immutable
    as $$ select {_LAST_SIGN_UP}::bigint $$;
create function pg_temp.day() returns bigint language sql immutable as $$ select {DAY}::bigint $$;
"""


# The nth module of an enrollment happens in its slot [t0 + (nth - 1) * pace, t0 + nth * pace):
# started in the first 40%, completed after the minutes spent and up to another 40%. A
# pace of at least a day leaves room for the longest module (150 minutes * 1.5), so events
# are in order, and a slot that ends by the horizon holds all of its events: the horizon
# cuts whole modules. (A draw comes first in a product: a decimal literal times an integer
# would be numeric arithmetic, several times slower.)
_SCHEDULE: Final = """
create function pg_temp.started_at(t0 bigint, pace bigint, nth integer, h bigint) returns bigint
    language sql immutable
    as $$ select t0 + (nth - 1) * pace + floor(pg_temp.part(h, 0) * 0.4 * pace)::bigint $$;
create function pg_temp.spent(minutes integer, h bigint) returns integer
    language sql immutable
    as $$ select greatest(1, floor(minutes * (0.5 + pg_temp.part(h, 1))))::integer $$;
create function pg_temp.done_at(t0 bigint, pace bigint, nth integer, minutes integer, h bigint)
    returns bigint language sql immutable
    as $$ select pg_temp.started_at(t0, pace, nth, h) + 60 * pg_temp.spent(minutes, h)
                 + floor(pg_temp.part(h, 2) * 0.4 * pace)::bigint $$;
-- x clamped to 0..100 with two decimals, through integers: casting a double to numeric
-- goes through text, three times slower.
create function pg_temp.hundredths(x double precision) returns numeric
    language sql immutable
    as $$ select round(least(100, greatest(0, x)) * 100)::bigint * 0.01 $$;
"""

_LOOKUPS: Final = {
    "_courses": (
        "rank integer, id integer, partner_id text, modules integer, first_module integer,"
        " launched bigint, completion_rate double precision, quality double precision,"
        " minutes integer[], skill_ids integer[]"
    ),
    "_assessments": "id integer, course_id integer, ord integer, position integer",
    "_enterprise_slots": "slot integer, id text, country text, joined bigint",
    "_culture_slots": "slot integer, culture integer, people integer, countries text[]",
    "_people": "culture integer, n integer, full_name text, mailbox text, mailbox_unicode text",
    "_roster": "id bigint, full_name text, country text, mailbox text, mailbox_unicode text",
    "_comments": "mood text, slot integer, comment text",
    "_mail_domains": "n integer, domain text",
}

_PLAN_TABLES: Final = """
create temp table _learners (
    id bigint, enterprise_id text, enterprise_country text, signed_up bigint,
    ability double precision, enrollments integer, enrollments_before bigint,
    first_rank integer, stride integer
);
create temp table _enrollments (
    id bigint, learner_id bigint, course_id integer, enterprise_id text,
    ability double precision, modules integer, enrolled bigint, t0 bigint, pace bigint,
    started integer, completed integer, status text, updated bigint, k bigint
)
"""

# (A step ends with `offset 0` where later ones name its columns more than once: else the
# planner merges the steps and repeats the expressions behind those columns. A decimal
# literal is numeric: typed as double precision where it meets doubles row by row.)
#
# Who the learners are, when they signed up, how able they are and
# how many enrollments each has: $2 in all, spread by activity, at most $3 each. Their
# courses are a popularity rank drawn with a heavy head, then every `stride`-th rank after
# it (a stride prime to the number of courses: distinct courses).
_LEARNER_PLAN: Final = """
insert into _learners
with drawn as (
    select g.id, pg_temp.bits(g.id, 'learner', 0) as h, pg_temp.bits(g.id, 'learner', 1) as i,
           pg_temp.fine(pg_temp.bits(g.id, 'learner', 2)) as f
    from generate_series(1, $1::bigint) as g (id)
    offset 0
), placed as (
    select d.*, o.id as enterprise_id, o.country as enterprise_country,
           greatest(pg_temp.first_sign_up(), o.joined) as earliest
    from drawn as d
    left join _enterprise_slots as o on pg_temp.part(d.h, 0) >= 0.4 and o.slot = (d.h >> 16) & 65535
    offset 0
), signed as (
    select p.*, p.earliest + floor((pg_temp.last_sign_up() - p.earliest) * pg_temp.part(p.h, 2))::bigint
           as signed_up
    from placed as p
), weighed as (
    -- In millionths: the total is an exact integer, whatever order it is summed in.
    select s.*, floor(
               1e6::double precision * (0.3 + 2.7 * pg_temp.part(s.i, 0) * pg_temp.part(s.i, 0))
               * case when s.enterprise_id is null then 1 else 1.5::double precision end
               * (pg_temp.horizon() - greatest(s.signed_up, pg_temp.enrollments_from()))
               / (pg_temp.horizon() - pg_temp.enrollments_from())
           )::bigint as activity
    from signed as s
    offset 0
), counted as (
    select w.*, least($3::integer, floor(
               $2::double precision * w.activity / (sum(w.activity) over ())::double precision
               + pg_temp.part(w.i, 1)
           ))::integer as enrollments
    from weighed as w
    offset 0
), catalog as (
    select count(*)::integer as courses,
           (select array_agg(s order by s) from generate_series(1, 7) as s
            where gcd(s, (select count(*)::integer from _courses)) = 1) as strides
    from _courses
)
select c.id, c.enterprise_id, c.enterprise_country, c.signed_up,
       case when pg_temp.part(c.i, 2) < 0.6 / 0.95
            then 0.05 + sqrt(pg_temp.part(c.i, 2) * 0.95 * 0.6)
            else 1.0 - sqrt((1 - pg_temp.part(c.i, 2)) * 0.95 * 0.35) end,  -- triangular(0.05, 1, 0.65)
       c.enrollments, sum(c.enrollments) over (order by c.id) - c.enrollments,
       floor(k.courses * c.f * c.f * c.f)::integer,
       k.strides[1 + floor(cardinality(k.strides) * pg_temp.part(c.i, 3))::integer]
from counted as c cross join catalog as k
"""

# Each enrollment: its course, when it began (more of them lately), the pace of its modules, how
# many it starts and completes (as api/demo/facts.py plans them), cut at the horizon;
# then its status and last activity.
_ENROLLMENT_PLAN: Final = """
insert into _enrollments
with drawn as (
    select p.id, p.learner_id, p.enterprise_id, p.ability, c.id as course_id,
           c.modules, c.minutes,
           c.completion_rate + case when p.enterprise_id is null then 0 else 0.07::double precision end
               as completion_rate,
           greatest(pg_temp.enrollments_from(), p.signed_up, c.launched) as earliest,
           pg_temp.bits(p.id, 'enrollment', 0) as h, pg_temp.bits(p.id, 'enrollment', 1) as i,
           pg_temp.bits(p.id, 'enrollment', 2) as k
    from (
        select j.enrollments_before + j.nth + 1 as id, j.learner_id, j.enterprise_id, j.ability,
               j.signed_up, (j.first_rank + j.nth * j.stride) % (select count(*)::integer from _courses)
               as rank
        from (
            select l.id as learner_id, l.enterprise_id, l.ability, l.signed_up, l.enrollments_before,
                   l.first_rank, l.stride, generate_series(0, l.enrollments - 1) as nth
            from _learners as l
        ) as j
    ) as p
    join _courses as c on c.rank = p.rank
    offset 0
), planned as (
    -- Half uniform, half the root of a uniform (more lately): enrollments a day grow ~3x.
    select d.*, d.earliest + floor((pg_temp.horizon() - 1 - d.earliest) * case
               when d.h & 1 = 0 then pg_temp.fine(d.h) else sqrt(pg_temp.fine(d.h)) end)::bigint as enrolled,
           pg_temp.day()
           + floor(10 * pg_temp.day() * pg_temp.part(d.i, 0) * pg_temp.part(d.i, 0))::bigint as pace,
           60 + floor(3 * pg_temp.day() * pg_temp.part(d.i, 1) * pg_temp.part(d.i, 1))::bigint as delay,
           pg_temp.part(d.i, 2) < d.completion_rate * (0.6 + 0.8 * d.ability) as finishes,
           case when pg_temp.part(d.i, 2) < d.completion_rate * (0.6 + 0.8 * d.ability) then d.modules
                else floor(pg_temp.part(d.i, 3) * (d.modules + 1))::integer end as to_start
    from drawn as d
    offset 0
), cut as (
    select p.*, p.enrolled + p.delay as t0,
           least(
               case when p.finishes then p.modules
                    else floor(pg_temp.part(p.k, 0) * (least(p.to_start, p.modules - 1) + 1))::integer end,
               p.modules, greatest(0, (pg_temp.horizon() - p.enrolled - p.delay) / p.pace)
           )::integer as completed,
           least(
               p.to_start, p.modules, greatest(0, (pg_temp.horizon() - p.enrolled - p.delay) / p.pace)
           )::integer as started
    from planned as p
    offset 0
), last as (
    select c.*, pg_temp.bits(c.id, 'module', c.started) as h_last from cut as c offset 0
)
select l.id, l.learner_id, l.course_id, l.enterprise_id, l.ability, l.modules,
       l.enrolled, l.t0, l.pace, l.started, l.completed,
       case when l.completed = l.modules then 'completed'
            when pg_temp.part(l.k, 1) < 0.25 then 'dropped' else 'active' end,
       case when l.started = 0 then l.enrolled
            when l.completed = l.started
            then pg_temp.done_at(l.t0, l.pace, l.started, l.minutes[l.started], l.h_last)
            else pg_temp.started_at(l.t0, l.pace, l.started, l.h_last) end,
       l.k
from last as l
"""

_CHUNKS: Final = """
select (id - 1) / $1 as chunk, min(id) as first, max(id) as last, count(*) as enrollments,
       sum(started + completed) as events
from _enrollments group by 1 order by 1
"""


@dataclass(frozen=True, slots=True)
class Chunk:
    """Enrollments first..last and how many progress events they have, and how many before."""

    first: int
    last: int
    enrollments: int
    events: int
    events_before: int


@dataclass(frozen=True, slots=True)
class Plan:
    learners: int
    chunks: tuple[Chunk, ...]

    @property
    def enrollments(self) -> int:
        return sum(chunk.enrollments for chunk in self.chunks)

    @property
    def events(self) -> int:
        return sum(chunk.events for chunk in self.chunks)


PLAN_STEPS: Final = 2


async def build_plan(
    generator: Any, scale: Scale, seed: int, catalog: Catalog, chunk_size: int, step: Callable[[], None]
) -> Plan:
    """Fills the plan tables in `generator` (an asyncpg connection of its own; its session
    keeps temporary tables and functions: close it afterwards), calling `step` after each of
    `PLAN_STEPS` steps; the chunks hold `chunk_size` enrollments."""
    if scale.enrollments * 2 >= _KEY_LIMIT or scale.learners >= _KEY_LIMIT:
        raise ValueError(f"scale {scale.name!r} has ids beyond what the hash keys hold")
    for setting in _SESSION:
        await generator.execute(setting)
    await generator.execute(_functions(seed) + _SCHEDULE)
    for table, columns in _LOOKUPS.items():
        await generator.execute(f"create temp table {table} ({columns})")
    await generator.execute(_PLAN_TABLES)
    for table, rows in _lookup_rows(seed, catalog).items():
        await generator.copy_records_to_table(table, records=rows)
    await generator.execute("analyze " + ", ".join(_LOOKUPS))
    cap = min(scale.max_enrollments_per_learner, len(catalog.courses) // 2)
    await generator.execute(_LEARNER_PLAN, scale.learners, scale.enrollments, cap)
    await generator.execute("create index on _learners using brin (id)")
    step()
    await generator.execute(_ENROLLMENT_PLAN)
    await generator.execute("create index on _enrollments using brin (id)")
    await generator.execute("analyze _learners, _enrollments")
    step()
    chunks: list[Chunk] = []
    before = 0
    for row in await generator.fetch(_CHUNKS, chunk_size):
        chunks.append(Chunk(row["first"], row["last"], row["enrollments"], row["events"], before))
        before += row["events"]
    return Plan(scale.learners, tuple(chunks))


def _lookup_rows(seed: int, catalog: Catalog) -> dict[str, list[Row]]:
    by_popularity = sorted(catalog.courses, key=lambda course: (-course.popularity, course.id))
    courses: list[Row] = []
    for rank, course in enumerate(by_popularity):
        first = course.module_ids[0]
        assert course.module_ids == tuple(range(first, first + len(course.module_ids)))
        courses.append(
            (
                rank,
                course.id,
                course.partner_id,
                len(course.module_ids),
                first,
                course.launched,
                course.completion_rate,
                course.quality,
                list(course.module_minutes),
                list(course.skill_ids),
            )
        )
    assessments: list[Row] = [
        (assessment.id, course.id, ord_, assessment.module_position)
        for course in catalog.courses
        for ord_, assessment in enumerate(course.assessments)
    ]
    # Enterprise sizes as in api/demo/learners.py: a few big customers, a long tail.
    ranks = list(range(len(catalog.enterprises)))
    table_rng(seed, "postgres:enterprises").shuffle(ranks)
    enterprises = [
        (organization.id, organization.country, organization.joined)
        for organization in (catalog.enterprises[index] for index in _slots([1.0 / (r + 2) for r in ranks]))
    ]
    cultures: list[Row] = []
    for slot, index in enumerate(_slots(_weights(CULTURE_WEIGHTS))):
        culture = CULTURES[index]
        cultures.append((slot, index, len(culture.given) * len(culture.family), list(culture.countries)))
    comment_slots = math.lcm(*(len(comments) for comments in COMMENTS.values()))
    return {
        "_courses": courses,
        "_assessments": assessments,
        "_enterprise_slots": [(slot, *enterprise) for slot, enterprise in enumerate(enterprises)],
        "_culture_slots": cultures,
        "_people": [
            (index, n, name, *_mailboxes(name))
            for index, culture in enumerate(CULTURES)
            for n, name in enumerate(
                compose_name(culture, given, family) for given in culture.given for family in culture.family
            )
        ],
        "_roster": [
            (learner_id, name, country, *_mailboxes(name))
            for learner_id, (name, country) in enumerate(ROSTER, start=1)
        ],
        "_comments": [
            (mood, slot, comments[slot % len(comments)])
            for mood, comments in COMMENTS.items()
            for slot in range(comment_slots)
        ],
        "_mail_domains": list(enumerate(MAIL_DOMAINS)),
    }


def _mailboxes(name: str) -> tuple[str, str]:
    """Ascii and unicode mailboxes, as api/demo/learners.py makes them."""
    plain = mailbox_for(name, keep_unicode=False) or "learner"
    return plain, mailbox_for(name, keep_unicode=True) or "learner"


def _weights(cumulative: Sequence[float]) -> list[float]:
    return [high - low for low, high in zip((0.0, *cumulative), cumulative, strict=False)]


def _slots(weights: Sequence[float]) -> list[int]:
    """For each of `_SLOTS` slots the index it draws: each index gets slots by its weight."""
    cumulative: list[float] = []
    for weight in weights:
        cumulative.append((cumulative[-1] if cumulative else 0.0) + weight)
    total = cumulative[-1]
    return [
        min(bisect(cumulative, (slot + 0.5) * total / _SLOTS), len(weights) - 1) for slot in range(_SLOTS)
    ]
