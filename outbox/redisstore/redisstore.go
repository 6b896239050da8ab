// Package redisstore is the outbox's store for a fleet of drainers: jobs in a
// Redis hash, handed out through a Redis Stream and its consumer group. Each
// drainer process is a consumer; the jobs a dead consumer held are claimed by
// another (XAUTOCLAIM) once they have been idle for the claim idle time.
//
// A job is delivered one at a time per member and after its sale (see
// outbox.Store) whichever consumer holds it: a consumer delivers a job only
// while the job heads its member's lane, a sorted set kept with the job.
//
// Durability is Redis's: run it with appendonly yes and appendfsync always
// (or everysec, accepting a second of enqueues lost to a crash of Redis
// itself). Keep each delivery attempt (outbox.WithAttemptTimeout) well under
// the claim idle time, or a slow attempt's job may be claimed by another
// drainer while it is still on its way; the store then refuses the slow
// drainer's update (outbox.ErrLeaseLost) and the job is settled by the
// other, under its key.
package redisstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/greedc/ump-go/outbox"
)

// DefaultName is the store's default name.
const DefaultName = "ump-outbox"

const group = "drainers"

// Store is an outbox.Store in Redis. It is safe for concurrent use.
type Store struct {
	rdb       redis.UniversalClient
	name      string
	consumer  string
	claimIdle time.Duration
	prefix    string

	claimMu sync.Mutex // one Claim at a time: a candidate is leased before the next Claim looks
	mu      sync.Mutex
	leased  map[string]string // job id -> stream entry id, in this process
}

var _ outbox.Store = (*Store)(nil)

// Option configures Open.
type Option func(*Store)

// WithName names the store: its keys are "ump:outbox:{name}:..." (default
// DefaultName). Give each till group or environment its own.
func WithName(name string) Option { return func(s *Store) { s.name = name } }

// WithConsumer names this drainer in the consumer group (default
// hostname-pid). A process that restarts under the same name resumes the
// jobs it held at once; under another name they wait for the claim idle
// time.
func WithConsumer(name string) Option { return func(s *Store) { s.consumer = name } }

// WithClaimIdle sets how long a job held by a silent consumer waits before
// another claims it (default 1 minute).
func WithClaimIdle(d time.Duration) Option { return func(s *Store) { s.claimIdle = d } }

// Open returns the store in rdb, creating its consumer group if needed.
func Open(ctx context.Context, rdb redis.UniversalClient, opts ...Option) (*Store, error) {
	host, _ := os.Hostname()
	s := &Store{rdb: rdb, name: DefaultName, consumer: host + "-" + strconv.Itoa(os.Getpid()),
		claimIdle: time.Minute, leased: map[string]string{}}
	for _, o := range opts {
		o(s)
	}
	s.prefix = "ump:outbox:{" + s.name + "}:"
	err := rdb.XGroupCreateMkStream(ctx, s.key("stream"), group, "0").Err()
	if err != nil && err.Error() != "BUSYGROUP Consumer Group name already exists" {
		return nil, fmt.Errorf("redisstore: creating the consumer group: %w", err)
	}
	return s, nil
}

func (s *Store) key(k string) string { return s.prefix + k }

// laneKey is the sorted set of a member's jobs. The member is hashed: it
// may be a phone number, which has no place in a key name.
func (s *Store) laneKey(member string) string {
	sum := sha256.Sum256([]byte(member))
	return s.key("lane:" + hex.EncodeToString(sum[:10]))
}

// Close forgets this process's leases; it does not close rdb.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.leased)
	return nil
}

var addScript = redis.NewScript(`
if redis.call('HEXISTS', KEYS[2], ARGV[4]) == 1 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('HSET', KEYS[2], ARGV[4], ARGV[1])
if ARGV[5] ~= '' then redis.call('HSET', KEYS[3], ARGV[5], ARGV[1]) end
redis.call('ZADD', KEYS[4], ARGV[2], ARGV[1])
redis.call('ZADD', KEYS[5], ARGV[2], ARGV[1])
redis.call('XADD', KEYS[6], '*', 'job', ARGV[1])
return 1`)

// Add stores job (see outbox.Store).
func (s *Store) Add(ctx context.Context, job *outbox.Job) error {
	seq, err := s.rdb.Incr(ctx, s.key("seq")).Result()
	if err != nil {
		return fmt.Errorf("redisstore: %w", err)
	}
	job.Seq, job.ID = seq, strconv.FormatInt(seq, 10)
	b, err := json.Marshal(job)
	if err != nil {
		return err
	}
	ok, err := addScript.Run(ctx, s.rdb,
		[]string{s.key("jobs"), s.key("keys"), s.key("sales"), s.key("queued"), s.laneKey(job.Member()), s.key("stream")},
		job.ID, seq, b, job.Key(), job.SaleNo()).Int()
	if err != nil {
		return fmt.Errorf("redisstore: %w", err)
	}
	if ok == 0 {
		return outbox.ErrDuplicateKey
	}
	return nil
}

