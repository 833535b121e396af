-- Finishes a batch of a worker's jobs and starts the next ones, in one call.
-- ARGV: base, now, fetchCount, tokenBase, tokenSeq, lockMs, workerName,
--       limitMax, limitMs, maxMetricPoints (0: no metrics), itemCount, then
--       per job 11 values:
--   jobId, token ("0": unlocked, manual processing), action, value,
--   stacktrace (JSON, failures only), keepCount, keepAge, attempts, extra,
--   made (attemptsMade after this attempt, as the worker counts it; "" to
--   count it here), dedup ("0": the job has no deduplication id; "" unknown)
-- action: "completed" (value: returnvalue JSON), "failed" (value: reason),
--   "retry" (back to wait; extra "1" for lifo), "delay" (extra: delay ms),
--   "wait" (rate limited: back to wait, no attempt counted).
-- Returns {codes, jobs, rateLimitWaitMs, nextDelayedDueAt}; a code is 0 or
-- -1 no such job, -2 lock missing, -3 not active, -4 pending children,
-- -6 lock held by another worker.
local w = workerArgs()
local cap = eventsCap()
local maxMetricPoints = tonumber(ARGV[10])

-- BullMQ's metrics: a running count per finished state, and one data point
-- per elapsed minute (the jobs finished in it), newest first. `n` jobs of
-- the batch finished at the same `now`: counted together, as one by one.
local function recordMetric(state, n)
  local key = w.base .. "metrics:" .. state
  local count = rcall("HINCRBY", key, "count", n) - n
  local prevTS = tonumber(rcall("HGET", key, "prevTS"))
  if not prevTS then
    rcall("HSET", key, "prevTS", w.nowText, "prevCount", 0)
    return
  end
  local minutes = math.min(math.floor(w.now / 60000) - math.floor(prevTS / 60000), maxMetricPoints)
  if minutes <= 0 then return end
  local dataKey = key .. ":data"
  rcall("LPUSH", dataKey, count - tonumber(rcall("HGET", key, "prevCount")))
  for _ = 2, minutes do rcall("LPUSH", dataKey, 0) end
  rcall("LTRIM", dataKey, 0, maxMetricPoints - 1)
  rcall("HSET", key, "prevCount", count, "prevTS", w.nowText)
end

