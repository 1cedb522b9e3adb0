-- wrk script: counts answers whose status is not WRK_EXPECT (default 200) and prints one
-- JSON line with the latency percentiles (ms). WRK_METHOD=POST with WRK_BODY (a string
-- where %d becomes a counter) sends a different JSON body each time; WRK_LINES (a file of
-- one body per line) sends its lines in turn, the threads taking alternate lines.
local threads = {}
local thread_count = 0

function setup(thread)
  thread:set("thread_id", thread_count)
  thread_count = thread_count + 1
  table.insert(threads, thread)
end

function init(args)
  bad = 0
  counter = 0
  expect = tonumber(os.getenv("WRK_EXPECT") or "200")
  method = os.getenv("WRK_METHOD") or "GET"
  template = os.getenv("WRK_BODY")
  lines = nil
  local path = os.getenv("WRK_LINES")
  if path then
    lines = {}
    for line in io.lines(path) do
      table.insert(lines, line)
    end
    stride = tonumber(os.getenv("WRK_THREADS") or "2")
    position = thread_id
  end
end

function request()
  if lines then
    local body = lines[(position % #lines) + 1]
    position = position + stride
    return wrk.format("POST", nil, nil, body)
  end
  if method == "POST" then
    counter = counter + 1
    local body = string.format(template, counter)
    return wrk.format("POST", nil, nil, body)
  end
  return wrk.format(nil)
end

function response(status, headers, body)
  if status ~= expect then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local total_bad = 0
  for _, thread in ipairs(threads) do
    total_bad = total_bad + thread:get("bad")
  end
  local seconds = summary.duration / 1e6
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout
  io.write(string.format(
    '{"requests": %d, "seconds": %.3f, "rps": %.1f, "p50": %.3f, "p95": %.3f, "p99": %.3f, "bad": %d, "socket_errors": %d}\n',
    summary.requests, seconds, summary.requests / seconds,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    total_bad + errors, errors))
end
