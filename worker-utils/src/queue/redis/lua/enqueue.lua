-- Adds jobs. A job with an idempotency key that is already taken adds nothing and
-- returns the id of the job holding the key.
-- Each added job's PENDING event goes to the status stream in the same script (one entry),
-- unless the stream cap is 0.
-- KEYS: 1 id counter, 2 ready list, 3 delayed zset, 4 marker list, 5 status stream
-- ARGV: 1 key prefix, 2 delay in ms, 3 the queue name as a JSON string, 4 status stream
--       cap, 5 the producer's trace context as JSON or "", then (payload, idempotency key
--       or "") per job
-- Returns: (id, 1 if added or 0 if the key was taken) per job.
local now = now_ms()
local prefix, delay, queue, stream_cap = ARGV[1], tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
local trace = ARGV[5]
local out, ready, events = {}, {}, {}
for i = 6, #ARGV, 2 do
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
    local job = prefix .. 'j:' .. id
    if key ~= '' then
      redis.call('HSET', job, 'p', payload, 'e', now, 'k', key)
      redis.call('SET', prefix .. 'idem:' .. key, id)
    else
      redis.call('HSET', job, 'p', payload, 'e', now)
    end
    if trace ~= '' then redis.call('HSET', job, 'c', trace) end
    if delay > 0 then
      redis.call('ZADD', KEYS[3], now + delay, id)
    else
      ready[#ready + 1] = id
    end
    out[#out + 1] = id
    out[#out + 1] = 1
    if stream_cap > 0 then
      events[#events + 1] = pending_event(id, queue, now)
    end
  end
end
add_events(KEYS[5], stream_cap, events)
if #ready > 0 then
  redis.call('LPUSH', KEYS[2], unpack(ready))
  wake(KEYS[4])
end
return out
