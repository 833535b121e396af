-- ARGV: base, jobId, data (JSON). Returns 0, or -1 when the job does not exist.
local jobKey = ARGV[1] .. ARGV[2]
if rcall("EXISTS", jobKey) == 0 then return -1 end
rcall("HSET", jobKey, "data", ARGV[3])
return 0
