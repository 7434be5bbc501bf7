-- Leases up to `max` ready jobs. First moves due delayed jobs and expired leases to the
-- ready list (a reclaimed lease counts as a delivery when the job is next handed out).
-- KEYS: 1 ready list, 2 delayed zset, 3 leased zset, 4 marker list
-- ARGV: 1 key prefix, 2 max jobs, 3 lease in ms
-- Returns: { ms until the next delayed job or lease falls due (-1: none; only when no job
-- was leased), reclaimed lease count, then (id, delivery, token, payload, trace context JSON or "") per job }.
local now = now_ms()
local prefix, max, lease = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])

-- Each moved job notes since when it is ready (`w`, the score: when it fell due), for the
-- queue's lag.
local function promote(from, to)
  local due = redis.call('ZRANGEBYSCORE', from, '-inf', now, 'WITHSCORES', 'LIMIT', 0, 1000)
  for i = 1, #due, 2 do
    redis.call('ZREM', from, due[i])
    redis.call('HSET', prefix .. 'j:' .. due[i], 'w', due[i + 1])
    redis.call('RPUSH', to, due[i])
  end
  return #due / 2
end
promote(KEYS[2], KEYS[1])
local expired = promote(KEYS[3], KEYS[1])

local out = { -1, expired }
local ids = redis.call('RPOP', KEYS[1], max)
if ids then
  local leases = {}
  for _, id in ipairs(ids) do
    local job = prefix .. 'j:' .. id
    local fields = redis.call('HMGET', job, 'p', 'r', 'c')
    if fields[1] then
      -- The token counts reservations; a release counts one back as no delivery.
      local token = redis.call('HINCRBY', job, 't', 1)
      leases[#leases + 1] = now + lease
      leases[#leases + 1] = id
      out[#out + 1] = tonumber(id)
      out[#out + 1] = token - tonumber(fields[2] or 0)
      out[#out + 1] = token
      out[#out + 1] = fields[1]
      out[#out + 1] = fields[3] or ''
    end
  end
  if #leases > 0 then redis.call('ZADD', KEYS[3], unpack(leases)) end
end

if redis.call('LLEN', KEYS[1]) > 0 then
  -- More work is ready: wake another waiting worker.
  wake(KEYS[4])
elseif #out == 2 then
  local next_due = -1
  local d = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  if d[2] then next_due = tonumber(d[2]) end
  local l = redis.call('ZRANGE', KEYS[3], 0, 0, 'WITHSCORES')
  if l[2] and (next_due < 0 or tonumber(l[2]) < next_due) then next_due = tonumber(l[2]) end
  if next_due >= 0 then out[1] = math.max(next_due - now, 0) end
end
return out
