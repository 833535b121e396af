-- Reschedules a delayed job to now + delay. ARGV: base, jobId, delay, now.
-- Returns 0, -1 no such job, -3 not delayed.
local jobId, delay, now = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local jobKey = ARGV[1] .. jobId
if rcall("EXISTS", jobKey) == 0 then return -1 end
if rcall("ZREM", K.delayed, jobId) == 0 then return -3 end
rcall("HSET", jobKey, "delay", delay)
scheduleDelayed(jobId, now + delay, eventsCap())
markNextDue()
return 0
