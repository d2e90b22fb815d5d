"""Where a queued broadcast's lease lives in Redis: its keys, and the scripts over them.

Every change to a lease is one Lua script, so Redis runs it atomically: a
worker taking a message off the count can never interleave with a submitter
numbering a batch or a resume checking whether the lease is held. What the
keys and counts mean is in ``broadcastio.distributed.lease``, which is the
only user of this module; keeping the scripts here leaves that module with
the decisions and this one with the Redis text.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ACQUIRE",
    "COPY",
    "COUNT",
    "DONE",
    "END_IF_IDLE",
    "LeaseKeys",
    "REFRESH",
    "RELEASE",
    "RESERVE",
]

# Every script takes the lease's keys in this order (see ``LeaseKeys``) and checks
# the token first: a token of '' is a message queued before tokens, accepted.
_TOKEN_CHECK = """
if ARGV[1] ~= '' and redis.call('GET', KEYS[2]) ~= ARGV[1] then return -1 end
"""
_END = """
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6])
"""
# The count (> 0) or -3 (a submitter's share) while the lease is held.
_HELD = """
local outstanding = tonumber(redis.call('GET', KEYS[1]) or '0')
if outstanding > 0 then return outstanding end
if redis.call('EXISTS', KEYS[7]) == 1 then return -3 end
"""
# No ARGV. As _HELD, else 0 and what is left of the lease is gone.
END_IF_IDLE = _HELD + _END + "return 0\n"
# ARGV: token, the share's expiry (ms). As _HELD; else 0, and the lease is this
# submission's, with its share.
ACQUIRE = (
    _HELD
    + _END
    + """
redis.call('SET', KEYS[1], 0)
redis.call('SET', KEYS[2], ARGV[1])
redis.call('SET', KEYS[7], ARGV[1], 'PX', ARGV[2])
return 0
"""
)
# ARGV: token, expiry (ms). 1 if the share was still this submission's.
REFRESH = """
if redis.call('GET', KEYS[7]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[7], ARGV[2])
return 1
"""
# ARGV: token, messages, the share's expiry (ms). The first of that many new
# numbers (nothing counted), and the share renewed; -1 once the share is gone:
# messages queued without it could outlive the lease (see ``QueueLeaseLapsed``).
RESERVE = (
    _TOKEN_CHECK
    + """
if redis.call('GET', KEYS[7]) ~= ARGV[1] then return -1 end
redis.call('PEXPIRE', KEYS[7], ARGV[3])
return redis.call('INCRBY', KEYS[3], ARGV[2]) - tonumber(ARGV[2])
"""
)
# ARGV: token, first number, messages: those messages are on the queue now.
# Each counts once, and not at all if already done. The count after.
COUNT = (
    _TOKEN_CHECK
    + """
local added = 0
local first = tonumber(ARGV[2])
for number = first, first + tonumber(ARGV[3]) - 1 do
  if redis.call('SETBIT', KEYS[4], number, 1) == 0
      and redis.call('GETBIT', KEYS[5], number) == 0 then
    added = added + 1
  end
end
return redis.call('INCRBY', KEYS[1], added)
"""
)
# ARGV: token, number (-1: a message queued before numbers). -2: done before;
# 0: the lease ended here; 1: still held.
DONE = (
    _TOKEN_CHECK
    + """
local number = tonumber(ARGV[2])
local left
if number < 0 then
  left = redis.call('DECR', KEYS[1])
else
  if redis.call('SETBIT', KEYS[5], number, 1) == 1 then return -2 end
  if redis.call('GETBIT', KEYS[4], number) == 1 then
    left = redis.call('DECR', KEYS[1])
  else
    left = tonumber(redis.call('GET', KEYS[1]) or '0')
  end
end
if left <= 0 and redis.call('EXISTS', KEYS[7]) == 0 then
"""
    + _END
    + """
  return 0
end
return 1
"""
)
# ARGV: token. The submitter lets go of its share: 0 if the lease ended here.
RELEASE = (
    """
if redis.call('GET', KEYS[7]) == ARGV[1] then redis.call('DEL', KEYS[7]) end
"""
    + _TOKEN_CHECK
    + """
if tonumber(redis.call('GET', KEYS[1]) or '0') <= 0 then
"""
    + _END
    + """
  return 0
end
return 1
"""
)
# ARGV: token, the original's number. The number of the original's copy (the same
# each time that original is deferred); nothing counted.
COPY = (
    _TOKEN_CHECK
    + """
local original = tonumber(ARGV[2])
if original >= 0 then
  local copy = redis.call('HGET', KEYS[6], ARGV[2])
  if copy then return tonumber(copy) end
end
local copy = redis.call('INCR', KEYS[3]) - 1
if original >= 0 then redis.call('HSET', KEYS[6], ARGV[2], copy) end
return copy
"""
)


class LeaseKeys:
    """The Redis keys of one lease, named after its count's key, in the scripts' order."""

    def __init__(self, count: str) -> None:
        self.count = count
        self.all = [
            count,
            f"{count}:token",
            f"{count}:next",
            f"{count}:counted",
            f"{count}:done",
            f"{count}:copies",
            f"{count}:submitter",
        ]

    def run(self, client: Any, source: str, *args: Any) -> int:
        """Run the lease script ``source`` on these keys."""
        return int(client.register_script(source)(keys=self.all, args=list(args)))
