SELECT count(learners.id) AS count 
FROM learners AS learners LEFT OUTER JOIN organizations AS enterprise ON learners.enterprise_id = enterprise.id 
WHERE CAST(learners.full_name AS TEXT) ILIKE ANY ($1::VARCHAR[]) AND CAST(learners.email AS TEXT) ILIKE ANY ($2::VARCHAR[]) AND (learners.country != ALL ($3) OR learners.country IS NULL) AND (enterprise.name != $4 OR enterprise.name IS NULL) AND enterprise.kind IS NOT NULL ORDER BY count DESC NULLS LAST 
 LIMIT $5::INTEGER

-- columns: count
-- $1: ["%o'b%", '%100\\%%']
-- $2: ['%.org']
-- $3: ['Canada', 'Chile']
-- $4: 'Acme'
-- $5: 10000
