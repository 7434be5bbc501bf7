-- Adds jobs. A job with an idempotency key that is already taken adds nothing and
-- returns the id of the job holding the key.
-- Each added job's PENDING event goes to the status stream in the same script (one entry),
-- unless the stream cap is 0.
-- KEYS: 1 id counter, 2 ready list, 3 delayed zset, 4 marker list, 5 status stream
-- ARGV: 1 key prefix, 2 delay in ms, 3 the queue name as a JSON string, 4 status stream
--       cap, then (payload, idempotency key or "") per job
-- Returns: (id, 1 if added or 0 if the key was taken) per job.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local prefix, delay, queue, stream_cap = ARGV[1], tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
local out, added, events = {}, 0, {}
for i = 5, #ARGV, 2 do
  local payload, key = ARGV[i], ARGV[i + 1]
  local existing = false
  if key ~= '' then
    existing = redis.call('GET', prefix .. 'idem:' .. key)
  end
  if existing then
    out[#out + 1] = tonumber(existing)
    out[#out + 1] = 0
  else
    local id = redis.call('INCR', KEYS[1])
    redis.call('HSET', prefix .. 'j:' .. id, 'p', payload, 'd', 0, 't', 0, 'e', now, 'k', key)
    if key ~= '' then
      redis.call('SET', prefix .. 'idem:' .. key, id)
    end
    if delay > 0 then
      redis.call('ZADD', KEYS[3], now + delay, id)
    else
      redis.call('LPUSH', KEYS[2], id)
      added = added + 1
    end
    out[#out + 1] = id
    out[#out + 1] = 1
    if stream_cap > 0 then
      events[#events + 1] = '{"seq":0,"job_id":' .. id .. ',"queue":' .. queue ..
        ',"worker":"","status":"PENDING","attempt":1,"timestamp_ms":' .. now .. '}'
    end
  end
end
if #events > 0 then
  redis.call('XADD', KEYS[5], 'MAXLEN', '~', stream_cap, '*', 'e', '[' .. table.concat(events, ',') .. ']')
end
if added > 0 then
  redis.call('LPUSH', KEYS[4], 1)
  redis.call('LTRIM', KEYS[4], 0, 0)
end
return out
