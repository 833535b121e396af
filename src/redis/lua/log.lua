-- ARGV: base, jobId, row, keepLogs ("": all). Returns the log count, or -1.
local jobKey = ARGV[1] .. ARGV[2]
if rcall("EXISTS", jobKey) == 0 then return -1 end
local count = rcall("RPUSH", jobKey .. ":logs", ARGV[3])
if ARGV[4] ~= "" then
  local keep = tonumber(ARGV[4])
  rcall("LTRIM", jobKey .. ":logs", -keep, -1)
  return math.min(keep, count)
end
return count
