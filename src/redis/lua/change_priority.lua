-- Sets a job's priority, moving it if it is waiting. ARGV: base, jobId,
-- priority, lifo ("1"). Returns 0, or -1 when the job does not exist.
local jobId, priority, lifo = ARGV[2], tonumber(ARGV[3]), ARGV[4] == "1"
local jobKey = ARGV[1] .. jobId
if rcall("EXISTS", jobKey) == 0 then return -1 end
if rcall("ZREM", K.prioritized, jobId) == 1 or rcall("LREM", waitList(), -1, jobId) == 1 then
  enqueue(jobId, priority, lifo)
  markReady(isBlocked())
end
rcall("HSET", jobKey, "priority", priority)
return 0
