-- wrk script of bench/events_intake.py: posts pre-signed deliveries read from a file.
-- Usage: wrk -t T -c C -s events_intake.lua URL -- <deliveries file> <T>
-- Each line of the file: path TAB Stripe-Signature TAB body (compact JSON: no tab, no newline).
-- Thread i sends lines i, i+T, i+2T ... (wrapping round if the run outlasts the file), so the
-- threads never send the same line; done() prints one "BENCH ..." line the benchmark parses.

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  local file, nthreads = args[1], tonumber(args[2])
  reqs = {}
  local n = 0
  for line in io.lines(file) do
    if n % nthreads == id then
      local path, signature, body = line:match("^([^\t]*)\t([^\t]*)\t(.*)$")
      reqs[#reqs + 1] = wrk.format("POST", path, {
        ["Content-Type"] = "application/json",
        ["Stripe-Signature"] = signature,
      }, body)
    end
    n = n + 1
  end
  sent, completed, queries, stripe_calls = 0, 0, 0, 0
  s200, s400, sother = 0, 0, 0
end

function request()
  sent = sent + 1
  return reqs[((sent - 1) % #reqs) + 1]
end

function response(status, headers, body)
  completed = completed + 1
  if status == 200 then
    s200 = s200 + 1
  elseif status == 400 then
    s400 = s400 + 1
  else
    sother = sother + 1
  end
  queries = queries + (tonumber(headers["X-Bench-Queries"]) or 0)
  stripe_calls = stripe_calls + (tonumber(headers["X-Bench-Stripe-Calls"]) or 0)
end

function done(summary, latency, requests)
  local sent_list = {}
  local t = { completed = 0, queries = 0, stripe = 0, s200 = 0, s400 = 0, sother = 0 }
  for _, thread in ipairs(threads) do
    sent_list[#sent_list + 1] = tostring(thread:get("sent"))
    t.completed = t.completed + thread:get("completed")
    t.queries = t.queries + thread:get("queries")
    t.stripe = t.stripe + thread:get("stripe_calls")
    t.s200 = t.s200 + thread:get("s200")
    t.s400 = t.s400 + thread:get("s400")
    t.sother = t.sother + thread:get("sother")
  end
  local e = summary.errors
  io.write(string.format(
    "BENCH duration_us=%d completed=%d queries=%d stripe=%d s200=%d s400=%d sother=%d "
      .. "p50_us=%d p99_us=%d max_us=%d socket_errors=%d sent=%s\n",
    summary.duration, t.completed, t.queries, t.stripe, t.s200, t.s400, t.sother,
    latency:percentile(50), latency:percentile(99), latency.max,
    e.connect + e.read + e.write + e.timeout, table.concat(sent_list, ",")
  ))
end
