-- Deletes a queue and its jobs, up to ARGV[2] jobs per call.
-- ARGV: base, maxJobs, force ("1"). Returns 1 when more is left, 0 when
-- the queue is gone, -2 when jobs are active and force was not given.
local base, budget = ARGV[1], tonumber(ARGV[2])
if ARGV[3] ~= "1" and rcall("LLEN", K.active) > 0 then return -2 end

local function dropList(key)
  local ids = rcall("LRANGE", key, -budget, -1)
  for _, jobId in ipairs(ids) do removeJobKeys(base .. jobId) end
  if #ids > 0 then rcall("LTRIM", key, 0, -(#ids + 1)) end
  budget = budget - #ids
end

local function dropSet(key)
  local ids = rcall("ZRANGE", key, 0, budget - 1)
  for _, jobId in ipairs(ids) do removeJobKeys(base .. jobId) end
  if #ids > 0 then rcall("ZREM", key, unpack(ids)) end
  budget = budget - #ids
end

for _, key in ipairs({K.active, K.wait, K.paused}) do
  if budget > 0 then dropList(key) end
end
for _, key in ipairs({K.delayed, K.prioritized, K.completed, K.failed, base .. "waiting-children"}) do
  if budget > 0 then dropSet(key) end
end
if budget <= 0 then return 1 end
rcall("DEL", K.meta, K.events, K.id, K.pc, K.marker, K.stalled, K.limiter,
  base .. "stalled-check", base .. "metrics:completed", base .. "metrics:completed:data",
  base .. "metrics:failed", base .. "metrics:failed:data", base .. "repeat")
return 0
