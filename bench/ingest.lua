-- wrk's script for bench/webhook_ingest.py: every thread loads its share of the pre-signed
-- requests (one per line: workflow id, timestamp, signature, body) and cycles through it;
-- response() counts statuses and keeps the workflow ids answered; done() writes what the bench
-- reads as JSON. Arguments after --: pool file, result file, thread count, Host header.
local threads = {}
local counter = 0

function setup(thread)
  thread:set("thread_index", counter)
  table.insert(threads, thread)
  counter = counter + 1
end

reqs, wfids, n, i, sent = {}, {}, 0, 0, 0
statuses, answered, wrapped = {}, {}, false

function init(args)
  pool_path, out_path = args[1], args[2]
  local nthreads, host = tonumber(args[3]), args[4]
  local k = 0
  for line in io.lines(pool_path) do
    if k % nthreads == thread_index then
      local wf, ts, sig, body = line:match("^([^\t]+)\t(%d+)\t([^\t]+)\t(.*)$")
      n = n + 1
      wfids[n] = wf
      reqs[n] = wrk.format("POST", "/webhooks/events", {
        ["Host"] = host,
        ["Content-Type"] = "application/json",
        ["X-Tracepost-Timestamp"] = ts,
        ["X-Tracepost-Signature"] = sig,
      }, body)
    end
    k = k + 1
  end
end

function request()
  if i == n then
    i = 0
    wrapped = true
  end
  i = i + 1
  sent = sent + 1
  return reqs[i]
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  local wf = body:match('"workflow_id":"([^"]+)"')
  if wf then
    answered[#answered + 1] = wf
  end
end

local function quoted(list, upto)
  local out = {}
  for j = 1, upto do
    out[#out + 1] = '"' .. list[j] .. '"'
  end
  return table.concat(out, ",")
end

function done(summary, latency, requests)
  local path = threads[1]:get("out_path")
  local status_parts, sent_parts, answered_parts = {}, {}, {}
  local any_wrapped = false
  local merged = {}
  for _, thread in ipairs(threads) do
    for code, count in pairs(thread:get("statuses")) do
      merged[code] = (merged[code] or 0) + count
    end
    local ids, count = thread:get("wfids"), thread:get("sent")
    sent_parts[#sent_parts + 1] = quoted(ids, math.min(count, #ids))
    local got = thread:get("answered")
    answered_parts[#answered_parts + 1] = quoted(got, #got)
    any_wrapped = any_wrapped or thread:get("wrapped")
  end
  for code, count in pairs(merged) do
    status_parts[#status_parts + 1] = string.format('"%d":%d', code, count)
  end
  local function nonempty(parts)
    local kept = {}
    for _, p in ipairs(parts) do
      if p ~= "" then kept[#kept + 1] = p end
    end
    return table.concat(kept, ",")
  end
  local e = summary.errors
  local f = io.open(path, "w")
  f:write(string.format(
    '{"requests":%d,"seconds":%.6f,"p50_ms":%.3f,"p95_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f,'
      .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
      .. '"wrapped":%s,"statuses":{%s},"sent_ids":[%s],"answered_ids":[%s]}',
    summary.requests, summary.duration / 1e6,
    latency:percentile(50) / 1e3, latency:percentile(95) / 1e3,
    latency:percentile(99) / 1e3, latency.max / 1e3,
    e.connect, e.read, e.write, e.status, e.timeout,
    tostring(any_wrapped), table.concat(status_parts, ","),
    nonempty(sent_parts), nonempty(answered_parts)))
  f:close()
end
