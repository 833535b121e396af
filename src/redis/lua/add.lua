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
for i = 0, count - 1 do
  local a = 5 + i * 8
  local customId, name, timestamp = ARGV[a], ARGV[a + 1], ARGV[a + 2]
  local data, opts = ARGV[a + 3], ARGV[a + 4]
  local delay, priority, lifo = tonumber(ARGV[a + 5]), tonumber(ARGV[a + 6]), ARGV[a + 7] == "1"
  -- BullMQ bumps the counter for custom ids too; so do we, to keep ids aligned.
  local counter = rcall("INCR", K.id)
  local jobId = customId
  if jobId == "" then jobId = tostring(counter) end
  local jobKey = base .. jobId
  if customId ~= "" and rcall("EXISTS", jobKey) == 1 then
    emit(cap, "duplicated", "jobId", jobId)
  else
    rcall("HSET", jobKey, "name", name, "data", data, "opts", opts,
      "timestamp", timestamp, "delay", delay, "priority", priority)
    rcall("XADD", K.events, "*", "event", "added", "jobId", jobId, "name", name)
    if delay > 0 then
      scheduleDelayed(jobId, tonumber(timestamp) + delay, cap)
      delayedAdded = true
    else
      enqueue(jobId, priority, lifo)
      emit(cap, "waiting", "jobId", jobId)
      readyAdded = true
    end
  end
  ids[#ids + 1] = jobId
end
if readyAdded then markReady(blocked) end
if delayedAdded then markNextDue() end
return ids
