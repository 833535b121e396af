-- Removes every job that is waiting (and delayed, when ARGV[2] is "1").
-- ARGV[1]: base.
local base = ARGV[1]
local function dropAll(ids)
  for _, jobId in ipairs(ids) do removeJobKeys(base .. jobId) end
end
dropAll(rcall("LRANGE", K.wait, 0, -1))
dropAll(rcall("LRANGE", K.paused, 0, -1))
dropAll(rcall("ZRANGE", K.prioritized, 0, -1))
rcall("DEL", K.wait, K.paused, K.prioritized, K.pc)
if ARGV[2] == "1" then
  dropAll(rcall("ZRANGE", K.delayed, 0, -1))
  rcall("DEL", K.delayed)
end
return 0
