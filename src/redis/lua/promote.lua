-- Moves a delayed job to wait now. ARGV: base, jobId.
-- Returns 0, -1 no such job, -3 not delayed.
local jobId = ARGV[2]
local jobKey = ARGV[1] .. jobId
if rcall("EXISTS", jobKey) == 0 then return -1 end
if rcall("ZREM", K.delayed, jobId) == 0 then return -3 end
enqueue(jobId, tonumber(rcall("HGET", jobKey, "priority")) or 0, false)
markReady(isBlocked())
emit(eventsCap(), "waiting", "jobId", jobId, "prev", "delayed")
rcall("HSET", jobKey, "delay", 0)
return 0
