SELECT _parts.status AS status, coalesce(max(_parts.count), 0) AS count, max(_parts.course__total_duration_hours) AS course__total_duration_hours, max(_parts.course__avg_price) AS course__avg_price 
FROM (SELECT enrollments.status AS status, count(enrollments.id) AS count, CAST(NULL AS FLOAT) AS course__total_duration_hours, CAST(NULL AS FLOAT) AS course__avg_price 
FROM enrollments AS enrollments LEFT OUTER JOIN courses AS course ON enrollments.course_id = course.id GROUP BY enrollments.status UNION ALL SELECT _keys1.status AS status, CAST(NULL AS BIGINT) AS count, CAST(sum(_rows1.duration_hours) AS FLOAT) AS course__total_duration_hours, CAST(avg(_rows1.price) FILTER (WHERE (_rows1.is_paid)) AS FLOAT) AS course__avg_price 
FROM (SELECT DISTINCT enrollments.status AS status, course.id AS _pk 
FROM enrollments AS enrollments LEFT OUTER JOIN courses AS course ON enrollments.course_id = course.id) AS _keys1 LEFT OUTER JOIN courses AS _rows1 ON _rows1.id = _keys1._pk GROUP BY _keys1.status) AS _parts GROUP BY _parts.status ORDER BY count DESC NULLS LAST, status ASC NULLS LAST 
 LIMIT $1::INTEGER

-- columns: status, count, course__total_duration_hours, course__avg_price
-- $1: 10000
