-- create-user: POST /core/users with an email that is unique per run, thread
-- and request, so every request creates a new user.
--
-- ROSTER_BENCH_LABEL  prefix that makes the emails unique across runs
-- ROSTER_BENCH_QUOTA  optional total number of users to create. A thread that
--                     has sent its share sends no more creates, and core.sh
--                     stops wrk once the server contains all of them.

local script_dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(script_dir .. "common.lua")

wrk.method = "POST"
wrk.path = "/core/users"
wrk.headers["Content-Type"] = "application/vnd.api+json"

local label = assert(os.getenv("ROSTER_BENCH_LABEL"), "ROSTER_BENCH_LABEL is not set")
local quota = tonumber(os.getenv("ROSTER_BENCH_QUOTA") or "")
local body_format = '{"data":{"type":"users","attributes":{"first_name":"Bench%d","last_name":"User%d",'
  .. '"email":"%s-t%d-%d@example.com","department":"Load test"}}}'

local sent = 0
local share

local discard_next_request = false

function init(args)
  common.init()
  discard_next_request = thread_id == 1
  if quota ~= nil then
    local threads = tonumber((assert(os.getenv("ROSTER_BENCH_THREADS"), "ROSTER_BENCH_THREADS is not set")))
    share = math.floor(quota / threads)
    if thread_id <= quota % threads then
      share = share + 1
    end
  end
end

-- Holds a connection idle for a minute once the thread has sent its share;
-- core.sh interrupts wrk long before that. Defined only with a quota, since
-- wrk then calls it before every request.
if quota ~= nil then
  function delay()
    if sent >= share then
      return 60000
    end
    return 0
  end
end

function request()
  -- wrk 4.1 calls request() once on its first thread, right after init(), to
  -- count the requests in the string, and then discards the string. So that
  -- call must not use up an email or a share of the quota.
  if discard_next_request then
    discard_next_request = false
    return wrk.format()
  end
  if share ~= nil and sent >= share then
    return wrk.format("GET", "/healthz")
  end
  sent = sent + 1
  local body = string.format(body_format, sent, thread_id, label, thread_id, sent)
  return wrk.format(nil, nil, nil, body)
end
