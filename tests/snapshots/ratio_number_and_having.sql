SELECT course__partner.name AS course__partner__name, CAST(((count(feedback.id) FILTER (WHERE (feedback.nps >= 9)) - count(feedback.id) FILTER (WHERE (feedback.nps <= 6))) * 100.0 / nullif(count(feedback.id), 0)) AS FLOAT) AS nps, CAST(avg(feedback.rating) AS FLOAT) AS avg_rating, CAST(count(feedback.id) FILTER (WHERE (feedback.rating >= 4)) AS FLOAT) / CAST(nullif(CAST(count(feedback.id) AS FLOAT), 0) AS FLOAT) AS satisfied_rate 
FROM feedback AS feedback LEFT OUTER JOIN courses AS course ON feedback.course_id = course.id LEFT OUTER JOIN organizations AS course__partner ON course.partner_id = course__partner.id GROUP BY course__partner.name 
HAVING count(feedback.id) >= $1::BIGINT ORDER BY nps DESC NULLS LAST, course__partner__name ASC NULLS LAST 
 LIMIT $2::INTEGER

-- columns: course__partner__name, nps, avg_rating, satisfied_rate
-- $1: 10
-- $2: 5
