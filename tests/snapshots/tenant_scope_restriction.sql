SELECT date_trunc('week', timezone($1::VARCHAR, progress_events.occurred_at)) AS occurred_at__week, count(DISTINCT progress_events.learner_id) AS active_learners, CAST((CAST(sum(progress_events.minutes_spent) AS BIGINT) / 60.0) AS FLOAT) AS learning_hours 
FROM progress_events AS progress_events 
WHERE (progress_events.event_type = $2 OR progress_events.minutes_spent > $3::BIGINT) AND progress_events.partner_id = $4 GROUP BY date_trunc('week', timezone($1::VARCHAR, progress_events.occurred_at)) ORDER BY occurred_at__week ASC NULLS LAST 
 LIMIT $5::INTEGER OFFSET $6::INTEGER

-- columns: occurred_at__week, active_learners, learning_hours
-- $1: 'UTC'
-- $2: 'module_completed'
-- $3: 30
-- $4: 'northbridge-university'
-- $5: 100
-- $6: 100
