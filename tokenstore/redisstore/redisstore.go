// Package redisstore is an ump.TokenStore in Redis, shared by every process
// of a fleet: one token record per app id, a renewal lease, and the day's
// token-call counts, each changed atomically by a Lua script.
//
// Keys, for app id A and the default prefix "ump:token:" (the braces put
// all of an app's keys in one Redis Cluster slot):
//
//	ump:token:{A}                  hash: version, token (JSON record)
//	ump:token:{A}:lease            string: the holder's random id, with a TTL
//	ump:token:{A}:day:2006-01-02   hash: "obtain:<nonce>" and "refresh:<nonce>"
//	                               (JSON: when, by whom); expires after ~48 h
//	ump:token:{A}:pause            string: the fleet-wide pause (JSON)
//
// # Commands sent twice
//
// go-redis (v9.22) sends a command again when reading its answer times out
// (ReadTimeout, 5 s by default; up to MaxRetries, 3 by default), while the
// first copy may still be queued behind a stalled Redis. Rather than ask
// every user for a client with retries off, every script here is safe to
// run twice: a lease found holding this holder's own id is held, a spend
// whose nonce is counted is not counted again, and a compare-and-swap that
// finds its own record at the next version reports success. The rest are
// reads, or writes that land the same way twice.
//
// Run Redis with persistence (AOF, or RDB snapshots) when it holds tokens:
// a Redis that restarts empty forgets the record and the day's counts.
package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	ump "github.com/greedc/ump-go"
	"github.com/greedc/ump-go/tokenstore/internal/record"
)

// DefaultPrefix starts every key the store uses.
const DefaultPrefix = "ump:token:"

// CountTTL is how long a day's counts live after their last change: past
// the end of the Beijing day, whatever the clock skew between processes.
const CountTTL = 48 * time.Hour

// ErrCorrupt means a stored record cannot be read. The store does not treat
// it as "nothing stored", which would make the SDK spend the day's obtain.
var ErrCorrupt = errors.New("redisstore: stored token record is corrupted")

// Store is an ump.TokenStore in Redis. It is safe for concurrent use.
type Store struct {
	rdb    redis.UniversalClient
	prefix string
}

var _ ump.TokenStore = (*Store)(nil)

// Option configures a Store.
type Option func(*Store)

// WithPrefix sets the prefix of every key; the default is DefaultPrefix.
// Give each environment (test, production) its own prefix or database, so
// they never share a token.
func WithPrefix(p string) Option {
	return func(s *Store) { s.prefix = p }
}

// New returns a store that keeps its keys in rdb. rdb may be a single
// client, a failover client or a cluster client; a single Redis is enough
// for the lease (no Redlock is needed).
func New(rdb redis.UniversalClient, opts ...Option) *Store {
	s := &Store{rdb: rdb, prefix: DefaultPrefix}
	for _, o := range opts {
		if o != nil {
			o(s)
		}
	}
	return s
}

func (s *Store) key(appID string) string      { return s.prefix + "{" + appID + "}" }
func (s *Store) leaseKey(appID string) string { return s.key(appID) + ":lease" }
func (s *Store) pauseKey(appID string) string { return s.key(appID) + ":pause" }
func (s *Store) dayKey(appID, day string) string {
	return s.key(appID) + ":day:" + day
}

const (
	fieldVersion = "version"
	fieldToken   = "token"
)

// Load implements ump.TokenStore.
func (s *Store) Load(ctx context.Context, appID string) (ump.Token, error) {
	vals, err := s.rdb.HMGet(ctx, s.key(appID), fieldVersion, fieldToken).Result()
	if err != nil {
		return ump.Token{}, fmt.Errorf("redisstore: loading %s: %w", appID, err)
	}
	vs, _ := vals[0].(string)
	tok, _ := vals[1].(string)
	if vs == "" && tok == "" {
		return ump.Token{}, nil
	}
	v, err := strconv.ParseInt(vs, 10, 64)
	if err != nil || v < 1 {
		return ump.Token{}, fmt.Errorf("%w: key %s: version is not a positive number", ErrCorrupt, s.key(appID))
	}
	t, err := record.Decode([]byte(tok), v)
	if err != nil {
		return ump.Token{}, fmt.Errorf("%w: key %s: %v", ErrCorrupt, s.key(appID), err)
	}
	return t, nil
}

// casScript stores the record if the version is still ARGV[1] ("0": none),
// or finds it stored already at ARGV[2] (this very write, sent twice).
var casScript = redis.NewScript(`
local cur = redis.call('HGET', KEYS[1], 'version') or '0'
if cur == ARGV[1] then
  redis.call('HSET', KEYS[1], 'version', ARGV[2], 'token', ARGV[3])
  return 1
end
if cur == ARGV[2] and redis.call('HGET', KEYS[1], 'token') == ARGV[3] then return 1 end
return 0
`)