-- Every call into Redis costs more than the command itself: what the worker
-- already knows (the job exists while its lock does, attemptsMade, whether
-- there is a deduplication id) is not asked again, and a command that every
-- job of the batch needs (read the locks, delete keys, add to a finished
-- set, count metrics) is sent once for the batch.
local itemCount = tonumber(ARGV[11])
local function itemAt(i) return 12 + i * 11 end
local stalledMarks = rcall("SCARD", K.stalled) > 0
local lockKeys, dependencyKeys = {}, {}
for i = 0, itemCount - 1 do
  local a = itemAt(i)
  lockKeys[i + 1] = w.base .. ARGV[a] .. ":lock"
  if ARGV[a + 2] == "completed" then
    dependencyKeys[#dependencyKeys + 1] = w.base .. ARGV[a] .. ":dependencies"
  end
end
local heldLocks = {}
inChunks(lockKeys, 1000, function(...)
  for _, v in ipairs(rcall("MGET", ...)) do heldLocks[#heldLocks + 1] = v end
end)
-- A job with children still pending cannot complete; a dependencies set
-- exists only while it has members.
local childrenPending = false
inChunks(dependencyKeys, 1000, function(...)
  if rcall("EXISTS", ...) > 0 then childrenPending = true end
end)
local deletes, unstalled, metrics, trims = {}, {}, {}, {}
local finishedIn = {[K.completed] = {}, [K.failed] = {}}

local function finishOne(i)
  local a = itemAt(i)
  local jobId, token, action, value = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3]
  local jobKey = w.base .. jobId
  local held = token ~= "0" and heldLocks[i + 1]
  if held ~= token and rcall("EXISTS", jobKey) == 0 then return -1 end
  if action == "completed" and childrenPending
      and rcall("SCARD", jobKey .. ":dependencies") ~= 0 then
    return -4
  end
  if token ~= "0" then
    if held ~= token then
      if held then return -6 end
      -- A result sent again after its reply was lost (a timeout, a dropped
      -- connection) was stored if the job's attempts count this attempt:
      -- attemptsMade grows only when a result is stored.
      local made = ARGV[a + 9]
      if action ~= "wait" and made ~= "" and rcall("HGET", jobKey, "atm") == made
          and not rcall("LPOS", K.active, jobId) then
        return 0
      end
      return -2
    end
    deletes[#deletes + 1] = lockKeys[i + 1]
    if stalledMarks then unstalled[#unstalled + 1] = jobId end
  end
  if rcall("LREM", K.active, -1, jobId) < 1 then return -3 end
  if action == "wait" then
    -- RateLimitError: back to the front of its line, no attempt counted.
    local priority = tonumber(rcall("HGET", jobKey, "priority")) or 0
    if priority > 0 then
      rcall("ZADD", K.prioritized, priority * 0x100000000, jobId)
    else
      rcall("RPUSH", waitList(), jobId)
      markReady(isBlocked())
    end
    emit(cap, "waiting", "jobId", jobId, "prev", "active")
    return 0
  end
  local attemptsMade = tonumber(ARGV[a + 9])
  local counted = attemptsMade ~= nil
  if not counted then attemptsMade = rcall("HINCRBY", jobKey, "atm", 1) end
  if action ~= "completed" then
    if counted then
      rcall("HSET", jobKey, "failedReason", value, "stacktrace", ARGV[a + 4], "atm", ARGV[a + 9])
    else
      rcall("HSET", jobKey, "failedReason", value, "stacktrace", ARGV[a + 4])
    end
  end
  if action == "retry" then
    -- Delayed jobs already due go first, as BullMQ promotes them first.
    local blocked = isBlocked()
    promoteDue(w.base, w.now, cap, blocked)
    local priority = tonumber(rcall("HGET", jobKey, "priority")) or 0
    enqueue(jobId, priority, ARGV[a + 8] == "1")
    emit(cap, "waiting", "jobId", jobId, "prev", "active")
    markReady(blocked)
    return 0
  end
  if action == "delay" then
    local delay = tonumber(ARGV[a + 8])
    rcall("HSET", jobKey, "delay", delay)
    scheduleDelayed(jobId, w.now + delay, cap)
    markNextDue()
    return 0
  end
  local dedupId = ARGV[a + 10] ~= "0" and rcall("HGET", jobKey, "deid")
  if dedupId then
    local dedupKey = w.base .. "de:" .. dedupId
    if rcall("GET", dedupKey) == jobId then rcall("DEL", dedupKey) end
  end
  local field = "returnvalue"
  local target = K.completed
  if action == "failed" then
    field = "failedReason"
    target = K.failed
  end
  local keepCount = tonumber(ARGV[a + 5])
  if keepCount ~= 0 then
    local finished = finishedIn[target]
    finished[#finished + 1] = w.nowText
    finished[#finished + 1] = jobId
    if counted and action == "completed" then
      rcall("HSET", jobKey, field, value, "finishedOn", w.nowText, "atm", ARGV[a + 9])
    else
      rcall("HSET", jobKey, field, value, "finishedOn", w.nowText)
    end
    if action == "failed" then rcall("HDEL", jobKey, "defa") end
    if keepCount > 0 or ARGV[a + 6] ~= "-1" then
      trims[target .. " " .. ARGV[a + 5] .. " " .. ARGV[a + 6]] = {target, keepCount, tonumber(ARGV[a + 6])}
    end
  else
    for _, key in ipairs(jobKeysOf(jobKey)) do deletes[#deletes + 1] = key end
  end
  emit(cap, action, "jobId", jobId, field, value, "prev", "active")
  if action == "failed" and attemptsMade >= tonumber(ARGV[a + 7]) then
    emit(cap, "retries-exhausted", "jobId", jobId, "attemptsMade", attemptsMade)
  end
  metrics[action] = (metrics[action] or 0) + 1
  return 0
end

local codes = {}
for i = 0, itemCount - 1 do
  codes[i + 1] = finishOne(i)
end
-- Keeping at most n newest (or none older than t) is the same whether
-- applied after each job or once after all of them.
for target, finished in pairs(finishedIn) do
  inChunks(finished, 1000, function(...) rcall("ZADD", target, ...) end)
end
for _, trim in pairs(trims) do
  trimFinished(trim[1], w.base, trim[2], trim[3], w.now)
end
-- Before the fetch: a job retried above may start again below, with a new lock.
inChunks(deletes, 1000, function(...) rcall("DEL", ...) end)
inChunks(unstalled, 1000, function(...) rcall("SREM", K.stalled, ...) end)
if maxMetricPoints > 0 then
  for action, n in pairs(metrics) do recordMetric(action, n) end
end
local fetchCount = tonumber(ARGV[3])
local jobs, wait, dueAt = {}, 0, 0
if fetchCount > 0 then
  jobs, wait, dueAt = fetchJobs(w, fetchCount, cap)
end
if #jobs == 0 and itemCount > 0 then emitDrainedIfEmpty() end
return {codes, jobs, wait, tostring(dueAt)}
