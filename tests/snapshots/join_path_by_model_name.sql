SELECT skill.category AS skills__category, date_trunc('quarter', timezone($1::VARCHAR, skill_scores.assessed_at)) AS assessed_at__quarter, CAST(avg(skill_scores.score) AS FLOAT) AS avg_score, CAST(count(DISTINCT skill_scores.learner_id) FILTER (WHERE (skill_scores.score >= 70)) AS FLOAT) / CAST(nullif(CAST(count(DISTINCT skill_scores.learner_id) AS FLOAT), 0) AS FLOAT) AS proficiency_rate 
FROM skill_scores AS skill_scores LEFT OUTER JOIN skills AS skill ON skill_scores.skill_id = skill.id GROUP BY skill.category, date_trunc('quarter', timezone($1::VARCHAR, skill_scores.assessed_at)) ORDER BY assessed_at__quarter ASC NULLS LAST, skills__category ASC NULLS LAST 
 LIMIT $2::INTEGER

-- columns: skills__category, assessed_at__quarter, avg_score, proficiency_rate
-- $1: 'UTC'
-- $2: 10000
