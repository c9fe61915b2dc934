-- One request's read-modify-write of a user's state, atomic (docs/recommenders.md).
-- KEYS: 1 state hash, 2 artist-ratings hash, 3 list of this session's listens, each
--       "track:time" (all share the user's hash tag, so the script runs on Redis Cluster).
-- ARGV: 1 track, 2 time, 3 artist of track, 4 good_time, 5 max_fails, 6 ttl seconds,
--       7 "1" for /last (ends the session), 8 "1" to return the session's listens (when
--       the recommender needs one of botify/state/store.py's STATE_VIEWS).
-- Returns {request, session, anchor, fav_artist, fav_artist_last_track, since, listens...};
-- since: when the user's counters started (ms, Redis's clock), so that counters restarted
-- by a Redis that lost its data are told apart from the earlier ones;
-- floats never cross the boundary (Redis would truncate them to integers).
local state, artists, listens = KEYS[1], KEYS[2], KEYS[3]
local track, time, artist = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local good_time, max_fails, ttl = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])

local request = redis.call('HINCRBY', state, 'requests', 1)
local session = tonumber(redis.call('HGET', state, 'session') or '0')
local since = redis.call('HGET', state, 'since')
if not since then
  local now = redis.call('TIME')
  since = tostring(now[1] * 1000 + math.floor(now[2] / 1000))
  redis.call('HSET', state, 'since', since)
end

-- 1. Artist rating and favourite artist.
local sum = tonumber(redis.call('HINCRBYFLOAT', artists, artist .. ':sum', ARGV[2]))
local count = redis.call('HINCRBY', artists, artist .. ':count', 1)
redis.call('HSET', artists, artist .. ':last', track)
local fav = redis.call('HGET', state, 'fav_artist')
if not fav then
  fav = artist
elseif fav ~= artist then
  local fav_sum = tonumber(redis.call('HGET', artists, fav .. ':sum') or '0')
  local fav_count = tonumber(redis.call('HGET', artists, fav .. ':count') or '0')
  if fav_count == 0 or sum / count > fav_sum / fav_count then
    fav = artist
  end
end
redis.call('HSET', state, 'fav_artist', fav)

local anchor = false
if ARGV[7] == '1' then
  redis.call('HDEL', state, 'last_good', 'best', 'best_time', 'fails')
  redis.call('DEL', listens)
  redis.call('HINCRBY', state, 'session', 1)
else
  -- 2. Last good track and fail counter choose the anchor.
  local fails
  if time >= good_time then
    redis.call('HSET', state, 'last_good', track, 'fails', 0)
    fails = 0
    anchor = track
  else
    anchor = redis.call('HGET', state, 'last_good') or track
    fails = redis.call('HINCRBY', state, 'fails', 1)
  end
  -- 3. Best track of the session; too many fails fall back to it.
  local best_time = redis.call('HGET', state, 'best_time')
  if not best_time or time > tonumber(best_time) then
    redis.call('HSET', state, 'best', track, 'best_time', ARGV[2])
  end
  if fails >= max_fails then
    anchor = redis.call('HGET', state, 'best')
  end
  redis.call('RPUSH', listens, track .. ':' .. ARGV[2])
  redis.call('EXPIRE', listens, ttl)
end

redis.call('EXPIRE', state, ttl)
redis.call('EXPIRE', artists, ttl)

local fav_last = redis.call('HGET', artists, fav .. ':last')
local result = {request, session, anchor, fav, fav_last, since}
if ARGV[8] == '1' and ARGV[7] ~= '1' then
  for _, listen in ipairs(redis.call('LRANGE', listens, 0, -1)) do
    result[#result + 1] = listen
  end
end
return result
