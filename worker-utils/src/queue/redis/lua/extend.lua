-- Extends the leases of reservations that still hold (the heartbeat of running jobs).
-- KEYS: 1 leased zset
-- ARGV: 1 key prefix, 2 lease in ms, then (id, token) per job
-- Returns: 1 (extended) or 0 (the reservation no longer holds) per job.
local now = now_ms()
local prefix, lease = ARGV[1], tonumber(ARGV[2])
local out = {}
for i = 3, #ARGV, 2 do
  local id, token = ARGV[i], ARGV[i + 1]
  local deadline = redis.call('ZSCORE', KEYS[1], id)
  if deadline and tonumber(deadline) > now and redis.call('HGET', prefix .. 'j:' .. id, 't') == token then
    redis.call('ZADD', KEYS[1], now + lease, id)
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
return out
