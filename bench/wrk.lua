-- wrk script for bench/loadgen.py: cycles through the request paths in a file, one per request
-- (so a transition acts on a different assignment each time), and prints its summary as one JSON line.
-- Arguments after `--`: paths file, method, bearer token, body ("" for none).

local prepared, next_request = {}, 0

function init(args)
  local method, token, body = args[2], args[3], args[4]
  local headers = { ["Authorization"] = "Bearer " .. token }
  if body == "" then
    body = nil
  else
    headers["Content-Type"] = "application/json"
  end
  for path in io.lines(args[1]) do
    prepared[#prepared + 1] = wrk.format(method, path, headers, body)
  end
end

function request()
  next_request = next_request % #prepared + 1
  return prepared[next_request]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "ok": %d, "errors": %d, "seconds": %.6f, "p50_ms": %.3f, "p99_ms": %.3f}\n',
    summary.requests, summary.requests - e.status, e.connect + e.read + e.write + e.timeout + e.status, summary.duration / 1e6,
    latency:percentile(50) / 1e3, latency:percentile(99) / 1e3
  ))
end
