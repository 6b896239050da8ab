// Package boltstore is the outbox's embedded store: one file, written with
// go.etcd.io/bbolt, each change committed and synced to disk before it
// returns, so a power cut loses nothing that Enqueue reported stored. One
// process at a time opens a file (others wait, then fail naming the file).
package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/greedc/ump-go/outbox"
)

var (
	bucketJobs  = []byte("jobs")  // seq -> job JSON
	bucketSched = []byte("sched") // seq -> schedule record (see sched)
	bucketKeys  = []byte("keys")  // job key -> seq, for queued and dead jobs
	bucketSales = []byte("sales") // order_no -> seq, for queued sales
	bucketMeta  = []byte("meta")
	keyFormat   = []byte("format")
	formatV1    = []byte("ump-go outbox 1")
)

// ErrCorrupt is wrapped by the error of a store file that cannot be read.
// The file is left as it is; "ump outbox export" saves what can be read.
var ErrCorrupt = errors.New("outbox store file is corrupt")

// Store is a bbolt file. It is safe for concurrent use within one process.
type Store struct {
	path string
	db   *bolt.DB

	mu     sync.Mutex
	leased map[uint64]string // seq -> member, for the jobs leased out
}

// Option configures Open.
type Option func(*bolt.Options)

// WithLockTimeout sets how long Open waits for another process to close the
// file (default 2s).
func WithLockTimeout(d time.Duration) Option { return func(o *bolt.Options) { o.Timeout = d } }

// ReadOnly opens the file for reading only (the CLI's status, list, dead
// and export); it may be shared with other readers, never with a writer.
func ReadOnly() Option { return func(o *bolt.Options) { o.ReadOnly = true } }

var _ outbox.Store = (*Store)(nil)

// Open opens the store file at path, creating it (mode 0600) if missing.
func Open(path string, opts ...Option) (s *Store, err error) {
	// The freelist is rebuilt on open rather than written with every
	// commit: one page less to sync per enqueue.
	o := &bolt.Options{Timeout: 2 * time.Second, NoFreelistSync: true, FreelistType: bolt.FreelistMapType}
	for _, opt := range opts {
		opt(o)
	}
	defer func() {
		if r := recover(); r != nil {
			s, err = nil, corrupt(path, fmt.Errorf("%v", r))
		}
	}()
	db, err := bolt.Open(path, 0o600, o)
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return nil, fmt.Errorf("boltstore: %s: in use by another process (a running drainer?)", path)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrVersionMismatch), errors.Is(err, berrors.ErrChecksum),
		errors.Is(err, berrors.ErrInvalidMapping):
		return nil, corrupt(path, err)
	case err != nil:
		if fi, serr := os.Stat(path); serr == nil && fi.Mode().IsRegular() && fi.Size() > 0 && !errors.Is(err, os.ErrPermission) {
			return nil, corrupt(path, err)
		}
		return nil, fmt.Errorf("boltstore: opening %s: %w", path, err)
	}
	db.MaxBatchDelay = 2 * time.Millisecond
	s = &Store{path: path, db: db, leased: map[uint64]string{}}
	// Look before writing: a file that is not ours, or damaged, is left
	// exactly as it is.
	fresh := false
	err = s.view(func(tx *bolt.Tx) error {
		m := tx.Bucket(bucketMeta)
		switch {
		case m != nil && bytes.Equal(m.Get(keyFormat), formatV1):
			return nil
		case m != nil:
			return fmt.Errorf("boltstore: %s: not an outbox store (format %q)", path, m.Get(keyFormat))
		case countBuckets(tx) > 0:
			return fmt.Errorf("boltstore: %s: a bbolt file that is not an outbox store", path)
		case o.ReadOnly:
			return fmt.Errorf("boltstore: %s: not an outbox store (empty)", path)
		}
		fresh = true
		return nil
	})
	if err == nil && fresh {
		err = s.update(func(tx *bolt.Tx) error {
			for _, b := range [][]byte{bucketJobs, bucketSched, bucketKeys, bucketSales, bucketMeta} {
				if _, err := tx.CreateBucketIfNotExists(b); err != nil {
					return err
				}
			}
			return tx.Bucket(bucketMeta).Put(keyFormat, formatV1)
		})
	}
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	return s, nil
}

