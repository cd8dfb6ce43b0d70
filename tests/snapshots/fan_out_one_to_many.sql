SELECT _parts.subject AS subject, coalesce(max(_parts.count), 0) AS count, max(_parts.total_duration_hours) AS total_duration_hours, coalesce(max(_parts.enrollments__count), 0) AS enrollments__count, max(_parts.enrollments__avg_progress) AS enrollments__avg_progress 
FROM (SELECT courses.subject AS subject, CAST(NULL AS BIGINT) AS count, CAST(NULL AS FLOAT) AS total_duration_hours, count(enrollments.id) AS enrollments__count, CAST(avg(enrollments.progress) AS FLOAT) AS enrollments__avg_progress 
FROM courses AS courses LEFT OUTER JOIN enrollments AS enrollments ON courses.id = enrollments.course_id GROUP BY courses.subject UNION ALL SELECT _keys1.subject AS subject, count(_rows1.id) AS count, CAST(sum(_rows1.duration_hours) AS FLOAT) AS total_duration_hours, CAST(NULL AS BIGINT) AS enrollments__count, CAST(NULL AS FLOAT) AS enrollments__avg_progress 
FROM (SELECT DISTINCT courses.subject AS subject, courses.id AS _pk 
FROM courses AS courses LEFT OUTER JOIN enrollments AS enrollments ON courses.id = enrollments.course_id) AS _keys1 LEFT OUTER JOIN courses AS _rows1 ON _rows1.id = _keys1._pk GROUP BY _keys1.subject) AS _parts GROUP BY _parts.subject ORDER BY count DESC NULLS LAST, subject ASC NULLS LAST 
 LIMIT $1::INTEGER

-- columns: subject, count, total_duration_hours, enrollments__count, enrollments__avg_progress
-- $1: 10000
