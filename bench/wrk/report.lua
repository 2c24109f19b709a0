-- wrk script for bench/run.py: optional request method/body from the environment, a count
-- of non-2xx responses per thread, and one JSON line (prefixed "WRK_JSON ") at the end.
--
--   WRK_METHOD=POST WRK_BODY='a=1' WRK_CONTENT_TYPE=application/x-www-form-urlencoded \
--     wrk -t1 -c32 -d10s -s bench/wrk/report.lua http://127.0.0.1:8000/path

local method = os.getenv("WRK_METHOD")
if method and method ~= "" then
  wrk.method = method
end
local body = os.getenv("WRK_BODY")
if body and body ~= "" then
  wrk.body = body
end
local content_type = os.getenv("WRK_CONTENT_TYPE")
if content_type and content_type ~= "" then
  wrk.headers["Content-Type"] = content_type
end

-- WRK_OK_STATUS=304: a 304 also counts as success (the conditional GET scenarios).
local ok_status = tonumber(os.getenv("WRK_OK_STATUS") or "")

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  non2xx = 0
  bad_status = 0
end

function response(status, headers, body)
  if (status < 200 or status > 299) and status ~= ok_status then
    non2xx = non2xx + 1
    bad_status = status
  end
end

function done(summary, latency, requests)
  local non2xx_total = 0
  local last_bad = 0
  for _, thread in ipairs(threads) do
    non2xx_total = non2xx_total + (thread:get("non2xx") or 0)
    local status = thread:get("bad_status") or 0
    if status ~= 0 then
      last_bad = status
    end
  end
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
    '"requests_per_s": %.2f, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, ' ..
    '"mean_us": %.1f, "non2xx": %d, "last_bad_status": %d, ' ..
    '"errors_connect": %d, "errors_read": %d, "errors_write": %d, "errors_timeout": %d}\n',
    summary.requests, summary.duration, summary.bytes,
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    latency.mean, non2xx_total, last_bad,
    e.connect, e.read, e.write, e.timeout))
end
