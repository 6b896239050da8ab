// Package redisstore is an ump.TokenStore in Redis, shared by every process
// of a fleet: one token record per app id, a renewal lease, and the day's
// token-call counts, each changed atomically by a Lua script.
//
// Keys, for app id A and the default prefix "ump:token:" (the braces put
// all of an app's keys in one Redis Cluster slot):
//
//	ump:token:{A}                  hash: version, token (JSON record)
//	ump:token:{A}:lease            string: the holder's random id, with a TTL
//	ump:token:{A}:day:2006-01-02   hash: obtain, refresh; expires after ~48 h
//
// Run Redis with persistence (AOF, or RDB snapshots) when it holds tokens:
// a Redis that restarts empty forgets the record and the day's counts.
package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
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

// casScript stores the record if the version is still ARGV[1] ("0": none).
var casScript = redis.NewScript(`
local cur = redis.call('HGET', KEYS[1], 'version') or '0'
if cur ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'version', ARGV[2], 'token', ARGV[3])
return 1
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

// spendScript counts one call of kind ARGV[1] if fewer than ARGV[2] were
// counted, and returns {counted (0/1), count}.
var spendScript = redis.NewScript(`
local n = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if n >= tonumber(ARGV[2]) then return {0, n} end
n = redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {1, n}
`)

func field(kind ump.TokenCall) string { return kind.String() }

// Spend implements ump.TokenStore.
func (s *Store) Spend(ctx context.Context, appID string, kind ump.TokenCall, day string, limit int) (int, error) {
	res, err := spendScript.Run(ctx, s.rdb, []string{s.dayKey(appID, day)},
		field(kind), limit, CountTTL.Milliseconds()).Int64Slice()
	if err != nil {
		return 0, fmt.Errorf("redisstore: counting a %s call of %s: %w", kind, appID, err)
	}
	if len(res) != 2 {
		return 0, fmt.Errorf("redisstore: counting a %s call: unexpected answer %v", kind, res)
	}
	n := int(res[1])
	if res[0] != 1 {
		return n, fmt.Errorf("%w: %d of %d %s calls spent on %s", ump.ErrTokenBudgetExhausted, n, limit, kind, day)
	}
	return n, nil
}

// Spent implements ump.TokenStore.
func (s *Store) Spent(ctx context.Context, appID string, day string) (obtains, refreshes int, err error) {
	vals, err := s.rdb.HMGet(ctx, s.dayKey(appID, day), field(ump.TokenObtain), field(ump.TokenRefresh)).Result()
	if err != nil {
		return 0, 0, fmt.Errorf("redisstore: reading the counts of %s: %w", appID, err)
	}
	var n [2]int
	for i, v := range vals {
		if str, ok := v.(string); ok {
			if n[i], err = strconv.Atoi(str); err != nil {
				return 0, 0, fmt.Errorf("%w: key %s: a count is not a number", ErrCorrupt, s.dayKey(appID, day))
			}
		}
	}
	return n[0], n[1], nil
}

// releaseScript deletes the lease only if it still holds ARGV[1].
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)

// Lease implements ump.TokenStore with SET NX PX; the release deletes the
// key only while it holds this holder's random id.
func (s *Store) Lease(ctx context.Context, appID string, ttl time.Duration) (func(context.Context) error, error) {
	id := ump.LeaseID()
	key := s.leaseKey(appID)
	ok, err := s.rdb.SetNX(ctx, key, id, max(ttl, time.Millisecond)).Result()
	if err != nil {
		return nil, fmt.Errorf("redisstore: taking the lease of %s: %w", appID, err)
	}
	if !ok {
		return nil, ump.ErrLeaseHeld
	}
	return func(ctx context.Context) error {
		if err := releaseScript.Run(ctx, s.rdb, []string{key}, id).Err(); err != nil {
			return fmt.Errorf("redisstore: releasing the lease of %s: %w", appID, err)
		}
		return nil
	}, nil
}

// String describes the store for logs.
func (s *Store) String() string { return "redisstore:" + s.prefix }
