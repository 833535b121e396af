-- Moves up to `count` jobs of a finished or delayed state, scored at most
-- `maxScore`, back to wait (Queue#retryJobs and #promoteJobs).
-- ARGV: base, state ("failed", "completed" or "delayed"), count, maxScore.
-- Returns 1 when more may be left, 0 when done.
local base, state, count = ARGV[1], ARGV[2], tonumber(ARGV[3])
local setKey = K[state]
local ids = rcall("ZRANGEBYSCORE", setKey, 0, ARGV[4], "LIMIT", 0, count)
if #ids == 0 then return 0 end
local cap = eventsCap()
for _, jobId in ipairs(ids) do
  local jobKey = base .. jobId
  if state == "failed" then
    rcall("HDEL", jobKey, "finishedOn", "processedOn", "failedReason")
  elseif state == "completed" then
    rcall("HDEL", jobKey, "finishedOn", "processedOn", "returnvalue")
  end
  emit(cap, "waiting", "jobId", jobId, "prev", state)
end
rcall("ZREM", setKey, unpack(ids))
rcall("LPUSH", waitList(), unpack(ids))
markReady(isBlocked())
if #ids < count then return 0 end
return 1
