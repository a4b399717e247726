-- wrk script: send each request of the file given after `--` in turn (each thread starts elsewhere),
-- and print the figures the benchmark reads as one JSON line ("WRK {...}").
--
-- A line of the file is a path (GET), or "METHOD<TAB>path<TAB>body" (e.g. a POST with a JSON body;
-- headers such as Content-Type and Authorization come from wrk's -H options).
--
-- With WRK_OK set (e.g. "200" or "200,201"), every answer's status is read and any other status is
-- counted in "bad" (wrk itself counts only statuses above 399, in "status"). Reading answers costs
-- client time, so it is on only where a load is checked.
local requests = {}
local i = 0
local threads = {}
bad = 0

local ok_list = os.getenv("WRK_OK")
if ok_list and ok_list ~= "" then
  local ok = {}
  for code in string.gmatch(ok_list, "%d+") do
    ok[tonumber(code)] = true
  end
  function response(status, headers, body)
    if not ok[status] then
      bad = bad + 1
    end
  end
end

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  for line in io.lines(args[1]) do
    local method, path, body = string.match(line, "^(%u+)\t([^\t]+)\t(.*)$")
    if method then
      requests[#requests + 1] = wrk.format(method, path, nil, body)
    else
      requests[#requests + 1] = wrk.format("GET", line)
    end
  end
  i = math.random(#requests)
end

function request()
  i = i % #requests + 1
  return requests[i]
end

function done(summary, latency, _)
  local e = summary.errors
  local bad_total = 0
  for _, thread in ipairs(threads) do
    bad_total = bad_total + (thread:get("bad") or 0)
  end
  io.write(string.format(
    'WRK {"requests": %d, "seconds": %f, "p50_ms": %f, "p90_ms": %f, "p99_ms": %f, "p999_ms": %f, '
      .. '"max_ms": %f, "errors": %d, "connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d, '
      .. '"bad": %d, "checked": %s}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency:percentile(99.9) / 1000, latency.max / 1000,
    e.connect + e.read + e.write + e.status + e.timeout, e.connect, e.read, e.write, e.status, e.timeout,
    bad_total, (ok_list and ok_list ~= "") and "true" or "false"))
end
