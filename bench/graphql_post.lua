-- wrk: POST /graphql with a JSON body and a bearer token (see bench/cache_load.py).
-- COHORT_BENCH_BODY names a file holding the JSON body; COHORT_BENCH_TOKEN is the JWT.
local path = os.getenv("COHORT_BENCH_BODY")
local token = os.getenv("COHORT_BENCH_TOKEN")
if path == nil or token == nil then
  error("set COHORT_BENCH_BODY (a file with the JSON body) and COHORT_BENCH_TOKEN")
end
local file = assert(io.open(path, "rb"))
wrk.method = "POST"
wrk.body = file:read("*a")
file:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/graphql-response+json"
wrk.headers["Authorization"] = "Bearer " .. token