func countBuckets(tx *bolt.Tx) int {
	n := 0
	_ = tx.ForEach(func([]byte, *bolt.Bucket) error { n++; return nil })
	return n
}

func corrupt(path string, cause error) error {
	return fmt.Errorf("boltstore: %s: %w (%v); the file was left unchanged: save what can still be read with \"ump outbox export --store bolt:%s\"",
		path, ErrCorrupt, cause, path)
}

// Path returns the file's path.
func (s *Store) Path() string { return s.path }

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

// view and update run fn in a transaction, turning bbolt's panics on a
// damaged page into an error naming the file.
func (s *Store) view(fn func(*bolt.Tx) error) (err error) {
	defer s.recoverCorrupt(&err)
	return s.db.View(fn)
}

func (s *Store) update(fn func(*bolt.Tx) error) (err error) {
	return s.write(s.db.Update, fn)
}

// batch is update for the drainer's concurrent updates: bbolt commits
// those that arrive within MaxBatchDelay together, one sync for all. fn
// may run more than once, so it must only read and write the transaction.
func (s *Store) batch(fn func(*bolt.Tx) error) (err error) {
	return s.write(s.db.Batch, fn)
}

func (s *Store) write(commit func(func(*bolt.Tx) error) error, fn func(*bolt.Tx) error) (err error) {
	defer s.recoverCorrupt(&err)
	err = commit(fn)
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return outbox.ErrClosed
	}
	if err != nil && !errors.Is(err, outbox.ErrDuplicateKey) && !errors.Is(err, outbox.ErrLeaseLost) {
		return fmt.Errorf("boltstore: %s: %w", s.path, err)
	}
	return err
}

func (s *Store) recoverCorrupt(err *error) {
	if r := recover(); r != nil {
		*err = corrupt(s.path, fmt.Errorf("%v", r))
	}
}

func seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

func idOf(seq uint64) string { return strconv.FormatUint(seq, 10) }

func seqOf(id string) (uint64, bool) {
	n, err := strconv.ParseUint(id, 10, 64)
	return n, err == nil
}

// sched is what Claim reads for each job, kept apart from the job's JSON so
// that the scan decodes a few bytes per job.
type sched struct {
	state    outbox.State
	next     int64 // NextAttempt, Unix nanoseconds (0: due)
	enqueued int64
	member   string
	waitsFor string
}

var stateCodes = map[outbox.State]byte{outbox.StateQueued: 'q', outbox.StateSending: 's', outbox.StateDead: 'd'}
var codeStates = map[byte]outbox.State{'q': outbox.StateQueued, 's': outbox.StateSending, 'd': outbox.StateDead}

func schedOf(j *outbox.Job) []byte {
	b := []byte{stateCodes[j.State]}
	var next int64
	if !j.NextAttempt.IsZero() {
		next = j.NextAttempt.UnixNano()
	}
	b = binary.BigEndian.AppendUint64(b, uint64(next))
	b = binary.BigEndian.AppendUint64(b, uint64(j.EnqueuedAt.UnixNano()))
	b = binary.AppendUvarint(b, uint64(len(j.Member())))
	b = append(b, j.Member()...)
	return append(b, j.WaitsFor()...)
}

func parseSched(b []byte) (sched, error) {
	if len(b) < 17 {
		return sched{}, errors.New("short schedule record")
	}
	r := sched{state: codeStates[b[0]], next: int64(binary.BigEndian.Uint64(b[1:9])),
		enqueued: int64(binary.BigEndian.Uint64(b[9:17]))}
	n, w := binary.Uvarint(b[17:])
	if w <= 0 || uint64(len(b)-17-w) < n {
		return sched{}, errors.New("bad schedule record")
	}
	rest := b[17+w:]
	r.member, r.waitsFor = string(rest[:n]), string(rest[n:])
	return r, nil
}

