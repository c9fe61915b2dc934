"""Per-user state in Redis (docs/recommenders.md), in the order a request reaches it:

- ``store``: ``UserStateStore`` applies a listen to a user's state and returns what the
  recommenders asked for (``UserState``); ``state_keys`` is the key layout.
- ``listen.lua``: the one atomic script that does it, one round trip per request.
- ``script``: ``ThreadLocalScript``, EVALSHA over a connection of the calling thread's own.
- ``client``: which Redis (``BOTIFY_REDIS_URL`` or the embedded server) and its timeouts.
"""
