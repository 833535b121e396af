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
local w = {
  base = ARGV[1], now = tonumber(ARGV[2]), tokenBase = ARGV[4],
  tokenSeq = tonumber(ARGV[5]), lockMs = tonumber(ARGV[6]), name = ARGV[7],
  limitMax = tonumber(ARGV[8]), limitMs = tonumber(ARGV[9]),
}
if w.limitMax == 0 then w.limitMax = nil end
if w.limitMs == 0 then w.limitMs = nil end
local cap = eventsCap()
local maxMetricPoints = tonumber(ARGV[10])

-- BullMQ's metrics: a running count per finished state, and one data point
-- per elapsed minute (the jobs finished in it), newest first.
local function recordMetric(state)
  local key = w.base .. "metrics:" .. state
  local count = rcall("HINCRBY", key, "count", 1) - 1
  local prevTS = tonumber(rcall("HGET", key, "prevTS"))
  if not prevTS then
    rcall("HSET", key, "prevTS", w.now, "prevCount", 0)
    return
  end
  local minutes = math.min(math.floor(w.now / 60000) - math.floor(prevTS / 60000), maxMetricPoints)
  if minutes <= 0 then return end
  local dataKey = key .. ":data"
  rcall("LPUSH", dataKey, count - tonumber(rcall("HGET", key, "prevCount")))
  for _ = 2, minutes do rcall("LPUSH", dataKey, 0) end
  rcall("LTRIM", dataKey, 0, maxMetricPoints - 1)
  rcall("HSET", key, "prevCount", count, "prevTS", w.now)
end

-- Every call into Redis costs more than the command itself: what the worker
-- already knows (the job exists while its lock does, attemptsMade, whether
-- there is a deduplication id) is not asked again.
local stalledMarks = rcall("SCARD", K.stalled) > 0

local function finishOne(a)
  local jobId, token, action, value = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3]
  local jobKey = w.base .. jobId
  local held = token ~= "0" and rcall("GET", jobKey .. ":lock")
  if held ~= token and rcall("EXISTS", jobKey) == 0 then return -1 end
  if action == "completed" and rcall("SCARD", jobKey .. ":dependencies") ~= 0 then
    return -4
  end
  if token ~= "0" then
    if held ~= token then
      if held then return -6 end
      return -2
    end
    rcall("DEL", jobKey .. ":lock")
    if stalledMarks then rcall("SREM", K.stalled, jobId) end
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
      rcall("HSET", jobKey, "failedReason", value, "stacktrace", ARGV[a + 4], "atm", attemptsMade)
    else
      rcall("HSET", jobKey, "failedReason", value, "stacktrace", ARGV[a + 4])
    end
  end
  if action == "retry" then
    local priority = tonumber(rcall("HGET", jobKey, "priority")) or 0
    enqueue(jobId, priority, ARGV[a + 8] == "1")
    emit(cap, "waiting", "jobId", jobId, "prev", "active")
    markReady(isBlocked())
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
  local keepCount, keepAge = tonumber(ARGV[a + 5]), tonumber(ARGV[a + 6])
  if keepCount ~= 0 then
    rcall("ZADD", target, w.now, jobId)
    if counted and action == "completed" then
      rcall("HSET", jobKey, field, value, "finishedOn", w.now, "atm", attemptsMade)
    else
      rcall("HSET", jobKey, field, value, "finishedOn", w.now)
    end
    if action == "failed" then rcall("HDEL", jobKey, "defa") end
    trimFinished(target, w.base, keepCount, keepAge, w.now)
  else
    removeJobKeys(jobKey)
  end
  emit(cap, action, "jobId", jobId, field, value, "prev", "active")
  if action == "failed" and attemptsMade >= tonumber(ARGV[a + 7]) then
    emit(cap, "retries-exhausted", "jobId", jobId, "attemptsMade", attemptsMade)
  end
  if maxMetricPoints > 0 then recordMetric(action) end
  return 0
end

local codes = {}
local itemCount = tonumber(ARGV[11])
for i = 0, itemCount - 1 do
  codes[#codes + 1] = finishOne(12 + i * 11)
end
local fetchCount = tonumber(ARGV[3])
local jobs, wait, dueAt = {}, 0, 0
if fetchCount > 0 then
  jobs, wait, dueAt = fetchJobs(w, fetchCount, cap)
end
if #jobs == 0 and itemCount > 0 then emitDrainedIfEmpty() end
return {codes, jobs, wait, tostring(dueAt)}
