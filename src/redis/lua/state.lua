-- The state of one job, checked in BullMQ's order. ARGV: base, jobId.
local base, jobId = ARGV[1], ARGV[2]
if rcall("ZSCORE", K.completed, jobId) then return "completed" end
if rcall("ZSCORE", K.failed, jobId) then return "failed" end
if rcall("ZSCORE", K.delayed, jobId) then return "delayed" end
if rcall("ZSCORE", K.prioritized, jobId) then return "prioritized" end
if rcall("LPOS", K.active, jobId) then return "active" end
if rcall("LPOS", K.wait, jobId) then return "waiting" end
if rcall("LPOS", K.paused, jobId) then return "waiting" end
if rcall("ZSCORE", base .. "waiting-children", jobId) then return "waiting-children" end
return "unknown"
