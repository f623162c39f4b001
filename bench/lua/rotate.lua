-- wrk script: cycle through pre-built requests read from a file, and print the summary as JSON.
--
-- Usage: wrk ... -s bench/lua/rotate.lua http://127.0.0.1:PORT -- requests.tsv
-- Each line of requests.tsv: METHOD <tab> PATH <tab> BODY-FILE or "-" [<tab> NAME <tab> VALUE]...
-- Requests are formatted once in init(), so the loop costs wrk nothing but a table lookup; the
-- Python driver shuffles the lines, so consecutive requests hit different rows.

local requests = {}
local counter = 0

function init(args)
  for line in io.lines(args[1]) do
    local fields = {}
    for field in (line .. "\t"):gmatch("([^\t]*)\t") do
      fields[#fields + 1] = field
    end
    local headers = {}
    for i = 4, #fields - 1, 2 do
      headers[fields[i]] = fields[i + 1]
    end
    local body = nil
    if fields[3] ~= "-" then
      local handle = assert(io.open(fields[3], "rb"))
      body = handle:read("*a")
      handle:close()
    end
    requests[#requests + 1] = wrk.format(fields[1], fields[2], headers, body)
  end
  assert(#requests > 0, "no requests in " .. args[1])
end

function request()
  counter = counter % #requests + 1
  return requests[counter]
end

function done(summary, latency, _)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "bytes": %d, "mean_us": %.1f, '
      .. '"p50_us": %d, "p90_us": %d, "p95_us": %d, "p99_us": %d, "p999_us": %d, '
      .. '"max_us": %d, "connect_errors": %d, "read_errors": %d, "write_errors": %d, '
      .. '"status_errors": %d, "timeouts": %d}\n',
    summary.requests, summary.duration, summary.bytes, latency.mean,
    latency:percentile(50), latency:percentile(90), latency:percentile(95),
    latency:percentile(99), latency:percentile(99.9), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end
