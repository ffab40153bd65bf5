-- wrk script for the load run. Environment:
--   TOKEN_MODE   none | one | rotate  (no Authorization; the first token; a different token per request)
--   TOKENS_FILE  one session token per line
--   MAX_REQUESTS stop each thread after this many responses (0: run for the duration), then
--                create DONE_FILE so the runner can end wrk (wrk's main thread sleeps out -d)
-- Prints one machine-readable RESULT line at the end.
local mode = os.getenv("TOKEN_MODE") or "none"
local tokens_file = os.getenv("TOKENS_FILE")
local max_requests = tonumber(os.getenv("MAX_REQUESTS") or "0")
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end

local tokens = {}
local i = 0
local responses = 0
local fixed_headers = nil

function init(args)
  if mode ~= "none" then
    for line in io.lines(tokens_file) do
      if #line > 0 then tokens[#tokens + 1] = line end
    end
    -- Threads start far apart in the list so they do not send the same tokens together.
    i = (id or 0) * 4999
  end
  if mode == "one" then
    fixed_headers = { ["Authorization"] = "Bearer " .. tokens[1] }
  end
end

function request()
  if mode == "rotate" then
    i = i + 1
    local token = tokens[(i % #tokens) + 1]
    return wrk.format("GET", wrk.path, { ["Authorization"] = "Bearer " .. token })
  end
  return wrk.format("GET", wrk.path, fixed_headers)
end

if max_requests > 0 then
  function response(status, headers, body)
    responses = responses + 1
    if responses == max_requests then
      local f = io.open(os.getenv("DONE_FILE") .. "." .. (id or 0), "w")
      if f then f:close() end
      wrk.thread:stop()
    end
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d rps=%.1f p50_us=%d p99_us=%d non2xx=%d connect=%d read=%d write=%d timeout=%d\n",
    summary.requests, summary.duration, summary.requests / summary.duration * 1e6,
    latency:percentile(50), latency:percentile(99), e.status, e.connect, e.read, e.write, e.timeout))
end
