SELECT count(learners.id) AS count 
FROM learners AS learners LEFT OUTER JOIN organizations AS enterprise ON learners.enterprise_id = enterprise.id 
WHERE ((learners.full_name ILIKE '%' || $1::VARCHAR || '%' ESCAPE '/') OR (learners.full_name ILIKE '%' || $2::VARCHAR || '%' ESCAPE '/')) AND (learners.email ILIKE '%' || $3::VARCHAR ESCAPE '/') AND ((learners.country NOT IN ($4::VARCHAR, $5::VARCHAR)) OR learners.country IS NULL) AND (enterprise.name != $6::VARCHAR OR enterprise.name IS NULL) AND enterprise.kind IS NOT NULL ORDER BY count DESC NULLS LAST 
 LIMIT $7::INTEGER

-- columns: count
-- $1: "o'b"
-- $2: '100/%'
-- $3: '.org'
-- $4: 'Canada'
-- $5: 'Chile'
-- $6: 'Acme'
-- $7: 10000
