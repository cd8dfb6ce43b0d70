SELECT enrollments.status AS status, count(enrollments.id) AS count 
FROM enrollments AS enrollments GROUP BY enrollments.status ORDER BY count DESC NULLS LAST, status ASC NULLS LAST 
 LIMIT $1::INTEGER

-- columns: status, count
-- $1: 10000
