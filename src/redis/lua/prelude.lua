-- bullrush: functions shared by every queue script. Each script is this file
-- followed by its own body (see scripts.rs).
--
-- Every worker-side script receives the same KEYS, in this order, so that
-- the Rust side builds the list once per queue:
--   1 wait  2 active  3 prioritized  4 events  5 stalled  6 limiter
--   7 delayed  8 paused  9 meta  10 pc  11 marker  12 completed  13 failed
--   14 id
local rcall = redis.call
local K = {
  wait = KEYS[1], active = KEYS[2], prioritized = KEYS[3], events = KEYS[4],
  stalled = KEYS[5], limiter = KEYS[6], delayed = KEYS[7], paused = KEYS[8],
  meta = KEYS[9], pc = KEYS[10], marker = KEYS[11], completed = KEYS[12],
  failed = KEYS[13], id = KEYS[14],
}

-- An integer as text. Lua's own number-to-text goes through "%.14g", three
-- times slower than "%d"; values a script writes are kept as text for the
-- same reason.
local function intText(n)
  return string.format("%d", n)
end

-- Calls send(...) with the items of `list`, at most `size` at a time: one
-- command for many items, within what unpack can spread.
local function inChunks(list, size, send)
  for from = 1, #list, size do
    send(unpack(list, from, math.min(from + size - 1, #list)))
  end
end

-- The events stream is capped at meta's opts.maxLenEvents (BullMQ's default
-- 10000, written on first use so that BullMQ readers agree on it).
local function eventsCap()
  local cap = rcall("HGET", K.meta, "opts.maxLenEvents")
  if not cap then
    cap = 10000
    rcall("HSET", K.meta, "opts.maxLenEvents", cap)
  end
  return cap
end

local function emit(cap, ...)
  rcall("XADD", K.events, "MAXLEN", "~", cap, "*", "event", ...)
end

-- Paused, or at the global concurrency limit: no job may start, so no marker.
-- `paused` and `concurrency` are meta's fields, when the caller has read them.
local function isBlocked(paused, concurrency)
  if paused == nil then
    local meta = rcall("HMGET", K.meta, "paused", "concurrency")
    paused, concurrency = meta[1], tonumber(meta[2])
  end
  if paused then return true end
  if concurrency then
    return rcall("LLEN", K.active) >= concurrency
  end
  return false
end

local function markReady(blocked)
  if not blocked then rcall("ZADD", K.marker, 0, "0") end
end

-- Delayed scores carry the due time in ms shifted by 12 bits; the low bits
-- order jobs due in the same millisecond by arrival.
local function delayedScore(dueAt)
  local low = dueAt * 0x1000
  local high = (dueAt + 1) * 0x1000 - 1
  local last = rcall("ZREVRANGEBYSCORE", K.delayed, high, low, "WITHSCORES", "LIMIT", 0, 1)
  local lastScore = tonumber(last[2])
  if lastScore == nil then return low end
  if lastScore >= high then return high end
  return lastScore + 1
end

local function nextDueAt()
  local first = rcall("ZRANGE", K.delayed, 0, 0, "WITHSCORES")
  local score = tonumber(first[2])
  if score == nil then return nil end
  return score / 0x1000
end

-- Tells sleeping workers (ours and BullMQ's) when the next delayed job is due.
local function markNextDue()
  local dueAt = nextDueAt()
  if dueAt ~= nil then rcall("ZADD", K.marker, dueAt, "1") end
end

local function priorityScore(priority)
  local seq = rcall("INCR", K.pc)
  return priority * 0x100000000 + seq % 0x100000000
end

-- Puts a job where workers take it from: the prioritized set, or the wait
-- list (LPUSH for FIFO, RPUSH to jump the line).
-- BullMQ 5 pauses by renaming wait to paused; while such a pause lasts its
-- readers look for new jobs in the paused list, so that is where they go.
local listTarget
local function waitList()
  if not listTarget then
    listTarget = K.wait
    if rcall("HEXISTS", K.meta, "paused") == 1 and rcall("EXISTS", K.paused) == 1 then
      listTarget = K.paused
    end
  end
  return listTarget
end

local function enqueue(jobId, priority, lifo)
  if priority > 0 then
    rcall("ZADD", K.prioritized, priorityScore(priority), jobId)
  elseif lifo then
    rcall("RPUSH", waitList(), jobId)
  else
    rcall("LPUSH", waitList(), jobId)
  end
end

-- Due times stay within 0 .. 2^51 - 1 ms, as the embedded store keeps them
-- (beyond that its integer scores would overflow), so that both stores
-- schedule a job the same way: a far-future one stays delayed, one due
-- before 1970 runs now instead of sitting below promoteDue's range.
local MAX_DUE_AT = 2251799813685247
local function clampDue(dueAt)
  if dueAt > MAX_DUE_AT then return MAX_DUE_AT end
  if dueAt < 0 then return 0 end
  return dueAt
end

local function scheduleDelayed(jobId, dueAt, cap)
  dueAt = clampDue(dueAt)
  rcall("ZADD", K.delayed, delayedScore(dueAt), jobId)
  emit(cap, "delayed", "jobId", jobId, "delay", dueAt)
end

-- Moves delayed jobs that are due to wait/prioritized.
local function promoteDue(base, now, cap, blocked)
  local due = rcall("ZRANGEBYSCORE", K.delayed, 0, (now + 1) * 0x1000 - 1, "LIMIT", 0, 1000)
  if #due == 0 then return end
  rcall("ZREM", K.delayed, unpack(due))
  for _, jobId in ipairs(due) do
    local jobKey = base .. jobId
    enqueue(jobId, tonumber(rcall("HGET", jobKey, "priority")) or 0, false)
    emit(cap, "waiting", "jobId", jobId, "prev", "delayed")
    rcall("HSET", jobKey, "delay", 0)
  end
  markReady(blocked)
end

-- Milliseconds until the rate limiter lets another job start (0: now).
local function limiterWait(max)
  if not max then return 0 end
  local used = tonumber(rcall("GET", K.limiter) or 0)
  if used < max then return 0 end
  local ttl = rcall("PTTL", K.limiter)
  if ttl == 0 then rcall("DEL", K.limiter) end
  if ttl > 0 then return ttl end
  return 0
end

local function takeNextId()
  local jobId = rcall("RPOPLPUSH", K.wait, K.active)
  -- "0:…" entries are markers that old BullMQ versions pushed into wait.
  while jobId and string.sub(jobId, 1, 2) == "0:" do
    rcall("LREM", K.active, 1, jobId)
    jobId = rcall("RPOPLPUSH", K.wait, K.active)
  end
  if jobId then return jobId end
  local top = rcall("ZPOPMIN", K.prioritized)
  if #top > 0 then
    rcall("LPUSH", K.active, top[1])
    return top[1]
  end
  rcall("DEL", K.pc)
  return nil
end

-- RPOP with a count (Redis 6.2) and LPUSH take `count` jobs in two calls
-- and leave active as RPOPLPUSH one by one would. Scripts learn the server's
-- version from REDIS_VERSION_NUM, which Redis 7 added.
local popsMany = (tonumber(redis.REDIS_VERSION_NUM) or 0) >= 0x060200

local function takeIds(count)
  local ids = {}
  -- "0:…" entries are markers that old BullMQ versions pushed into wait:
  -- dropped, and popped past, as takeNextId does.
  local waitEmpty = false
  while #ids < count and not waitEmpty do
    local want = count - #ids
    local popped = rcall("RPOP", K.wait, want) or {}
    for _, jobId in ipairs(popped) do
      if string.sub(jobId, 1, 2) ~= "0:" then ids[#ids + 1] = jobId end
    end
    waitEmpty = #popped < want
  end
  if #ids < count then
    local top = rcall("ZPOPMIN", K.prioritized, count - #ids)
    for f = 1, #top, 2 do ids[#ids + 1] = top[f] end
    if #ids < count then rcall("DEL", K.pc) end
  end
  inChunks(ids, 1000, function(...) rcall("LPUSH", K.active, ...) end)
  return ids
end

-- The worker's settings, ARGV 1-9 of fetch and finish: base, now, count,
-- tokenBase, tokenSeq (-1: tokenBase is the token), lockMs, name, limitMax
-- (0: none), limitMs (0: none). Values written to Redis stay the text they
-- came as: Lua formats a number with sprintf, which showed in profiles.
local function workerArgs()
  local w = {
    base = ARGV[1], now = tonumber(ARGV[2]), nowText = ARGV[2],
    tokenBase = ARGV[4], tokenSeq = tonumber(ARGV[5]), lockMsText = ARGV[6],
    name = ARGV[7], limitMax = tonumber(ARGV[8]), limitMs = tonumber(ARGV[9]),
  }
  if w.limitMax == 0 then w.limitMax = nil end
  if w.limitMs == 0 then w.limitMs = nil end
  return w
end

-- Sets a field in an HGETALL reply: in place if present, else appended.
local function putField(fields, at, name, value)
  if at then
    fields[at] = value
  else
    fields[#fields + 1] = name
    fields[#fields + 1] = value
  end
end

-- Starts up to `count` jobs for one worker (`w`: see workerArgs).
-- Returns the started jobs ({id, token, packed fields, field count} each),
-- the rate-limit wait in ms, and when the next delayed job is due (0: none).
local function fetchJobs(w, count, cap)
  local jobs = {}
  local meta = rcall("HMGET", K.meta, "paused", "concurrency", "max", "duration")
  local limitMax = tonumber(meta[3]) or w.limitMax
  local limitMs = w.limitMs or tonumber(meta[4])
  local concurrency = tonumber(meta[2])
  promoteDue(w.base, w.now, cap, isBlocked(meta[1], concurrency))
  -- Paused, delayed jobs still fall due into wait, as BullMQ moves them:
  -- the worker is told when the next one is due.
  if meta[1] then return jobs, 0, nextDueAt() or 0 end
  -- Without a limiter or a global concurrency, nothing stops between jobs.
  local taken = popsMany and not limitMax and not concurrency and takeIds(count)
  for i = 1, count do
    local jobId
    if taken then
      jobId = taken[i]
    else
      local wait = limiterWait(limitMax)
      if wait > 0 then return jobs, wait, 0 end
      if concurrency and rcall("LLEN", K.active) >= concurrency then break end
      jobId = takeNextId()
    end
    if not jobId then break end
    local jobKey = w.base .. jobId
    if limitMax and rcall("HEXISTS", jobKey, "defa") == 0 then
      if rcall("INCR", K.limiter) == 1 then
        rcall("PEXPIRE", K.limiter, math.floor(math.abs(limitMs)))
      end
    end
    -- A negative sequence means the caller chose the token (getNextJob).
    local token = w.tokenBase
    if w.tokenSeq >= 0 then token = string.format("%s:%d", w.tokenBase, w.tokenSeq + i) end
    rcall("SET", jobKey .. ":lock", token, "PX", w.lockMsText)
    emit(cap, "active", "jobId", jobId, "prev", "waiting")
    -- Read first, then write what changes: one call fewer than counting
    -- attemptsStarted with HINCRBY. The fields handed back are patched to
    -- what is now stored.
    local fields = rcall("HGETALL", jobKey)
    local atsAt, processedAt, pbAt
    for f = 2, #fields, 2 do
      local name = fields[f - 1]
      if name == "ats" then
        atsAt = f
      elseif name == "processedOn" then
        processedAt = f
      elseif name == "pb" then
        pbAt = f
      end
    end
    local ats = "1"
    if atsAt then ats = intText((tonumber(fields[atsAt]) or 0) + 1) end
    if w.name ~= "" then
      rcall("HSET", jobKey, "processedOn", w.nowText, "ats", ats, "pb", w.name)
      putField(fields, pbAt, "pb", w.name)
    else
      rcall("HSET", jobKey, "processedOn", w.nowText, "ats", ats)
    end
    putField(fields, processedAt, "processedOn", w.nowText)
    putField(fields, atsAt, "ats", ats)
    -- The fields as one NUL-joined string and their count: Redis converts
    -- one reply string instead of one per name and value, and the client
    -- splits it in one pass (a value holding a NUL of its own is read again).
    jobs[#jobs + 1] = {jobId, token, table.concat(fields, "\0"), #fields}
  end
  if #jobs > 0 then
    -- Others may take the rest: wake them.
    markReady(false)
    return jobs, 0, 0
  end
  return jobs, 0, nextDueAt() or 0
end

-- Releases a job's lock if `token` holds it: 0, or -2 no lock, -6 another
-- worker's lock. Token "0" means an unlocked job (manual processing).
local function releaseLock(jobKey, jobId, token)
  if token == "0" then return 0 end
  local held = rcall("GET", jobKey .. ":lock")
  if held ~= token then
    if held then return -6 end
    return -2
  end
  rcall("DEL", jobKey .. ":lock")
  rcall("SREM", K.stalled, jobId)
  return 0
end

-- Every key a job owns.
local function jobKeysOf(jobKey)
  return {jobKey, jobKey .. ":logs", jobKey .. ":dependencies",
    jobKey .. ":processed", jobKey .. ":failed", jobKey .. ":unsuccessful",
    jobKey .. ":lock"}
end

local function removeJobKeys(jobKey)
  rcall("DEL", unpack(jobKeysOf(jobKey)))
end

-- Applies removeOnComplete/removeOnFail to a finished set: keep at most
-- `count` (-1: any number) and none older than `age` seconds (-1: any age).
local function trimFinished(setKey, base, count, age, now)
  if age >= 0 then
    local cutoff = now - age * 1000
    local old = rcall("ZRANGEBYSCORE", setKey, "-inf", cutoff, "LIMIT", 0, 1000)
    for _, jobId in ipairs(old) do removeJobKeys(base .. jobId) end
    if #old > 0 then rcall("ZREM", setKey, unpack(old)) end
  end
  if count > 0 then
    local extra = rcall("ZREVRANGE", setKey, count, -1)
    for _, jobId in ipairs(extra) do removeJobKeys(base .. jobId) end
    if #extra > 0 then rcall("ZREMRANGEBYRANK", setKey, 0, -(count + 1)) end
  end
end

local function emitDrainedIfEmpty()
  if rcall("LLEN", K.wait) == 0 and rcall("LLEN", K.active) == 0
      and rcall("ZCARD", K.prioritized) == 0 then
    rcall("XADD", K.events, "*", "event", "drained")
  end
end
