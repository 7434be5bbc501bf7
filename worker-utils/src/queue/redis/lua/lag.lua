-- The queue's lag (see `Queue::oldest_ready_age`): how long the work at the head of the
-- queue has waited, the longest of the job next in line (the ready list's tail; ready
-- since `w`, or since its enqueue `e` if it never waited elsewhere) and the most overdue
-- delayed job or lease not moved to the list yet. Reads only, O(log n).
-- KEYS: 1 ready list, 2 delayed zset, 3 leased zset
-- ARGV: 1 key prefix
-- Returns: the lag in ms, or -1 when no job can be reserved now.
local now = now_ms()
local since = nil
local next_id = redis.call('LINDEX', KEYS[1], -1)
if next_id then
  local job = redis.call('HMGET', ARGV[1] .. 'j:' .. next_id, 'w', 'e')
  since = tonumber(job[1] or job[2])
end
for _, key in ipairs({ KEYS[2], KEYS[3] }) do
  local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  local due = tonumber(first[2])
  if due and due <= now and (not since or due < since) then
    since = due
  end
end
if not since then
  return -1
end
return math.max(now - since, 0)
