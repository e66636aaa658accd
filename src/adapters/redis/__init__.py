"""The fast layer in Redis: the blacklist, its process-local cache, the tracking connection
that keeps that cache coherent, the mirror marker, and the brute-force brake's shared windows.

- `client`: the client and its bounds, what counts as Redis failing (`RedisFailures`), the key
  layout and the writers' side of the lease. Every module here builds on it.
- `blacklist`: `RedisBlacklist`, the `Blacklist` port on Redis.
- `cached_blacklist`: `LocallyCachedBlacklist`, its answers kept in process memory; the reads
  it cannot answer from there go to Redis together (`coalesced_reads`).
- `tracking`: `TrackingListener`, the connection whose invalidations and PINGs make that cache
  safe (the readers' side of the lease); `resp3` is the reader of its wire, its own.
- `mirror_marker`: `RedisMirrorMarker`, whether Redis holds everything the log does.
- `throttle`: `RedisFailureThrottle`, the brake's windows shared by every instance.
"""
