-- Recovers jobs whose worker died: a job marked on the previous pass that
-- still has no lock goes back to wait (or, past maxStalledCount, is marked
-- to fail when next picked up, as BullMQ does). Then marks every active job
-- for the next pass; renewing a lock removes the mark.
-- ARGV: base, now, maxStalledCount, stalledInterval (ms).
-- Returns the recovered ids; {} when another worker ran the check recently.
local base, now = ARGV[1], ARGV[2]
local maxStalled, interval = tonumber(ARGV[3]), ARGV[4]
local checkKey = base .. "stalled-check"
if rcall("EXISTS", checkKey) == 1 then return {} end
rcall("SET", checkKey, now, "PX", interval)
local recovered = {}
local marked = rcall("SMEMBERS", K.stalled)
if #marked > 0 then
  rcall("DEL", K.stalled)
  local cap = eventsCap()
  local blocked = isBlocked()
  for _, jobId in ipairs(marked) do
    local jobKey = base .. jobId
    if string.sub(jobId, 1, 2) == "0:" then
      rcall("LREM", K.active, 1, jobId)
    elseif rcall("EXISTS", jobKey .. ":lock") == 0
        and rcall("LREM", K.active, 1, jobId) > 0 then
      local stalls = rcall("HINCRBY", jobKey, "stc", 1)
      if stalls > maxStalled then
        rcall("HSET", jobKey, "defa", "job stalled more than allowable limit")
      end
      -- RPUSH: the recovered job is the next one taken.
      rcall("RPUSH", waitList(), jobId)
      markReady(blocked)
      emit(cap, "waiting", "jobId", jobId, "prev", "active")
      emit(cap, "stalled", "jobId", jobId)
      recovered[#recovered + 1] = jobId
    end
  end
end
local active = rcall("LRANGE", K.active, 0, -1)
for from = 1, #active, 5000 do
  rcall("SADD", K.stalled, unpack(active, from, math.min(from + 4999, #active)))
end
return recovered
