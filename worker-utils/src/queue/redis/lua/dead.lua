-- Dead-letter administration.
-- KEYS: 1 dead zset, 2 ready list, 3 marker list, 4 id counter, 5 status stream
-- ARGV: 1 key prefix, 2 op ("list" | "requeue" | "purge"), 3 the queue name as a JSON
--       string, 4 status stream cap (0: no status events), then job ids ("list": none,
--       every dead letter; "requeue" / "purge": the ids, or none for all)
-- Returns for "list": (id, payload, deliveries, earlier failures JSON or "", final failure
-- JSON, trace context JSON or "") per dead letter, oldest first; for "requeue", (old id, new id) per job; for
-- "purge", the ids purged.
local prefix, op, queue, stream_cap = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local now = now_ms()
local ids, events = {}, {}
if #ARGV > 4 then
  for i = 5, #ARGV do
    if redis.call('ZSCORE', KEYS[1], ARGV[i]) then ids[#ids + 1] = ARGV[i] end
  end
else
  ids = redis.call('ZRANGE', KEYS[1], 0, -1)
end
local out = {}
for _, id in ipairs(ids) do
  local job = prefix .. 'j:' .. id
  if op == 'list' then
    local f = redis.call('HMGET', job, 'p', 't', 'r', 'f', 'x', 'c')
    out[#out + 1] = tonumber(id)
    out[#out + 1] = f[1] or ''
    out[#out + 1] = tonumber(f[2] or 0) - tonumber(f[3] or 0)
    out[#out + 1] = f[4] or ''
    out[#out + 1] = f[5] or ''
    out[#out + 1] = f[6] or ''
  else
    redis.call('ZREM', KEYS[1], id)
    local f = redis.call('HMGET', job, 'p', 'k', 'e')
    redis.call('DEL', job)
    out[#out + 1] = tonumber(id)
    if op == 'requeue' then
      -- A fresh job with the same payload (and idempotency key): no deliveries, no history.
      local new = redis.call('INCR', KEYS[4])
      redis.call('HSET', prefix .. 'j:' .. new, 'p', f[1], 'e', f[3] or 0, 'w', now, 'k', f[2] or '')
      if f[2] and f[2] ~= '' then redis.call('SET', prefix .. 'idem:' .. f[2], new) end
      redis.call('LPUSH', KEYS[2], new)
      out[#out + 1] = new
      if stream_cap > 0 then
        events[#events + 1] = pending_event(new, queue, now)
      end
    elseif f[2] and f[2] ~= '' then
      redis.call('DEL', prefix .. 'idem:' .. f[2])
    end
  end
end
add_events(KEYS[5], stream_cap, events)
if op == 'requeue' and #out > 0 then
  wake(KEYS[3])
end
return out
