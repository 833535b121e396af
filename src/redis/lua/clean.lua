-- Removes up to `limit` jobs (0: no limit) of one state that are older than
-- `cutoff` ms (finishedOn for finished jobs, the add timestamp otherwise);
-- locked (running) jobs are kept. ARGV: base, state, cutoff, limit.
-- Returns the removed ids and writes a "cleaned" event.
local base, state = ARGV[1], ARGV[2]
local cutoff, limit = tonumber(ARGV[3]), tonumber(ARGV[4])
local lists = { wait = K.wait, paused = K.paused, active = K.active }
local sets = { completed = K.completed, failed = K.failed, delayed = K.delayed,
  prioritized = K.prioritized }
local removed = {}
local function full() return limit > 0 and #removed >= limit end
local function consider(key, jobId, isList)
  local jobKey = base .. jobId
  if rcall("EXISTS", jobKey .. ":lock") == 1 then return end
  local field = (state == "completed" or state == "failed") and "finishedOn" or "timestamp"
  local at = tonumber(rcall("HGET", jobKey, field))
  if at and at > cutoff then return end
  if isList then rcall("LREM", key, 0, jobId) else rcall("ZREM", key, jobId) end
  removeJobKeys(jobKey)
  removed[#removed + 1] = jobId
end
if lists[state] then
  for _, jobId in ipairs(rcall("LRANGE", lists[state], 0, -1)) do
    if full() then break end
    consider(lists[state], jobId, true)
  end
elseif sets[state] then
  local candidates
  if state == "completed" or state == "failed" then
    -- Scored by finishedOn: only the old enough ones need looking at.
    candidates = rcall("ZRANGEBYSCORE", sets[state], "-inf", cutoff)
  else
    candidates = rcall("ZRANGE", sets[state], 0, -1)
  end
  for _, jobId in ipairs(candidates) do
    if full() then break end
    consider(sets[state], jobId, false)
  end
end
rcall("XADD", K.events, "*", "event", "cleaned", "count", #removed)
return removed
