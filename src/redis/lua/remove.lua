-- Removes one job from whichever state holds it.
-- ARGV: base, jobId. Returns 1 removed, 0 no such job, -1 locked by a worker.
local base, jobId = ARGV[1], ARGV[2]
local jobKey = base .. jobId
if rcall("EXISTS", jobKey) == 0 then return 0 end
if rcall("EXISTS", jobKey .. ":lock") == 1 then return -1 end
local prev = "unknown"
for _, entry in ipairs({{K.wait, "waiting"}, {K.paused, "waiting"}, {K.active, "active"}}) do
  if rcall("LREM", entry[1], 0, jobId) > 0 then prev = entry[2] end
end
for _, entry in ipairs({{K.delayed, "delayed"}, {K.prioritized, "prioritized"},
    {K.completed, "completed"}, {K.failed, "failed"},
    {base .. "waiting-children", "waiting-children"}}) do
  if rcall("ZREM", entry[1], jobId) > 0 then prev = entry[2] end
end
local dedupId = rcall("HGET", jobKey, "deid")
if dedupId and rcall("GET", base .. "de:" .. dedupId) == jobId then
  rcall("DEL", base .. "de:" .. dedupId)
end
removeJobKeys(jobKey)
emit(eventsCap(), "removed", "jobId", jobId, "prev", prev)
return 1
