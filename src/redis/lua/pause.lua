-- ARGV[1]: "paused" or "resumed".
if ARGV[1] == "paused" then
  rcall("HSET", K.meta, "paused", 1)
  rcall("DEL", K.marker)
else
  rcall("HDEL", K.meta, "paused")
  listTarget = K.wait
  -- BullMQ before 5.x kept paused jobs in a list of their own.
  local legacy = rcall("LRANGE", K.paused, 0, -1)
  if #legacy > 0 then
    rcall("RPUSH", K.wait, unpack(legacy))
    rcall("DEL", K.paused)
  end
  if rcall("LLEN", K.wait) + rcall("ZCARD", K.prioritized) > 0 then
    markReady(isBlocked())
  else
    markNextDue()
  end
end
rcall("XADD", K.events, "*", "event", ARGV[1])
return 0