// readyScript checks, for a job whose stream entry ARGV[2] this consumer
// (ARGV[4]) holds, that it heads its member's lane, waits for no queued
// sale, and that no other job of the member is on its way (the lane's
// lock, which it then takes for the claim idle time). 1 ready, 0 not yet,
// -1 not ours, -2 gone (the entry is acknowledged and deleted).
var readyScript = redis.NewScript(`
local p = redis.call('XPENDING', KEYS[4], ARGV[3], ARGV[2], ARGV[2], 1, ARGV[4])
if #p == 0 then return -1 end
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then
  redis.call('XACK', KEYS[4], ARGV[3], ARGV[2])
  redis.call('XDEL', KEYS[4], ARGV[2])
  return -2
end
local head = redis.call('ZRANGE', KEYS[3], 0, 0)
if head[1] ~= ARGV[1] then return 0 end
if ARGV[5] ~= '' and redis.call('HEXISTS', KEYS[2], ARGV[5]) == 1 then return 0 end
local holder = redis.call('GET', KEYS[5])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[5], ARGV[1], 'PX', ARGV[6])
return 1`)

// Claim leases ready jobs (see outbox.Store): it takes over the entries of
// consumers silent for the claim idle time, reads new entries, then offers
// the entries it holds that are ready, lowest Seq first.
func (s *Store) Claim(ctx context.Context, now time.Time, max int) ([]*outbox.Job, error) {
	s.claimMu.Lock()
	defer s.claimMu.Unlock()
	stream := s.key("stream")
	// A consumer holds a window of entries, so that the others find work
	// too; it reads at least max new ones each time, so that a job queued
	// again at the stream's end is reached even when every entry held waits
	// for it.
	window := int64(16 + 4*max)
	err := s.rdb.XAutoClaimJustID(ctx, &redis.XAutoClaimArgs{Stream: stream, Group: group, Consumer: s.consumer,
		MinIdle: s.claimIdle, Start: "0-0", Count: window}).Err()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("redisstore: %w", err)
	}
	held, err := s.rdb.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: stream, Group: group,
		Start: "-", End: "+", Count: 4 * window, Consumer: s.consumer}).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, wrap(err)
	}
	err = s.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: group, Consumer: s.consumer,
		Streams: []string{stream, ">"}, Count: max64(int64(max), window-int64(len(held))), Block: -1}).Err()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("redisstore: %w", err)
	}
	pending, err := s.rdb.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: stream, Group: group,
		Start: "-", End: "+", Count: 4 * window, Consumer: s.consumer}).Result()
	if err != nil || len(pending) == 0 {
		return nil, wrap(err)
	}
	ids := make([]string, len(pending))
	for i, p := range pending {
		ids[i] = p.ID
	}
	// Claiming our own entries again reads them and shows we are alive.
	msgs, err := s.rdb.XClaim(ctx, &redis.XClaimArgs{Stream: stream, Group: group, Consumer: s.consumer, Messages: ids}).Result()
	if err != nil {
		return nil, wrap(err)
	}
	type entry struct{ sid, id string }
	var entries []entry
	s.mu.Lock()
	for _, m := range msgs {
		id, _ := m.Values["job"].(string)
		if id != "" && s.leased[id] == "" {
			entries = append(entries, entry{m.ID, id})
		}
	}
	s.mu.Unlock()
	if len(entries) == 0 {
		return nil, nil
	}
	jobIDs := make([]string, len(entries))
	for i, e := range entries {
		jobIDs[i] = e.id
	}
	raws, err := s.rdb.HMGet(ctx, s.key("jobs"), jobIDs...).Result()
	if err != nil {
		return nil, wrap(err)
	}
	type candidate struct {
		sid string
		job *outbox.Job
	}
	var cands []candidate
	for i, raw := range raws {
		str, ok := raw.(string)
		if !ok {
			continue // gone; readyScript cleans up the entry next time
		}
		j, err := outbox.DecodeJob([]byte(str))
		if err != nil {
			return nil, err
		}
		if j.State == outbox.StateDead || (!j.NextAttempt.IsZero() && j.NextAttempt.After(now)) {
			continue
		}
		cands = append(cands, candidate{entries[i].sid, j})
	}
	sort.Slice(cands, func(a, b int) bool { return cands[a].job.Seq < cands[b].job.Seq })
	var out []*outbox.Job
	lanes := map[string]bool{}
	for _, c := range cands {
		if len(out) == max {
			break
		}
		if lanes[c.job.Member()] {
			continue
		}
		lanes[c.job.Member()] = true
		lane := s.laneKey(c.job.Member())
		r, err := readyScript.Run(ctx, s.rdb, []string{s.key("jobs"), s.key("sales"), lane, stream, lane + ":lock"},
			c.job.ID, c.sid, group, s.consumer, c.job.WaitsFor(), s.claimIdle.Milliseconds()).Int()
		if err != nil {
			return nil, wrap(err)
		}
		if r != 1 {
			continue
		}
		s.mu.Lock()
		if s.leased[c.job.ID] == "" {
			s.leased[c.job.ID] = c.sid
			out = append(out, c.job)
		}
		s.mu.Unlock()
	}
	return out, nil
}

