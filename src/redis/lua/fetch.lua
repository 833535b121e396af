-- Starts up to `count` jobs for a worker.
-- ARGV: base, now, count, tokenBase, tokenSeq, lockMs, workerName,
--       limitMax (0: none), limitMs.
-- Returns {jobs, rateLimitWaitMs, nextDelayedDueAt}.
local w = workerArgs()
local jobs, wait, dueAt = fetchJobs(w, tonumber(ARGV[3]), eventsCap())
return {jobs, wait, tostring(dueAt)}
