SELECT count(enrollments.id) AS count 
FROM enrollments AS enrollments 
WHERE (enrollments.status = $1 AND enrollments.grade >= $2::BIGINT OR enrollments.progress < $3::BIGINT) AND enrollments.enrolled_at >= timezone($4::VARCHAR, $5::TIMESTAMP WITHOUT TIME ZONE) AND enrollments.completed_at < $6::TIMESTAMP WITH TIME ZONE ORDER BY count DESC NULLS LAST 
 LIMIT $7::INTEGER

-- columns: count
-- $1: 'completed'
-- $2: 90
-- $3: 10
-- $4: 'UTC'
-- $5: datetime.datetime(2025, 1, 1, 0, 0)
-- $6: datetime.datetime(2025, 7, 1, 12, 0, tzinfo=datetime.timezone(datetime.timedelta(seconds=7200)))
-- $7: 10000