// CompareAndSwap implements ump.TokenStore.
func (s *Store) CompareAndSwap(ctx context.Context, appID string, oldVersion int64, t ump.Token) (ump.Token, error) {
	r := record.FromToken(t)
	if err := r.Check(); err != nil {
		return ump.Token{}, fmt.Errorf("redisstore: refusing to store: %w", err)
	}
	b, err := record.Encode(t)
	if err != nil {
		return ump.Token{}, fmt.Errorf("redisstore: encoding: %w", err)
	}
	next := oldVersion + 1
	ok, err := casScript.Run(ctx, s.rdb, []string{s.key(appID)},
		strconv.FormatInt(oldVersion, 10), strconv.FormatInt(next, 10), string(b)).Int()
	if err != nil {
		return ump.Token{}, fmt.Errorf("redisstore: storing %s: %w", appID, err)
	}
	if ok != 1 {
		return ump.Token{}, ump.ErrTokenConflict
	}
	return r.Token(next), nil
}

// Forget implements ump.TokenStore.
func (s *Store) Forget(ctx context.Context, appID string) (ump.Token, error) {
	t, err := s.Load(ctx, appID)
	if err != nil && !errors.Is(err, ErrCorrupt) {
		return ump.Token{}, err
	}
	if err := s.rdb.Del(ctx, s.key(appID)).Err(); err != nil {
		return ump.Token{}, fmt.Errorf("redisstore: forgetting %s: %w", appID, err)
	}
	return t, nil
}

// spendScript counts the call ARGV[1]:ARGV[2] (kind:nonce) with details
// ARGV[4] unless it is counted already or ARGV[3] calls of the kind are,
// and returns {counted (0/1), the day's fields and values}. A count field
// named after the kind alone is an older store's count without details.
var spendScript = redis.NewScript(`
local f = ARGV[1] .. ':' .. ARGV[2]
local counted = 0
if redis.call('HEXISTS', KEYS[1], f) == 1 then
  counted = 1
else
  local n = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
  local prefix = ARGV[1] .. ':'
  for _, k in ipairs(redis.call('HKEYS', KEYS[1])) do
    if string.sub(k, 1, #prefix) == prefix then n = n + 1 end
  end
  if n < tonumber(ARGV[3]) then
    redis.call('HSET', KEYS[1], f, ARGV[4])
    redis.call('PEXPIRE', KEYS[1], ARGV[5])
    counted = 1
  end
end
return {counted, redis.call('HGETALL', KEYS[1])}
`)

// spendDetails is the value of a spend's field.
type spendDetails struct {
	At time.Time `json:"at"`
	By string    `json:"by,omitempty"`
}

// Spend implements ump.TokenStore.
func (s *Store) Spend(ctx context.Context, appID string, sp ump.TokenSpend, limit int) (ump.TokenDay, bool, error) {
	if sp.Nonce == "" || strings.Contains(sp.Nonce, ":") {
		return ump.TokenDay{}, false, errors.New("redisstore: a spend needs a nonce without ':'")
	}
	details, err := json.Marshal(spendDetails{At: sp.At, By: sp.By})
	if err != nil {
		return ump.TokenDay{}, false, fmt.Errorf("redisstore: encoding a spend: %w", err)
	}
	res, err := spendScript.Run(ctx, s.rdb, []string{s.dayKey(appID, sp.Day)},
		sp.Kind.String(), sp.Nonce, limit, string(details), CountTTL.Milliseconds()).Slice()
	if err != nil {
		return ump.TokenDay{}, false, fmt.Errorf("redisstore: counting a %s call of %s: %w", sp.Kind, appID, err)
	}
	counted, _ := res[0].(int64)
	fields, _ := res[1].([]any)
	pairs := make([]string, 0, len(fields))
	for _, f := range fields {
		str, _ := f.(string)
		pairs = append(pairs, str)
	}
	day, err := s.parseDay(appID, sp.Day, pairs)
	if err != nil {
		return ump.TokenDay{}, false, err
	}
	return day, counted == 1, nil
}

// parseDay reads a day's hash, given as field, value, field, value...
func (s *Store) parseDay(appID, day string, pairs []string) (ump.TokenDay, error) {
	d := ump.TokenDay{Day: day}
	for i := 0; i+1 < len(pairs); i += 2 {
		field, value := pairs[i], pairs[i+1]
		kindName, nonce, detailed := strings.Cut(field, ":")
		kind, ok := kinds[kindName]
		if !ok {
			return ump.TokenDay{}, fmt.Errorf("%w: key %s: unknown field", ErrCorrupt, s.dayKey(appID, day))
		}
		if !detailed { // an older store's count
			n, err := strconv.Atoi(value)
			if err != nil || n < 0 {
				return ump.TokenDay{}, fmt.Errorf("%w: key %s: a count is not a number", ErrCorrupt, s.dayKey(appID, day))
			}
			for range n {
				d.Spends = append(d.Spends, ump.TokenSpend{Kind: kind, Day: day})
			}
			continue
		}
		var det spendDetails
		if err := json.Unmarshal([]byte(value), &det); err != nil {
			return ump.TokenDay{}, fmt.Errorf("%w: key %s: a spend is not JSON", ErrCorrupt, s.dayKey(appID, day))
		}
		d.Spends = append(d.Spends, ump.TokenSpend{Kind: kind, Day: day, Nonce: nonce, At: det.At, By: det.By})
	}
	slices.SortStableFunc(d.Spends, func(a, b ump.TokenSpend) int { return a.At.Compare(b.At) })
	return d, nil
}

