-- The unified queue in Redis: every change that touches more than one key runs here, as one
-- script, so several `contact serve` processes share the queue without a double offer.
-- Called by contact/routing/redis_store.py; the rules mirror memory_store.py.
--
-- KEYS[1] waiting        ZSET  order member (16 hex of queued_at .. contact id) by score
-- KEYS[2] entries        HASH  contact id -> entry JSON {m, p, c, l, s, q} (waiting or offered)
-- KEYS[3] offers         ZSET  contact id by expires_at
-- KEYS[4] offer_holders  HASH  contact id -> {o = operator id, x = expires_at}
-- KEYS[5] operators      HASH  operator id -> {p presence, s since, c contact, l languages,
--                              k capabilities, r pools it sits in while ready}
-- KEYS[6..] ready pools  ZSET  operator id by idle-since, named by ARGV[2] ("kk:voice", ...)
-- ARGV[1] command, ARGV[2] pool names in KEYS order, ARGV[3..] the command's arguments.
--
-- Numbers are kept as the strings Python sent (repr round-trips a float exactly); cjson would
-- print them with 14 digits only. A script error does not roll back earlier writes, so each
-- command validates before it writes.

local WAITING, ENTRIES, OFFERS, HOLDERS, OPERATORS = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local ORDER_KEY_LEN = 16

local POOLS = {}
do
  local i = 6
  for name in string.gmatch(ARGV[2], '[^,]+') do
    POOLS[name] = KEYS[i]
    i = i + 1
  end
end

local WORKING = { busy = true, wrap_up = true }

