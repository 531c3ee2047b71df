-- Code shared by the scenario scripts: the request headers, per-thread ids,
-- the count of non-2xx responses and the RESULT line that core.sh parses.
--
-- wrk (4.x) runs one Lua state per thread plus one for setup() and done(), so
-- every state loads this file. Settings come from environment variables set
-- by core.sh:
--   ROSTER_BENCH_TOKEN    bearer token sent with every request
--   ROSTER_BENCH_THREADS  number of wrk threads (the -t value)

local common = {}

wrk.headers["Authorization"] = "Bearer " .. assert(os.getenv("ROSTER_BENCH_TOKEN"), "ROSTER_BENCH_TOKEN is not set")
wrk.headers["Accept"] = "application/vnd.api+json"

local threads = {}
local next_thread_id = 1

-- Runs in the setup state once per thread before any thread starts.
function setup(thread)
  thread:set("thread_id", next_thread_id)
  next_thread_id = next_thread_id + 1
  table.insert(threads, thread)
end

-- Per-thread state, set up by common.init() in each thread's init().
non_2xx = 0
first_non_2xx_status = nil
first_non_2xx_body = nil

function common.init()
  math.randomseed(os.time() * 1000 + thread_id)
end

-- Reads a file of one value per line into an array, failing on an empty file.
function common.read_lines(path)
  local lines = {}
  local file = assert(io.open(path, "r"), "cannot open " .. tostring(path))
  for line in file:lines() do
    if line ~= "" then
      lines[#lines + 1] = line
    end
  end
  file:close()
  assert(#lines > 0, path .. " is empty")
  return lines
end

-- Counts a response outside 200-299 and keeps the first one for the report.
-- Defining response() makes wrk hand each body to Lua, which costs some
-- load-generator CPU. The scenarios accept that cost so that a 3xx counts too,
-- since wrk's own error count covers only statuses above 399.
function common.check_status(status, body)
  if status < 200 or status > 299 then
    non_2xx = non_2xx + 1
    if first_non_2xx_status == nil then
      first_non_2xx_status = status
      first_non_2xx_body = string.sub(body or "", 1, 300)
    end
  end
end

function response(status, headers, body)
  common.check_status(status, body)
end

-- Prints one RESULT line of key=value pairs. Latencies are in milliseconds,
-- converted from wrk's microseconds.
function done(summary, latency, requests)
  local non_2xx_total = 0
  local first_status, first_body
  for _, thread in ipairs(threads) do
    non_2xx_total = non_2xx_total + (thread:get("non_2xx") or 0)
    if first_status == nil and thread:get("first_non_2xx_status") ~= nil then
      first_status = thread:get("first_non_2xx_status")
      first_body = thread:get("first_non_2xx_body")
    end
  end

  local errors = summary.errors
  local seconds = summary.duration / 1e6
  io.write(string.format(
    "RESULT requests=%d duration_s=%.2f rps=%.0f p50_ms=%.2f p99_ms=%.2f max_ms=%.2f non_2xx=%d socket_errors=%d timeouts=%d\n",
    summary.requests, seconds, summary.requests / seconds,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    non_2xx_total, errors.connect + errors.read + errors.write, errors.timeout))
  if first_status ~= nil then
    io.write(string.format("FIRST_NON_2XX status=%d body=%s\n", first_status, (first_body:gsub("\n", " "))))
  end
end

return common
