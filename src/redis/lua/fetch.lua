-- Starts up to `count` jobs for a worker.
-- ARGV: base, now, count, tokenBase, tokenSeq, lockMs, workerName,
--       limitMax (0: none), limitMs.
-- Returns {jobs, rateLimitWaitMs, nextDelayedDueAt}.
local w = {
  base = ARGV[1], now = tonumber(ARGV[2]), tokenBase = ARGV[4],
  tokenSeq = tonumber(ARGV[5]), lockMs = tonumber(ARGV[6]), name = ARGV[7],
  limitMax = tonumber(ARGV[8]), limitMs = tonumber(ARGV[9]),
}
if w.limitMax == 0 then w.limitMax = nil end
if w.limitMs == 0 then w.limitMs = nil end
local jobs, wait, dueAt = fetchJobs(w, tonumber(ARGV[3]), eventsCap())
return {jobs, wait, tostring(dueAt)}