func max64(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

func wrap(err error) error {
	if err == nil || errors.Is(err, redis.Nil) {
		return nil
	}
	return fmt.Errorf("redisstore: %w", err)
}

// updateScript applies a leased job's new state if this consumer still
// holds its stream entry. ARGV: id, entry, group, consumer, state, json,
// seq, stored key, current key, sale no, lock time (ms).
var updateScript = redis.NewScript(`
local p = redis.call('XPENDING', KEYS[7], ARGV[3], ARGV[2], ARGV[2], 1, ARGV[4])
if #p == 0 or redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
local state = ARGV[5]
local locked = redis.call('GET', KEYS[8]) == ARGV[1]
if state == 'queued' or state == 'sending' then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[6])
  redis.call('XCLAIM', KEYS[7], ARGV[3], ARGV[4], 0, ARGV[2], 'JUSTID')
  if state == 'sending' then redis.call('SET', KEYS[8], ARGV[1], 'PX', ARGV[11])
  elseif locked then redis.call('DEL', KEYS[8]) end
  return 1
end
if locked then redis.call('DEL', KEYS[8]) end
if ARGV[10] ~= '' and redis.call('HGET', KEYS[3], ARGV[10]) == ARGV[1] then redis.call('HDEL', KEYS[3], ARGV[10]) end
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('ZREM', KEYS[6], ARGV[1])
redis.call('XACK', KEYS[7], ARGV[3], ARGV[2])
redis.call('XDEL', KEYS[7], ARGV[2])
if state == 'dead' then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[6])
  redis.call('ZADD', KEYS[5], ARGV[7], ARGV[1])
  return 1
end
for _, k in ipairs({ARGV[8], ARGV[9]}) do
  if redis.call('HGET', KEYS[2], k) == ARGV[1] then redis.call('HDEL', KEYS[2], k) end
end
redis.call('HDEL', KEYS[1], ARGV[1])
return 1`)

// Update persists a leased job's state (see outbox.Store).
func (s *Store) Update(ctx context.Context, job *outbox.Job) error {
	s.mu.Lock()
	sid := s.leased[job.ID]
	s.mu.Unlock()
	if sid == "" {
		return outbox.ErrLeaseLost
	}
	switch job.State {
	case outbox.StateQueued, outbox.StateSending, outbox.StateDead, outbox.StateDelivered:
	default:
		return fmt.Errorf("redisstore: update to state %q", job.State)
	}
	b, err := json.Marshal(job)
	if err != nil {
		return err
	}
	lane := s.laneKey(job.Member())
	storedKey := job.Key()
	if raw, err := s.rdb.HGet(ctx, s.key("jobs"), job.ID).Result(); err == nil {
		if prev, err := outbox.DecodeJob([]byte(raw)); err == nil {
			storedKey = prev.Key()
		}
	}
	ok, err := 0, error(nil)
	defer func() {
		// The lease ends with any update but the start of an attempt, even
		// a failed one: the job is claimed again as Redis last recorded it.
		if ok == 0 || job.State != outbox.StateSending {
			s.mu.Lock()
			delete(s.leased, job.ID)
			s.mu.Unlock()
		}
	}()
	ok, err = updateScript.Run(ctx, s.rdb,
		[]string{s.key("jobs"), s.key("keys"), s.key("sales"), s.key("queued"), s.key("dead"), lane, s.key("stream"), lane + ":lock"},
		job.ID, sid, group, s.consumer, string(job.State), b, job.Seq, storedKey, job.Key(), job.SaleNo(),
		s.claimIdle.Milliseconds()).Int()
	if err != nil {
		return fmt.Errorf("redisstore: %w", err)
	}
	if ok == 0 {
		return outbox.ErrLeaseLost
	}
	return nil
}

// List returns jobs in state, lowest Seq first (see outbox.Store).
func (s *Store) List(ctx context.Context, state outbox.State, limit int) ([]*outbox.Job, error) {
	set := s.key("queued")
	if state == outbox.StateDead {
		set = s.key("dead")
	}
	ids, err := s.rdb.ZRange(ctx, set, 0, int64(limit)-1).Result()
	if err != nil || len(ids) == 0 {
		return nil, wrap(err)
	}
	raws, err := s.rdb.HMGet(ctx, s.key("jobs"), ids...).Result()
	if err != nil {
		return nil, wrap(err)
	}
	var out []*outbox.Job
	for _, raw := range raws {
		if str, ok := raw.(string); ok {
			j, err := outbox.DecodeJob([]byte(str))
			if err != nil {
				return nil, err
			}
			out = append(out, j)
		}
	}
	return out, nil
}

// Stats counts the jobs.
func (s *Store) Stats(ctx context.Context) (outbox.Stats, error) {
	var st outbox.Stats
	pipe := s.rdb.Pipeline()
	q := pipe.ZCard(ctx, s.key("queued"))
	d := pipe.ZCard(ctx, s.key("dead"))
	first := pipe.ZRange(ctx, s.key("queued"), 0, 0)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return st, wrap(err)
	}
	st.Queued, st.Dead = int(q.Val()), int(d.Val())
	if ids := first.Val(); len(ids) == 1 {
		raw, err := s.rdb.HGet(ctx, s.key("jobs"), ids[0]).Result()
		if err == nil {
			if j, err := outbox.DecodeJob([]byte(raw)); err == nil {
				st.Oldest = j.EnqueuedAt
			}
		}
	}
	return st, nil
}

