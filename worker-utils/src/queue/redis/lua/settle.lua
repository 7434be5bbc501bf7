-- Records the outcomes of reservations, each only while its reservation holds (the job's
-- token is the receipt's and the job is still leased, not reclaimed or handed out again):
-- the fencing of stale workers.
-- The status events of the recorded outcomes are added to the status stream in the same
-- script, as one entry: an event is published if and only if its outcome is recorded.
-- KEYS: 1 ready list, 2 delayed zset, 3 leased zset, 4 dead zset, 5 marker list,
--       6 dead-letter eviction counter, 7 status stream
-- ARGV: 1 key prefix, 2 dead-letter cap, 3 status stream cap, then per outcome six values:
--       op ("ack" | "nack" | "release" | "dead"), id, token, failure JSON or "", delay in
--       ms, status event JSON or ""
-- Returns: 1 (recorded) or 0 (the reservation no longer holds) per outcome.
local now = now_ms()
local prefix, cap, stream_cap = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local out, woke, events = {}, false, {}

for i = 4, #ARGV, 6 do
  local op, id, token, failure, delay = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], tonumber(ARGV[i + 4])
  local event = ARGV[i + 5]
  local job = prefix .. 'j:' .. id
  local held = redis.call('HMGET', job, 't', 'k')
  if held[1] ~= token or redis.call('ZREM', KEYS[3], id) == 0 then
    out[#out + 1] = 0
  else
    if op == 'ack' then
      redis.call('DEL', job)
      if held[2] and held[2] ~= '' then redis.call('DEL', prefix .. 'idem:' .. held[2]) end
    elseif op == 'nack' then
      local history = redis.call('HGET', job, 'f')
      if history and history ~= '' then history = history .. ',' .. failure else history = failure end
      redis.call('HSET', job, 'f', history)
      if delay > 0 then
        redis.call('ZADD', KEYS[2], now + delay, id)
      else
        redis.call('HSET', job, 'w', now)
        redis.call('RPUSH', KEYS[1], id)
        woke = true
      end
    elseif op == 'release' then
      redis.call('HINCRBY', job, 'r', 1)
      redis.call('RPUSH', KEYS[1], id)
      woke = true
    else -- dead
      redis.call('HSET', job, 'x', failure)
      redis.call('ZADD', KEYS[4], now, id)
      while redis.call('ZCARD', KEYS[4]) > cap do
        local oldest = redis.call('ZPOPMIN', KEYS[4])
        local evicted = prefix .. 'j:' .. oldest[1]
        local key = redis.call('HGET', evicted, 'k')
        if key and key ~= '' then redis.call('DEL', prefix .. 'idem:' .. key) end
        redis.call('DEL', evicted)
        redis.call('INCR', KEYS[6])
      end
    end
    out[#out + 1] = 1
    if event ~= '' then events[#events + 1] = event end
  end
end
add_events(KEYS[7], stream_cap, events)
if woke then
  wake(KEYS[5])
end
return out