var kinds = map[string]ump.TokenCall{ump.TokenObtain.String(): ump.TokenObtain, ump.TokenRefresh.String(): ump.TokenRefresh}

// GiveBack implements ump.TokenStore.
func (s *Store) GiveBack(ctx context.Context, appID string, sp ump.TokenSpend) error {
	if sp.Nonce == "" {
		return nil
	}
	if err := s.rdb.HDel(ctx, s.dayKey(appID, sp.Day), sp.Kind.String()+":"+sp.Nonce).Err(); err != nil {
		return fmt.Errorf("redisstore: giving back a %s call of %s: %w", sp.Kind, appID, err)
	}
	return nil
}

// Spent implements ump.TokenStore.
func (s *Store) Spent(ctx context.Context, appID string, day string) (ump.TokenDay, error) {
	m, err := s.rdb.HGetAll(ctx, s.dayKey(appID, day)).Result()
	if err != nil {
		return ump.TokenDay{}, fmt.Errorf("redisstore: reading the counts of %s: %w", appID, err)
	}
	pairs := make([]string, 0, 2*len(m))
	for k, v := range m {
		pairs = append(pairs, k, v)
	}
	return s.parseDay(appID, day, pairs)
}

// ResetSpent implements ump.TokenStore.
func (s *Store) ResetSpent(ctx context.Context, appID string, day string) (ump.TokenDay, error) {
	d, err := s.Spent(ctx, appID, day)
	if err != nil && !errors.Is(err, ErrCorrupt) {
		return ump.TokenDay{}, err
	}
	if err := s.rdb.Del(ctx, s.dayKey(appID, day)).Err(); err != nil {
		return ump.TokenDay{}, fmt.Errorf("redisstore: clearing the counts of %s: %w", appID, err)
	}
	return d, nil
}

// Pause implements ump.TokenStore.
func (s *Store) Pause(ctx context.Context, appID string) (ump.TokenPause, error) {
	b, err := s.rdb.Get(ctx, s.pauseKey(appID)).Bytes()
	if errors.Is(err, redis.Nil) {
		return ump.TokenPause{}, nil
	}
	if err != nil {
		return ump.TokenPause{}, fmt.Errorf("redisstore: reading the pause of %s: %w", appID, err)
	}
	var p ump.TokenPause
	if err := json.Unmarshal(b, &p); err != nil {
		return ump.TokenPause{}, fmt.Errorf("%w: key %s: not JSON", ErrCorrupt, s.pauseKey(appID))
	}
	return p, nil
}

// SetPause implements ump.TokenStore. The key lives CountTTL, past the end
// of any pause, so that the next failure's wait can double.
func (s *Store) SetPause(ctx context.Context, appID string, p ump.TokenPause) error {
	var err error
	if p == (ump.TokenPause{}) {
		err = s.rdb.Del(ctx, s.pauseKey(appID)).Err()
	} else {
		var b []byte
		if b, err = json.Marshal(p); err == nil {
			err = s.rdb.Set(ctx, s.pauseKey(appID), b, CountTTL).Err()
		}
	}
	if err != nil {
		return fmt.Errorf("redisstore: storing the pause of %s: %w", appID, err)
	}
	return nil
}

// leaseScript takes the lease for ARGV[1] for ARGV[2] ms, or finds it held
// by ARGV[1] already (this very command, sent twice).
var leaseScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if not cur then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if cur == ARGV[1] then return 1 end
return 0
`)

// releaseScript deletes the lease only if it still holds ARGV[1].
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)

// Lease implements ump.TokenStore; the release deletes the key only while
// it holds this holder's random id.
func (s *Store) Lease(ctx context.Context, appID string, ttl time.Duration) (func(context.Context) error, error) {
	id := ump.LeaseID()
	key := s.leaseKey(appID)
	ok, err := leaseScript.Run(ctx, s.rdb, []string{key}, id, max(ttl, time.Millisecond).Milliseconds()).Int()
	if err != nil {
		return nil, fmt.Errorf("redisstore: taking the lease of %s: %w", appID, err)
	}
	if ok != 1 {
		return nil, ump.ErrLeaseHeld
	}
	return func(ctx context.Context) error {
		if err := releaseScript.Run(ctx, s.rdb, []string{key}, id).Err(); err != nil {
			return fmt.Errorf("redisstore: releasing the lease of %s: %w", appID, err)
		}
		return nil
	}, nil
}

// String describes the store for logs: "redis, key prefix ump:token:".
func (s *Store) String() string { return "redis, key prefix " + s.prefix }
