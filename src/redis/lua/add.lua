-- Adds jobs. ARGV: base, now, count, version, then per job 8 values:
--   customId ("" for an automatic id), name, timestamp, data, opts (JSON),
--   delay (ms, >= 0), priority, lifo ("1"/"0").
-- Returns the ids, in order. A custom id that exists already is not
-- overwritten: its id is returned and a "duplicated" event written.
local base, now, count = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local cap = eventsCap()
-- Dashboards read the writer's version here; BullMQ's own Queue sets it too.
rcall("HSETNX", K.meta, "version", ARGV[4])
local blocked = isBlocked()
local ids = {}
local readyAdded, delayedAdded = false, false
-- BullMQ bumps the counter once per job, custom ids included; one INCRBY
-- for the batch leaves the same counter and gives the same ids.
local first = rcall("INCRBY", K.id, count) - count
-- Jobs for the wait list are pushed together at the end: pushes at the
-- head and at the tail commute, and nobody sees the list mid-script.
local heads, tails = {}, {}
for i = 0, count - 1 do
  local a = 5 + i * 8
  local customId, name, timestamp = ARGV[a], ARGV[a + 1], ARGV[a + 2]
  local data, opts = ARGV[a + 3], ARGV[a + 4]
  local delayText, priorityText = ARGV[a + 5], ARGV[a + 6]
  local delay, priority, lifo = tonumber(delayText), tonumber(priorityText), ARGV[a + 7] == "1"
  local jobId = customId
  if jobId == "" then jobId = intText(first + i + 1) end
  local jobKey = base .. jobId
  if customId ~= "" and rcall("EXISTS", jobKey) == 1 then
    emit(cap, "duplicated", "jobId", jobId)
  else
    rcall("HSET", jobKey, "name", name, "data", data, "opts", opts,
      "timestamp", timestamp, "delay", delayText, "priority", priorityText)
    rcall("XADD", K.events, "*", "event", "added", "jobId", jobId, "name", name)
    if delay > 0 then
      scheduleDelayed(jobId, tonumber(timestamp) + delay, cap)
      delayedAdded = true
    else
      if priority > 0 then
        rcall("ZADD", K.prioritized, priorityScore(priority), jobId)
      elseif lifo then
        tails[#tails + 1] = jobId
      else
        heads[#heads + 1] = jobId
      end
      emit(cap, "waiting", "jobId", jobId)
      readyAdded = true
    end
  end
  ids[#ids + 1] = jobId
end
if #heads > 0 or #tails > 0 then
  local list = waitList()
  inChunks(heads, 1000, function(...) rcall("LPUSH", list, ...) end)
  inChunks(tails, 1000, function(...) rcall("RPUSH", list, ...) end)
end
if readyAdded then markReady(blocked) end
if delayedAdded then markNextDue() end
return ids
