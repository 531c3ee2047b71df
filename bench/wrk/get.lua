-- get-user: GET /core/users/{id} for ids drawn uniformly at random from the
-- file named by ROSTER_BENCH_IDS (one user id a line).

local script_dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(script_dir .. "common.lua")

local requests

-- Builds every request once so that request() is only a table lookup.
function init(args)
  common.init()
  requests = {}
  for i, id in ipairs(common.read_lines(os.getenv("ROSTER_BENCH_IDS"))) do
    requests[i] = wrk.format("GET", "/core/users/" .. id)
  end
end

function request()
  return requests[math.random(#requests)]
end
