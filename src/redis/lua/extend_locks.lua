-- Renews the locks of all of a worker's active jobs in one call.
-- ARGV: base, lockMs, then jobId/token pairs. Returns the ids whose lock
-- was lost (expired, or taken by someone else).
local base, lockMs = ARGV[1], ARGV[2]
local lost = {}
for i = 3, #ARGV, 2 do
  local jobId, token = ARGV[i], ARGV[i + 1]
  local lockKey = base .. jobId .. ":lock"
  if rcall("GET", lockKey) == token then
    rcall("SET", lockKey, token, "PX", lockMs)
    rcall("SREM", K.stalled, jobId)
  else
    lost[#lost + 1] = jobId
  end
end
return lost