local function csv(s)
  local out = {}
  for item in string.gmatch(s, '[^,]+') do
    out[#out + 1] = item
  end
  return out
end

local function load_op(id)
  local raw = redis.call('HGET', OPERATORS, id)
  if not raw then
    return nil
  end
  return cjson.decode(raw)
end

local function save_op(id, op)
  redis.call('HSET', OPERATORS, id, cjson.encode(op))
end

-- the pools of an operator with these skills, or nil and the first unknown pool
local function pool_names(langs, caps)
  local names = {}
  for _, cap in ipairs(csv(caps)) do
    names[#names + 1] = 'any:' .. cap
    for _, lang in ipairs(csv(langs)) do
      names[#names + 1] = lang .. ':' .. cap
    end
  end
  for _, name in ipairs(names) do
    if not POOLS[name] then
      return nil, name
    end
  end
  return names
end

local function leave_pools(id, op)
  for _, name in ipairs(csv(op.r)) do
    redis.call('ZREM', POOLS[name], id)
  end
  op.r = ''
end

-- skills were validated when stored, so pool_names cannot fail here
local function make_ready(id, op, since)
  leave_pools(id, op)
  local names = pool_names(op.l, op.k)
  for _, name in ipairs(names) do
    redis.call('ZADD', POOLS[name], since, id)
  end
  op.p, op.s, op.c, op.r = 'ready', since, '', table.concat(names, ',')
  save_op(id, op)
end

local function end_offer(cid)
  redis.call('HDEL', HOLDERS, cid)
  redis.call('ZREM', OFFERS, cid)
end

-- back to waiting with the original score and order key: its old place in line
local function requeue(cid)
  end_offer(cid)
  local e = cjson.decode(redis.call('HGET', ENTRIES, cid))
  redis.call('ZADD', WAITING, e.s, e.m)
end

-- the holder record when `id` holds the offer of `cid`
local function held(cid, id)
  local raw = redis.call('HGET', HOLDERS, cid)
  if not raw then
    return nil
  end
  local h = cjson.decode(raw)
  if h.o ~= id then
    return nil
  end
  return h
end

-- 1 when an operator of any node sits in a ready pool, else 0: without one `assign` cannot
-- pair anything, so the caller need not ask until something changes
local function anyone_ready()
  for _, key in pairs(POOLS) do
    if redis.call('ZCARD', key) > 0 then
      return 1
    end
  end
  return 0
end

local commands = {}

-- cid, entry JSON, order member, score -> {1 added | 0 already waiting or offered, anyone_ready}
function commands.enqueue(cid, record, member, score)
  if redis.call('HSETNX', ENTRIES, cid, record) == 0 then
    return { 0, anyone_ready() }
  end
  redis.call('ZADD', WAITING, score, member)
  return { 1, anyone_ready() }
end

-- cid, entry JSON, score -> 1 | 0 not held. The new priority and score of a held contact;
-- its order member (queued_at) stays. Waiting: its new place now; offered: on return.
function commands.reprioritise(cid, record, score)
  local raw = redis.call('HGET', ENTRIES, cid)
  if not raw then
    return 0
  end
  local old, new = cjson.decode(raw), cjson.decode(record)
  new.m, new.q = old.m, old.q
  redis.call('HSET', ENTRIES, cid, cjson.encode(new))
  if redis.call('ZSCORE', WAITING, old.m) then
    redis.call('ZADD', WAITING, score, old.m)
  end
  return 1
end

-- cid, now -> entry JSON | nil
function commands.remove(cid, now)
  local raw = redis.call('HGET', ENTRIES, cid)
  if not raw then
    return false
  end
  local e = cjson.decode(raw)
  redis.call('HDEL', ENTRIES, cid)
  if redis.call('ZREM', WAITING, e.m) == 0 then
    local h = cjson.decode(redis.call('HGET', HOLDERS, cid))
    end_offer(cid)
    make_ready(h.o, load_op(h.o), now)
  end
  return raw
end

-- operator, presence, now, languages csv, capabilities csv -> {'ok'} | {'conflict', cid} |
-- {'bad', reason}
function commands.set_presence(id, presence, now, langs, caps)
  if presence == 'offered' then
    return { 'bad', 'offered' }
  end
  local op = load_op(id)
  if op and op.p == 'offered' then
    return { 'conflict', op.c }
  end
  local names, unknown = pool_names(langs, caps)
  if not names then
    return { 'bad', unknown }
  end
  if not op then
    op = { p = '', s = now, c = '', l = langs, k = caps, r = '' }
  end
  leave_pools(id, op)
  op.l, op.k = langs, caps
  if presence == 'ready' then
    local since = now
    if op.p == 'ready' then
      since = op.s -- already ready: keep the place in line
    end
    make_ready(id, op, since)
  else
    if op.p ~= presence then
      op.s = now
    end
    if not (WORKING[op.p] and WORKING[presence]) then
      op.c = ''
    end
    op.p = presence
    save_op(id, op)
  end
  return { 'ok' }
end

-- operator -> 1 | 0 unknown
function commands.forget_operator(id)
  local op = load_op(id)
  if not op then
    return 0
  end
  leave_pools(id, op)
  redis.call('HDEL', OPERATORS, id)
  if op.p == 'offered' and op.c ~= '' then
    requeue(op.c)
  end
  return 1
end

-- now, expires_at, language_fallback_s, scan_depth -> {cid, entry JSON, operator} |
-- anyone_ready (no pairing). The head usually pairs at once, so the queue is read in small
-- batches, not scan_depth entries every time.
local BATCH = 8

function commands.assign(now_s, expires, fallback_s, depth_s)
  local now, fallback, depth = tonumber(now_s), tonumber(fallback_s), tonumber(depth_s)
  local empty = {} -- pools already seen empty in this scan
  local start = 0
  while start < depth do
    local stop = math.min(start + BATCH, depth) - 1
    local heads = redis.call('ZRANGE', WAITING, start, stop)
    if #heads == 0 then
      return anyone_ready()
    end
    local cids = {}
    for i, member in ipairs(heads) do
      cids[i] = string.sub(member, ORDER_KEY_LEN + 1)
    end
    local raws = redis.call('HMGET', ENTRIES, unpack(cids))
    for i = 1, #heads do
      local raw = raws[i]
      if raw then
        local e = cjson.decode(raw)
        local name = 'any:' .. e.c
        if e.l ~= '' and now - tonumber(e.q) < fallback then
          name = e.l .. ':' .. e.c
        end
        if not empty[name] then
          local top = {}
          if POOLS[name] then
            top = redis.call('ZRANGE', POOLS[name], 0, 0)
          end
          if #top == 0 then
            empty[name] = true
          else
            local id, cid = top[1], cids[i]
            local op = load_op(id)
            redis.call('ZREM', WAITING, heads[i])
            redis.call('ZADD', OFFERS, expires, cid)
            redis.call('HSET', HOLDERS, cid, cjson.encode({ o = id, x = expires }))
            leave_pools(id, op)
            op.p, op.s, op.c = 'offered', now_s, cid
            save_op(id, op)
            return { cid, raw, id }
          end
        end
      end
    end
    if #heads <= stop - start then
      return anyone_ready() -- the queue ended inside this batch
    end
    start = stop + 1
  end
  return anyone_ready()
end

-- cid, operator, now -> {entry JSON, expires_at} | nil
function commands.accept(cid, id, now)
  local h = held(cid, id)
  if not h then
    return false
  end
  local raw = redis.call('HGET', ENTRIES, cid)
  end_offer(cid)
  redis.call('HDEL', ENTRIES, cid)
  local op = load_op(id)
  op.p, op.s, op.c = 'busy', now, cid
  save_op(id, op)
  return { raw, h.x }
end

-- cid, operator, now -> {entry JSON, expires_at} | nil
function commands.decline(cid, id, now)
  local h = held(cid, id)
  if not h then
    return false
  end
  local raw = redis.call('HGET', ENTRIES, cid)
  requeue(cid)
  make_ready(id, load_op(id), now)
  return { raw, h.x }
end

-- now, '1' to set operators away -> flat {cid, entry JSON, operator, expires_at, ...}
function commands.expire_offers(now, away)
  local out = {}
  for _, cid in ipairs(redis.call('ZRANGEBYSCORE', OFFERS, '-inf', now)) do
    local h = cjson.decode(redis.call('HGET', HOLDERS, cid))
    local raw = redis.call('HGET', ENTRIES, cid)
    requeue(cid)
    local op = load_op(h.o)
    if away == '1' then
      leave_pools(h.o, op)
      op.p, op.s, op.c = 'away', now, ''
      save_op(h.o, op)
    else
      make_ready(h.o, op, now)
    end
    out[#out + 1] = cid
    out[#out + 1] = raw
    out[#out + 1] = h.o
    out[#out + 1] = h.x
  end
  return out
end

-- last index (-1 for all) -> entry JSONs in queue order (one script: a consistent read)
function commands.waiting(stop)
  local members = redis.call('ZRANGE', WAITING, 0, tonumber(stop))
  if #members == 0 then
    return {}
  end
  local cids = {}
  for i, member in ipairs(members) do
    cids[i] = string.sub(member, ORDER_KEY_LEN + 1)
  end
  return redis.call('HMGET', ENTRIES, unpack(cids))
end

-- -> flat {entry JSON, holder JSON, ...} by expiry
function commands.offers()
  local out = {}
  for _, cid in ipairs(redis.call('ZRANGE', OFFERS, 0, -1)) do
    out[#out + 1] = redis.call('HGET', ENTRIES, cid)
    out[#out + 1] = redis.call('HGET', HOLDERS, cid)
  end
  return out
end

-- -> list of problems; empty when the queue is consistent (for tests and health checks)
function commands.check()
  local problems = {}
  local function problem(text)
    problems[#problems + 1] = text
  end
  local entries = redis.call('HGETALL', ENTRIES)
  local n_waiting = redis.call('ZCARD', WAITING)
  local n_offers = redis.call('ZCARD', OFFERS)
  if n_offers ~= redis.call('HLEN', HOLDERS) then
    problem('offers and offer holders differ')
  end
  if n_waiting + n_offers ~= #entries / 2 then
    problem('entries differ from waiting + offered')
  end
  for i = 1, #entries, 2 do
    local cid, e = entries[i], cjson.decode(entries[i + 1])
    local waits = redis.call('ZSCORE', WAITING, e.m)
    local offered = redis.call('ZSCORE', OFFERS, cid)
    if waits and offered then
      problem('waiting and offered: ' .. cid)
    elseif not waits and not offered then
      problem('entry neither waiting nor offered: ' .. cid)
    end
  end
  local holders = redis.call('HGETALL', HOLDERS)
  local holding = {}
  for i = 1, #holders, 2 do
    local cid, h = holders[i], cjson.decode(holders[i + 1])
    local op = load_op(h.o)
    if not op or op.p ~= 'offered' or op.c ~= cid then
      problem('offer ' .. cid .. ' held by ' .. h.o .. ' who does not know it')
    end
    if holding[h.o] then
      problem('operator ' .. h.o .. ' holds two offers')
    end
    holding[h.o] = cid
  end
  local pooled = 0
  local ops = redis.call('HGETALL', OPERATORS)
  for i = 1, #ops, 2 do
    local id, op = ops[i], cjson.decode(ops[i + 1])
    if op.p == 'offered' and holding[id] ~= op.c then
      problem('operator ' .. id .. ' is offered without an offer')
    end
    local want = ''
    if op.p == 'ready' then
      want = table.concat(pool_names(op.l, op.k), ',')
    end
    if op.r ~= want then
      problem('operator ' .. id .. ' sits in the wrong pools')
    end
    for _, name in ipairs(csv(op.r)) do
      pooled = pooled + 1
      local score = redis.call('ZSCORE', POOLS[name], id)
      if not score or tonumber(score) ~= tonumber(op.s) then
        problem('operator ' .. id .. ' missing from pool ' .. name)
      end
    end
  end
  local in_pools = 0
  for _, key in pairs(POOLS) do
    in_pools = in_pools + redis.call('ZCARD', key)
  end
  if in_pools ~= pooled then
    problem('stale members in the ready pools')
  end
  return problems
end

local command = commands[ARGV[1]]
if not command then
  return redis.error_reply('unknown queue command ' .. tostring(ARGV[1]))
end
return command(unpack(ARGV, 3))
