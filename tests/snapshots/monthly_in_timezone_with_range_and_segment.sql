SELECT date_trunc('month', timezone($1::VARCHAR, enrollments.enrolled_at)) AS enrolled_at__month, course.subject AS course__subject, count(enrollments.id) AS count, CAST(count(enrollments.id) FILTER (WHERE (enrollments.status = 'completed')) AS FLOAT) / CAST(nullif(CAST(count(enrollments.id) AS FLOAT), 0) AS FLOAT) AS completion_rate 
FROM enrollments AS enrollments LEFT OUTER JOIN courses AS course ON enrollments.course_id = course.id 
WHERE enrollments.enrolled_at >= timezone($1::VARCHAR, $2::TIMESTAMP WITHOUT TIME ZONE) AND enrollments.enrolled_at < timezone($1::VARCHAR, $3::TIMESTAMP WITHOUT TIME ZONE) AND (enrollments.enterprise_id is not null) GROUP BY date_trunc('month', timezone($1::VARCHAR, enrollments.enrolled_at)), course.subject ORDER BY enrolled_at__month ASC NULLS LAST, course__subject ASC NULLS LAST 
 LIMIT $4::INTEGER

-- columns: enrolled_at__month, course__subject, count, completion_rate
-- $1: 'Europe/London'
-- $2: datetime.datetime(2025, 1, 1, 0, 0)
-- $3: datetime.datetime(2025, 7, 1, 0, 0)
-- $4: 10000
