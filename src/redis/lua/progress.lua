-- ARGV: base, jobId, progress (JSON). Returns 0, or -1 when the job is gone.
local jobKey = ARGV[1] .. ARGV[2]
if rcall("EXISTS", jobKey) == 0 then return -1 end
rcall("HSET", jobKey, "progress", ARGV[3])
emit(eventsCap(), "progress", "jobId", ARGV[2], "data", ARGV[3])
return 0
