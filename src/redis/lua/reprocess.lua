-- Moves a finished job back to wait (Job#retry).
-- ARGV: base, jobId, state ("failed" or "completed"), lifo ("1"),
--       resetAttemptsMade ("1"), resetAttemptsStarted ("1").
-- Returns 1, -1 no such job, -3 not in that state.
local base, jobId, state = ARGV[1], ARGV[2], ARGV[3]
local jobKey = base .. jobId
if rcall("EXISTS", jobKey) == 0 then return -1 end
local setKey = K.failed
if state == "completed" then setKey = K.completed end
if rcall("ZREM", setKey, jobId) == 0 then return -3 end
local fields = {"finishedOn", "processedOn"}
if state == "completed" then fields[#fields + 1] = "returnvalue"
else fields[#fields + 1] = "failedReason" end
if ARGV[5] == "1" then fields[#fields + 1] = "atm" end
if ARGV[6] == "1" then fields[#fields + 1] = "ats" end
rcall("HDEL", jobKey, unpack(fields))
enqueue(jobId, tonumber(rcall("HGET", jobKey, "priority")) or 0, ARGV[4] == "1")
markReady(isBlocked())
emit(eventsCap(), "waiting", "jobId", jobId, "prev", state)
return 1
