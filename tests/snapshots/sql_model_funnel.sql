SELECT CAST(module.position AS BIGINT) AS module__position, count(DISTINCT module_funnel.learner_id) AS learners_reached, CAST((count(DISTINCT module_funnel.learner_id) FILTER (WHERE (module_funnel.completed))::float8 / nullif(count(DISTINCT module_funnel.learner_id), 0)) AS FLOAT) AS step_completion_rate 
FROM (select enrollment_id::text || ':' || module_id::text as id,
       enrollment_id, learner_id, course_id, module_id, partner_id, enterprise_id,
       min(occurred_at) as reached_at,
       bool_or(event_type = 'module_completed') as completed
from progress_events group by enrollment_id, learner_id, course_id, module_id, partner_id, enterprise_id
) AS module_funnel LEFT OUTER JOIN course_modules AS module ON module_funnel.module_id = module.id LEFT OUTER JOIN courses AS course ON module_funnel.course_id = course.id 
WHERE course.id = $1::BIGINT GROUP BY CAST(module.position AS BIGINT) ORDER BY module__position ASC NULLS LAST 
 LIMIT $2::INTEGER

-- columns: module__position, learners_reached, step_completion_rate
-- $1: 3
-- $2: 10000
