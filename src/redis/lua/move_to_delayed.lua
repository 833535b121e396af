-- Moves an active job to delayed (Job#moveToDelayed); no attempt is counted.
-- ARGV: base, jobId, token, dueAt (ms), now.
-- Returns 0, -1 no such job, -2/-6 lock, -3 not active.
local base, jobId, token = ARGV[1], ARGV[2], ARGV[3]
local dueAt, now = tonumber(ARGV[4]), tonumber(ARGV[5])
local jobKey = base .. jobId
if rcall("EXISTS", jobKey) == 0 then return -1 end
local code = releaseLock(jobKey, jobId, token)
if code < 0 then return code end
if rcall("LREM", K.active, -1, jobId) < 1 then return -3 end
dueAt = clampDue(dueAt)
if dueAt < now then dueAt = now end
rcall("HSET", jobKey, "delay", dueAt - now)
scheduleDelayed(jobId, dueAt, eventsCap())
markNextDue()
return 0
