-- list-users: one keyset page per request, the page drawn uniformly at random
-- from the file named by ROSTER_BENCH_CURSORS (one links.next value a line,
-- path and query, as the server returned it).

local script_dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(script_dir .. "common.lua")

local requests

-- Builds every request once so that request() is only a table lookup.
function init(args)
  common.init()
  requests = {}
  for i, path in ipairs(common.read_lines(os.getenv("ROSTER_BENCH_CURSORS"))) do
    requests[i] = wrk.format("GET", path)
  end
end

function request()
  return requests[math.random(#requests)]
end