// Add stores job durably (synced) with the next Seq.
func (s *Store) Add(_ context.Context, job *outbox.Job) error {
	key := []byte(job.Key())
	return s.update(func(tx *bolt.Tx) error {
		keys := tx.Bucket(bucketKeys)
		if keys.Get(key) != nil {
			return outbox.ErrDuplicateKey
		}
		jobs := tx.Bucket(bucketJobs)
		seq, err := jobs.NextSequence()
		if err != nil {
			return err
		}
		job.Seq, job.ID = int64(seq), idOf(seq)
		if err := s.put(tx, seq, job); err != nil {
			return err
		}
		if err := keys.Put(key, seqKey(seq)); err != nil {
			return err
		}
		if no := job.SaleNo(); no != "" {
			return tx.Bucket(bucketSales).Put([]byte(no), seqKey(seq))
		}
		return nil
	})
}

func (s *Store) put(tx *bolt.Tx, seq uint64, job *outbox.Job) error {
	b, err := json.Marshal(job)
	if err != nil {
		return err
	}
	if err := tx.Bucket(bucketJobs).Put(seqKey(seq), b); err != nil {
		return err
	}
	return tx.Bucket(bucketSched).Put(seqKey(seq), schedOf(job))
}

// Claim leases the ready jobs (see outbox.Store).
func (s *Store) Claim(_ context.Context, now time.Time, max int) ([]*outbox.Job, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*outbox.Job
	err := s.view(func(tx *bolt.Tx) error {
		sales, jobs := tx.Bucket(bucketSales), tx.Bucket(bucketJobs)
		seen := map[string]bool{} // members whose turn is taken
		for _, member := range s.leased {
			seen[member] = true
		}
		c := tx.Bucket(bucketSched).Cursor()
		for k, v := c.First(); k != nil && len(out) < max; k, v = c.Next() {
			r, err := parseSched(v)
			if err != nil {
				return fmt.Errorf("job %d: %w", binary.BigEndian.Uint64(k), err)
			}
			if r.state == outbox.StateDead || seen[r.member] {
				continue
			}
			seen[r.member] = true
			seq := binary.BigEndian.Uint64(k)
			if r.next != 0 && r.next > now.UnixNano() {
				continue
			}
			if r.waitsFor != "" && sales.Get([]byte(r.waitsFor)) != nil {
				continue
			}
			j, err := outbox.DecodeJob(jobs.Get(k))
			if err != nil {
				return fmt.Errorf("job %d: %w", seq, err)
			}
			out = append(out, j)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, j := range out {
		s.leased[uint64(j.Seq)] = j.Member()
	}
	return out, nil
}

// Update persists a leased job's state (see outbox.Store).
func (s *Store) Update(_ context.Context, job *outbox.Job) error {
	seq, ok := seqOf(job.ID)
	s.mu.Lock()
	_, leased := s.leased[seq]
	s.mu.Unlock()
	if !ok || !leased {
		return outbox.ErrLeaseLost
	}
	// Only the lease holder updates a job, so the lock need not be held
	// while the write waits for its batch; the lease ends after the commit.
	err := s.batch(func(tx *bolt.Tx) error {
		old := tx.Bucket(bucketJobs).Get(seqKey(seq))
		if old == nil {
			return outbox.ErrLeaseLost
		}
		prev, err := outbox.DecodeJob(old)
		if err != nil {
			return err
		}
		switch job.State {
		case outbox.StateQueued, outbox.StateSending:
			return s.put(tx, seq, job)
		case outbox.StateDead:
			if err := unindexSale(tx, prev, seq); err != nil {
				return err
			}
			return s.put(tx, seq, job)
		case outbox.StateDelivered:
			return s.remove(tx, seq, prev, job)
		}
		return fmt.Errorf("boltstore: update to state %q", job.State)
	})
	// The lease ends with any update but the start of an attempt, even a
	// failed one: the job is then claimed again as the file last recorded
	// it, which is always safe to deliver from.
	if job.State != outbox.StateSending || errors.Is(err, outbox.ErrLeaseLost) {
		s.mu.Lock()
		delete(s.leased, seq)
		s.mu.Unlock()
	}
	return err
}

func unindexSale(tx *bolt.Tx, j *outbox.Job, seq uint64) error {
	if no := j.SaleNo(); no != "" {
		sales := tx.Bucket(bucketSales)
		if bytes.Equal(sales.Get([]byte(no)), seqKey(seq)) {
			return sales.Delete([]byte(no))
		}
	}
	return nil
}

// remove deletes job seq and its index entries; jobs holds its stored and
// current forms, whose keys may differ (a score change resolved under
// another change_id).
func (s *Store) remove(tx *bolt.Tx, seq uint64, jobs ...*outbox.Job) error {
	k := seqKey(seq)
	for _, j := range jobs {
		keys := tx.Bucket(bucketKeys)
		if bytes.Equal(keys.Get([]byte(j.Key())), k) {
			if err := keys.Delete([]byte(j.Key())); err != nil {
				return err
			}
		}
		if err := unindexSale(tx, j, seq); err != nil {
			return err
		}
	}
	if err := tx.Bucket(bucketJobs).Delete(k); err != nil {
		return err
	}
	return tx.Bucket(bucketSched).Delete(k)
}

// List returns jobs in state, lowest Seq first (see outbox.Store).
func (s *Store) List(_ context.Context, state outbox.State, limit int) ([]*outbox.Job, error) {
	var out []*outbox.Job
	err := s.view(func(tx *bolt.Tx) error {
		jobs := tx.Bucket(bucketJobs)
		c := tx.Bucket(bucketSched).Cursor()
		for k, v := c.First(); k != nil && (limit <= 0 || len(out) < limit); k, v = c.Next() {
			r, err := parseSched(v)
			if err != nil {
				return err
			}
			if (state == outbox.StateDead) != (r.state == outbox.StateDead) {
				continue
			}
			j, err := outbox.DecodeJob(jobs.Get(k))
			if err != nil {
				return err
			}
			out = append(out, j)
		}
		return nil
	})
	return out, err
}

// Stats counts the jobs.
func (s *Store) Stats(context.Context) (outbox.Stats, error) {
	var st outbox.Stats
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSched).ForEach(func(_, v []byte) error {
			r, err := parseSched(v)
			if err != nil {
				return err
			}
			if r.state == outbox.StateDead {
				st.Dead++
				return nil
			}
			st.Queued++
			if t := time.Unix(0, r.enqueued); st.Oldest.IsZero() || t.Before(st.Oldest) {
				st.Oldest = t
			}
			return nil
		})
	})
	return st, err
}