var requeueScript = redis.NewScript(`
if redis.call('ZSCORE', KEYS[3], ARGV[1]) == false then return 0 end
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('ZADD', KEYS[4], ARGV[2], ARGV[1])
redis.call('ZADD', KEYS[5], ARGV[2], ARGV[1])
if ARGV[4] ~= '' then redis.call('HSETNX', KEYS[2], ARGV[4], ARGV[1]) end
redis.call('XADD', KEYS[6], '*', 'job', ARGV[1])
return 1`)

// Requeue moves dead jobs back to the queue (see outbox.Store).
func (s *Store) Requeue(ctx context.Context, ids ...string) (int, error) {
	return s.eachDead(ctx, ids, func(j *outbox.Job) (int, error) {
		j.State, j.NextAttempt = outbox.StateQueued, time.Time{}
		b, err := json.Marshal(j)
		if err != nil {
			return 0, err
		}
		return requeueScript.Run(ctx, s.rdb,
			[]string{s.key("jobs"), s.key("sales"), s.key("dead"), s.key("queued"), s.laneKey(j.Member()), s.key("stream")},
			j.ID, j.Seq, b, j.SaleNo()).Int()
	})
}

// eachDead runs op on each of ids that names a dead job and adds up what op
// counted; the first failure ends it.
func (s *Store) eachDead(ctx context.Context, ids []string, op func(*outbox.Job) (int, error)) (int, error) {
	n := 0
	for _, id := range ids {
		j, err := s.dead(ctx, id)
		if err != nil {
			return n, err
		}
		if j == nil {
			continue
		}
		ok, err := op(j)
		if err != nil {
			return n, wrap(err)
		}
		n += ok
	}
	return n, nil
}

var dropScript = redis.NewScript(`
if redis.call('ZSCORE', KEYS[3], ARGV[1]) == false then return 0 end
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('HDEL', KEYS[1], ARGV[1])
if redis.call('HGET', KEYS[2], ARGV[2]) == ARGV[1] then redis.call('HDEL', KEYS[2], ARGV[2]) end
return 1`)

// Drop deletes dead jobs (see outbox.Store).
func (s *Store) Drop(ctx context.Context, ids ...string) (int, error) {
	return s.eachDead(ctx, ids, func(j *outbox.Job) (int, error) {
		return dropScript.Run(ctx, s.rdb, []string{s.key("jobs"), s.key("keys"), s.key("dead")}, j.ID, j.Key()).Int()
	})
}

// dead returns the dead job id names, or nil.
func (s *Store) dead(ctx context.Context, id string) (*outbox.Job, error) {
	raw, err := s.rdb.HGet(ctx, s.key("jobs"), id).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, wrap(err)
	}
	j, err := outbox.DecodeJob([]byte(raw))
	if err != nil || j.State != outbox.StateDead {
		return nil, err
	}
	return j, nil
}
