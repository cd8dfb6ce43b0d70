"""The rows of each table that PostgreSQL generates, from the plan (`api/demo/sql_plan.py`).

Each query yields one chunk of a table's rows, in the column order of `COLUMNS[table]` and
of the table's own types (`api/demo/copy_pipe.py` checks them: binary COPY would not):
learners $1..$2 for `learners`, enrollments $1..$2 for the other tables. `$3`, where a
query has it, is how many rows of the table earlier chunks had: ids continue from it, in
an explicit order, so they do not depend on the chunk size. The rules are those of
api/demo/facts.py and learners.py, drawn from hashes.
"""

from __future__ import annotations

from typing import Final

LEARNERS: Final = """
select l.id, l.enterprise_id,
       case when pg_temp.part(x.i, 0) < 0.2 then coalesce(r.mailbox_unicode, p.mailbox_unicode)
            else coalesce(r.mailbox, p.mailbox) end
       || l.id || case when pg_temp.part(x.i, 1) < 0.08 then '+learning' else '' end
       || '@' || coalesce(l.enterprise_id || '.example', d.domain) as email,
       coalesce(r.full_name, p.full_name) as full_name,
       coalesce(r.country, case when l.enterprise_id is not null and pg_temp.part(x.h, 2) < 0.6
                                then l.enterprise_country
                                else c.countries[1 + ((x.h >> 48) & 65535) % cardinality(c.countries)] end)
           as country,
       pg_temp.at(l.signed_up) as signed_up_at
from _learners as l
cross join lateral (
    select pg_temp.bits(l.id, 'name', 0) as h, pg_temp.bits(l.id, 'name', 1) as i offset 0
) as x
join _culture_slots as c on c.slot = x.h & 65535
join _people as p on p.culture = c.culture and p.n = ((x.h >> 16) & 65535) % c.people
join _mail_domains as d on d.n = ((x.i >> 32) & 65535) % (select count(*) from _mail_domains)
left join _roster as r on r.id = l.id
where l.id between $1 and $2
"""

ENROLLMENTS: Final = """
select e.id, e.learner_id, e.course_id, c.partner_id, e.enterprise_id,
       pg_temp.at(e.enrolled) as enrolled_at, e.status,
       round(100.0 * e.completed / e.modules, 2)::numeric(5, 2) as progress,
       case when e.status = 'completed' then pg_temp.at(e.updated) end as completed_at,
       case when e.status = 'completed' then pg_temp.hundredths(
           40 + 55 * e.ability + (pg_temp.part(e.k, 2) + pg_temp.part(e.k, 3) - 1) * 10
       )::numeric(5, 2) end as grade,
       pg_temp.at(e.updated) as updated_at
from _enrollments as e join _courses as c on c.id = e.course_id
where e.id between $1 and $2
"""

# Started, completed, started, completed, ... then started only, module by module. (A
# set-returning function in the select list streams its rows; in FROM it would fill a
# tuplestore for each enrollment.)
PROGRESS_EVENTS: Final = """
with chunk as (
    select e.id, e.learner_id, e.course_id, c.partner_id, e.enterprise_id, e.t0, e.pace,
           e.started, e.completed, c.first_module, c.minutes,
           $3::bigint + sum(e.started + e.completed) over (order by e.id) - (e.started + e.completed)
           as before
    from _enrollments as e join _courses as c on c.id = e.course_id
    where e.id between $1 and $2
), numbered as (
    select chunk.*, generate_series(1::bigint, chunk.started + chunk.completed) as n from chunk
), placed as (
    select v.*, v.n <= 2 * v.completed and v.n % 2 = 0 as done,
           case when v.n <= 2 * v.completed then ((v.n + 1) / 2)::integer
                else (v.n - v.completed)::integer end as position
    from numbered as v
    offset 0
), drawn as (
    select p.*, pg_temp.bits(p.id, 'module', p.position) as h, p.minutes[p.position] as module_minutes
    from placed as p
    offset 0
)
select x.before + x.n as id, x.id as enrollment_id, x.learner_id, x.course_id,
       x.first_module + x.position - 1 as module_id, x.partner_id, x.enterprise_id,
       case when x.done then 'module_completed' else 'module_started' end as event_type,
       pg_temp.at(case when x.done
                       then pg_temp.done_at(x.t0, x.pace, x.position, x.module_minutes, x.h)
                       else pg_temp.started_at(x.t0, x.pace, x.position, x.h) end) as occurred_at,
       case when x.done then pg_temp.spent(x.module_minutes, x.h)
            else 1 + floor(15 * pg_temp.part(x.h, 3))::integer end as minutes_spent
from drawn as x
"""

# Module assessments after completing their module, final ones after completing the course.
ASSESSMENT_SUBMISSIONS: Final = """
with due as (
    select e.id as enrollment_id, e.learner_id, e.course_id, c.partner_id, e.enterprise_id,
           e.ability, a.id as assessment_id, a.position is null as final, x.h,
           pg_temp.done_at(e.t0, e.pace, x.position, c.minutes[x.position],
                           pg_temp.bits(e.id, 'module', x.position))
           + 300 + floor(2 * pg_temp.day() * pg_temp.part(x.h, 1) * pg_temp.part(x.h, 1))::bigint as at
    from _enrollments as e
    join _courses as c on c.id = e.course_id
    join _assessments as a on a.course_id = e.course_id
    cross join lateral (
        select pg_temp.bits(e.id, 'submission', a.ord) as h, coalesce(a.position, e.modules) as position
        offset 0
    ) as x
    where e.id between $1 and $2
      and case when a.position is null then e.status = 'completed' and pg_temp.part(x.h, 0) < 0.9
               else a.position <= e.completed and pg_temp.part(x.h, 0) < 0.85 end
    offset 0
), scored as (
    select d.*, pg_temp.hundredths(
               35 + 60 * d.ability - case when d.final then 8 else 0 end
               + (pg_temp.part(d.h, 2) + pg_temp.part(d.h, 3) - 1) * 25
           )::numeric(6, 2) as score
    from due as d where d.at < pg_temp.horizon()
    offset 0
)
select $3::bigint + row_number() over (order by s.enrollment_id, s.assessment_id) as id,
       s.assessment_id, s.enrollment_id, s.learner_id, s.course_id, s.partner_id, s.enterprise_id,
       pg_temp.at(s.at) as submitted_at, s.score, s.score >= 60 as passed
from scored as s
"""