// Requeue moves dead jobs back to the queue (see outbox.Store).
func (s *Store) Requeue(_ context.Context, ids ...string) (int, error) {
	n := 0
	err := s.update(func(tx *bolt.Tx) error {
		n = 0
		for _, id := range ids {
			j, seq, err := deadJob(tx, id)
			if err != nil || j == nil {
				if err != nil {
					return err
				}
				continue
			}
			j.State, j.NextAttempt = outbox.StateQueued, time.Time{}
			if err := s.put(tx, seq, j); err != nil {
				return err
			}
			if no := j.SaleNo(); no != "" && tx.Bucket(bucketSales).Get([]byte(no)) == nil {
				if err := tx.Bucket(bucketSales).Put([]byte(no), seqKey(seq)); err != nil {
					return err
				}
			}
			n++
		}
		return nil
	})
	return n, err
}

// Drop deletes dead jobs (see outbox.Store).
func (s *Store) Drop(_ context.Context, ids ...string) (int, error) {
	n := 0
	err := s.update(func(tx *bolt.Tx) error {
		n = 0
		for _, id := range ids {
			j, seq, err := deadJob(tx, id)
			if err != nil {
				return err
			}
			if j == nil {
				continue
			}
			if err := s.remove(tx, seq, j); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}

// deadJob returns the dead job id names, or nil.
func deadJob(tx *bolt.Tx, id string) (*outbox.Job, uint64, error) {
	seq, ok := seqOf(id)
	if !ok {
		return nil, 0, nil
	}
	b := tx.Bucket(bucketJobs).Get(seqKey(seq))
	if b == nil {
		return nil, 0, nil
	}
	j, err := outbox.DecodeJob(b)
	if err != nil || j.State != outbox.StateDead {
		return nil, 0, err
	}
	return j, seq, nil
}
