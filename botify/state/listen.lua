-- One request's read-modify-write of a user's state, atomic (docs/recommenders.md).
-- KEYS: 1 state hash, 2 artist-ratings hash, 3 list of this session's listens, each
--       "track:time" (all share the user's hash tag, so the script runs on Redis Cluster).
-- ARGV: 1 track, 2 time, 3 artist of track, 4 good_time, 5 max_fails, 6 ttl seconds,
--       7 "1" for /last (ends the session), 8 the names of the views of
--       botify/state/store.py's STATE_VIEWS to return, separated by spaces,
--       9 how many of the session's last good listens to keep.
-- Returns {request, session, anchor, fav_artist, fav_artist_last_track, since,
--          played, good_listens, listens}, a view not asked for (or on /last) false;
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
  redis.call('HDEL', state, 'last_good', 'best', 'best_time', 'fails', 'played', 'good')
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
  -- 4. The session's views, kept as it goes so that a request reads only what it needs
  --    whatever the session's length: every track played ("t,t,"), the last good
  --    listens ("t:time,t:time,"), and every listen.
  redis.call('HSET', state, 'played', (redis.call('HGET', state, 'played') or '') .. track .. ',')
  if time >= good_time then
    local good = (redis.call('HGET', state, 'good') or '') .. track .. ':' .. ARGV[2] .. ','
    local _, kept = good:gsub(',', '')
    for _ = 1, kept - tonumber(ARGV[9]) do
      good = good:sub(good:find(',', 1, true) + 1)
    end
    redis.call('HSET', state, 'good', good)
  end
  redis.call('RPUSH', listens, track .. ':' .. ARGV[2])
  redis.call('EXPIRE', listens, ttl)
end

redis.call('EXPIRE', state, ttl)
redis.call('EXPIRE', artists, ttl)

local fav_last = redis.call('HGET', artists, fav .. ':last')
local wanted = {}
if ARGV[7] ~= '1' then
  for name in ARGV[8]:gmatch('%S+') do
    wanted[name] = true
  end
end
-- A view the request did not ask for is false (nil would end the reply's array).
local function view(name, ...)
  return wanted[name] and redis.call(...) or false
end
return {
  request, session, anchor, fav, fav_last, since,
  view('played', 'HGET', state, 'played'),
  view('good_listens', 'HGET', state, 'good'),
  view('listens', 'LRANGE', listens, 0, -1),
}