# Most finishers, some others: the mood follows the course, the progress and the learner.
FEEDBACK: Final = """
with given as (
    select e.*, c.partner_id, x.h, x.i, e.updated + 3600
           + floor(14 * pg_temp.day() * pg_temp.part(x.h, 1) * pg_temp.part(x.h, 1))::bigint as at,
           least(5, greatest(1, 1 + floor(5 * (
               0.3 * c.quality + 0.25 * e.completed::double precision / e.modules + 0.2 * e.ability
               + 0.2 * pg_temp.part(x.h, 2) - 0.05
               + case e.status when 'completed' then 0.25::double precision
                               when 'dropped' then -0.15 else 0 end
           ))))::integer as rating
    from _enrollments as e
    join _courses as c on c.id = e.course_id
    cross join lateral (
        select pg_temp.bits(e.id, 'feedback', 0) as h, pg_temp.bits(e.id, 'feedback', 1) as i offset 0
    ) as x
    where e.id between $1 and $2 and e.updated > e.enrolled
      and pg_temp.part(x.h, 0) < case when e.status = 'completed' then 0.6
                                      else 0.08 + 0.25 * e.completed::double precision / e.modules end
    offset 0
)
select $3::bigint + row_number() over (order by g.id) as id, g.id as enrollment_id, g.learner_id,
       g.course_id, g.partner_id, g.enterprise_id, pg_temp.at(g.at) as submitted_at,
       g.rating::smallint as rating,
       least(10, greatest(0, 2 * g.rating + floor(4 * pg_temp.part(g.h, 3))::integer - 2))::smallint as nps,
       m.comment
from given as g
left join _comments as m
  on pg_temp.part(g.i, 0) < 0.55
 and m.slot = ((g.i >> 16) & 65535) % (select max(slot) + 1 from _comments)
 and m.mood = case when g.rating <= 2 then 'low' when g.rating = 3 then 'mid' else 'high' end
where g.at < pg_temp.horizon()
"""

# A score per course skill after the first, middle and last completed module (the
# distinct ones of the three: `checkpoints`). Each enrollment's count is known up front,
# so ids follow from the counts before it, in the order (enrollment, skill, checkpoint).
SKILL_SCORES: Final = """
with counted as (
    select e.id, e.learner_id, e.course_id, c.partner_id, e.enterprise_id, e.ability, e.modules,
           e.t0, e.pace, e.completed, c.minutes, c.skill_ids, m.mid, m.checkpoints,
           $3::bigint + sum(cardinality(c.skill_ids) * m.checkpoints) over (order by e.id)
           - cardinality(c.skill_ids) * m.checkpoints as before
    from _enrollments as e
    join _courses as c on c.id = e.course_id
    cross join lateral (
        select (e.completed + 1) / 2 as mid,
               1 + ((e.completed + 1) / 2 > 1)::integer + (e.completed > (e.completed + 1) / 2)::integer
               as checkpoints
    ) as m
    where e.id between $1 and $2 and e.completed > 0
), checked as (
    select n.*, p.kept, p.position,
           pg_temp.done_at(n.t0, n.pace, p.position, n.minutes[p.position],
                           pg_temp.bits(n.id, 'module', p.position)) as assessed
    from counted as n
    cross join lateral (values (1, 1, 1), (2, 2, n.mid), (3, 2 + (n.mid > 1)::integer, n.completed))
        as p (nth, kept, position)
    where p.nth = 1 or (p.nth = 2 and p.position > 1) or (p.nth = 3 and p.position > n.mid)
    offset 0
)
select s.before + (s.ord - 1) * s.checkpoints + s.kept as id, s.learner_id, s.skill_id, s.course_id,
       s.partner_id, s.enterprise_id, pg_temp.at(s.assessed) as assessed_at,
       pg_temp.hundredths(
           s.start + (100 - s.start) * (0.3 + 0.6 * s.ability) * s.position / s.modules
           + (pg_temp.part(s.h, 0) + pg_temp.part(s.h, 1) - 1) * 4
       )::numeric(5, 2) as score
from (
    select k.*, k.skill_ids[k.ord] as skill_id,
           15 + 35 * pg_temp.part(pg_temp.bits(k.id, 'skill', k.ord), 0) as start,
           pg_temp.bits(k.id, 'skill score', (k.ord - 1) * 16 + k.position) as h
    from (select c.*, generate_series(1, cardinality(c.skill_ids)) as ord from checked as c) as k
    offset 0
) as s
"""

# In load order, each after the tables it refers to: (query, whether it takes $3).
QUERIES: Final = {
    "learners": (LEARNERS, False),
    "enrollments": (ENROLLMENTS, False),
    "progress_events": (PROGRESS_EVENTS, True),
    "assessment_submissions": (ASSESSMENT_SUBMISSIONS, True),
    "feedback": (FEEDBACK, True),
    "skill_scores": (SKILL_SCORES, True),
}
