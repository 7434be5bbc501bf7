-- Shared by every script (scripts.rs puts it in front of each): Redis server time and the
-- PENDING event of a job that was just added.

-- Milliseconds since the Unix epoch, by the Redis server's clock.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- The JSON of job `id`'s PENDING event in the queue named by `queue` (a JSON string).
local function pending_event(id, queue, now)
  return '{"job_id":' .. id .. ',"queue":' .. queue .. ',"status":"PENDING","attempt":1,"timestamp_ms":' .. now .. '}'
end

-- Adds `events` (JSON objects) to `stream` as one entry holding their array, capped.
local function add_events(stream, cap, events)
  if #events > 0 then
    redis.call('XADD', stream, 'MAXLEN', '~', cap, '*', 'e', '[' .. table.concat(events, ',') .. ']')
  end
end

-- Pushes the marker that wakes one waiting worker.
local function wake(marker)
  redis.call('LPUSH', marker, 1)
  redis.call('LTRIM', marker, 0, 0)
end
