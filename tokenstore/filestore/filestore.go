// Package filestore is an ump.TokenStore kept in one JSON file, shared by
// the processes of one host and surviving their restarts.
//
// The file holds, per app id, the token record and its version, the renewal
// lease and the token-call counts of the last few Beijing days. Every change
// takes an exclusive OS lock on a separate ".lock" file beside it, reads the
// file, and replaces it atomically (temporary file, fsync, rename, fsync of
// the directory), so a crash leaves either the old or the new file, never a
// torn one. The file holds live credentials and is written with mode 0600.
//
// A file that cannot be read as a token file is an error matching ErrCorrupt,
// never "nothing stored": that would make the SDK spend the day's one obtain.
//
// The lock is an advisory flock(2): use the file from one host, not over a
// network file system. For a fleet on several hosts use redisstore.
package filestore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofrs/flock"

	ump "github.com/greedc/ump-go"
	"github.com/greedc/ump-go/tokenstore/internal/record"
)

// ErrCorrupt means the token file exists but is not a token file this
// package can read. The store refuses to overwrite or ignore it: restore it,
// or remove it knowingly (the next token then costs the day's obtain).
var ErrCorrupt = errors.New("filestore: token file is corrupted")

// formatVersion is written into every file, so a future layout is refused
// rather than misread.
const formatVersion = 1

// DefaultDaysKept is how many Beijing days of token-call counts the file
// keeps per app.
const DefaultDaysKept = 7

// Store is an ump.TokenStore in one file. It is safe for concurrent use by
// goroutines and by processes on one host.
type Store struct {
	path     string
	lock     *flock.Flock
	daysKept int
	now      func() time.Time
	// sem serialises this Store's goroutines: a flock.Flock is one lock per
	// object, so a second goroutine would find it "already locked".
	sem chan struct{}
}

var _ ump.TokenStore = (*Store)(nil)

// Option configures a Store.
type Option func(*Store) error

// WithDaysKept sets how many Beijing days of counts to keep (at least 2, so
// that yesterday's counts survive the turn of the day). The default is
// DefaultDaysKept.
func WithDaysKept(n int) Option {
	return func(s *Store) error {
		if n < 2 {
			return fmt.Errorf("filestore: WithDaysKept: %d is below 2", n)
		}
		s.daysKept = n
		return nil
	}
}

// WithClock sets the clock that lease expiry is measured with. The default
// is time.Now; processes sharing a file must share a clock.
func WithClock(now func() time.Time) Option {
	return func(s *Store) error {
		if now == nil {
			return errors.New("filestore: WithClock: nil clock")
		}
		s.now = now
		return nil
	}
}

// New returns a store kept in the file at path, creating its directory (mode
// 0700) if needed. The file itself is created by the first write. New reads
// an existing file once and returns an error matching ErrCorrupt if it is
// damaged, and removes temporary files left by a writer that crashed.
func New(path string, opts ...Option) (*Store, error) {
	if path == "" {
		return nil, errors.New("filestore: empty path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("filestore: %w", err)
	}
	s := &Store{
		path:     abs,
		lock:     flock.New(abs+".lock", flock.SetPermissions(0o600)),
		daysKept: DefaultDaysKept,
		now:      time.Now,
		sem:      make(chan struct{}, 1),
	}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(s); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, fmt.Errorf("filestore: %w", err)
	}
	err = s.locked(context.Background(), func() error {
		s.removeStrays()
		_, err := s.read()
		return err
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Path returns the token file's absolute path.
func (s *Store) Path() string { return s.path }

// file is the JSON document.
type file struct {
	Format int             `json:"format"`
	Apps   map[string]*app `json:"apps"`
}

type app struct {
	Version int64          `json:"version,omitempty"`
	Token   *record.Record `json:"token,omitempty"`
	Lease   *lease         `json:"lease,omitempty"`
	// Spent maps a Beijing date to that day's counts.
	Spent map[string]*counts `json:"spent,omitempty"`
}

type lease struct {
	Holder    string    `json:"holder"`
	ExpiresAt time.Time `json:"expires_at"`
}

type counts struct {
	Obtains   int `json:"obtain,omitempty"`
	Refreshes int `json:"refresh,omitempty"`
}

func (c *counts) of(kind ump.TokenCall) *int {
	if kind == ump.TokenObtain {
		return &c.Obtains
	}
	return &c.Refreshes
}

func (f *file) app(appID string) *app {
	a := f.Apps[appID]
	if a == nil {
		a = &app{}
		f.Apps[appID] = a
	}
	return a
}

// Load implements ump.TokenStore. It reads without the lock: files are
// replaced by rename, so a reader sees the old or the new file whole.
func (s *Store) Load(_ context.Context, appID string) (ump.Token, error) {
	f, err := s.read()
	if err != nil {
		return ump.Token{}, err
	}
	a := f.Apps[appID]
	if a == nil || a.Token == nil {
		return ump.Token{}, nil
	}
	return a.Token.Token(a.Version), nil
}

// CompareAndSwap implements ump.TokenStore.
func (s *Store) CompareAndSwap(ctx context.Context, appID string, oldVersion int64, t ump.Token) (ump.Token, error) {
	if err := record.FromToken(t).Check(); err != nil {
		return ump.Token{}, fmt.Errorf("filestore: refusing to store: %w", err)
	}
	var out ump.Token
	err := s.update(ctx, func(f *file) (bool, error) {
		a := f.app(appID)
		if a.Version != oldVersion {
			return false, ump.ErrTokenConflict
		}
		r := record.FromToken(t)
		a.Version, a.Token = oldVersion+1, &r
		out = r.Token(a.Version)
		return true, nil
	})
	return out, err
}

// Spend implements ump.TokenStore.
func (s *Store) Spend(ctx context.Context, appID string, kind ump.TokenCall, day string, limit int) (int, error) {
	var n int
	err := s.update(ctx, func(f *file) (bool, error) {
		a := f.app(appID)
		if a.Spent == nil {
			a.Spent = map[string]*counts{}
		}
		c := a.Spent[day]
		if c == nil {
			c = &counts{}
			a.Spent[day] = c
		}
		p := c.of(kind)
		if *p >= limit {
			n = *p
			return false, fmt.Errorf("%w: %d of %d %s calls spent on %s", ump.ErrTokenBudgetExhausted, *p, limit, kind, day)
		}
		*p++
		n = *p
		s.prune(a, day)
		return true, nil
	})
	return n, err
}

// prune keeps the daysKept latest days (dates sort as strings), always
// including day, the one just counted.
func (s *Store) prune(a *app, day string) {
	if len(a.Spent) <= s.daysKept {
		return
	}
	days := make([]string, 0, len(a.Spent))
	for d := range a.Spent {
		if d != day {
			days = append(days, d)
		}
	}
	slices.Sort(days)
	for _, d := range days[:len(days)-(s.daysKept-1)] {
		delete(a.Spent, d)
	}
}

// Spent implements ump.TokenStore.
func (s *Store) Spent(_ context.Context, appID string, day string) (obtains, refreshes int, err error) {
	f, err := s.read()
	if err != nil {
		return 0, 0, err
	}
	if a := f.Apps[appID]; a != nil && a.Spent[day] != nil {
		return a.Spent[day].Obtains, a.Spent[day].Refreshes, nil
	}
	return 0, 0, nil
}

// Lease implements ump.TokenStore with a lease record in the file.
func (s *Store) Lease(ctx context.Context, appID string, ttl time.Duration) (func(context.Context) error, error) {
	id := ump.LeaseID()
	err := s.update(ctx, func(f *file) (bool, error) {
		a := f.app(appID)
		now := s.now()
		if a.Lease != nil && now.Before(a.Lease.ExpiresAt) {
			return false, ump.ErrLeaseHeld
		}
		a.Lease = &lease{Holder: id, ExpiresAt: now.Add(ttl)}
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) error {
		return s.update(ctx, func(f *file) (bool, error) {
			a := f.Apps[appID]
			if a == nil || a.Lease == nil || a.Lease.Holder != id {
				return false, nil // lapsed and taken over, or released already
			}
			a.Lease = nil
			return true, nil
		})
	}, nil
}

// locked runs fn holding this store's turn and the OS lock.
func (s *Store) locked(ctx context.Context, fn func() error) error {
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("filestore: waiting for the lock: %w", ctx.Err())
	}
	defer func() { <-s.sem }()
	ok, err := s.lock.TryLockContext(ctx, 2*time.Millisecond)
	if err != nil || !ok {
		return fmt.Errorf("filestore: locking %s: %w", s.lock.Path(), errors.Join(err, ctx.Err()))
	}
	defer func() { _ = s.lock.Unlock() }()
	return fn()
}

// update reads the file under the lock, lets change modify it, and writes it
// back if change reports a modification. change's error is returned as is.
func (s *Store) update(ctx context.Context, change func(*file) (bool, error)) error {
	return s.locked(ctx, func() error {
		f, err := s.read()
		if err != nil {
			return err
		}
		modified, cerr := change(f)
		if modified {
			if err := s.write(f); err != nil {
				return err
			}
		}
		return cerr
	})
}

// read returns the file's contents; a missing file is an empty one.
func (s *Store) read() (*file, error) {
	b, err := os.ReadFile(s.path)
	if errors.Is(err, os.ErrNotExist) {
		return &file{Format: formatVersion, Apps: map[string]*app{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("filestore: reading %s: %w", s.path, err)
	}
	f, err := parse(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v; refusing to treat it as empty (that would spend the day's token obtain): restore it, or remove it and run `ump token bootstrap`", ErrCorrupt, s.path, err)
	}
	return f, nil
}

// parse checks the document strictly; its errors never quote the input.
func parse(b []byte) (*file, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, errors.New("the file is empty")
	}
	var f file
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn):
			return nil, fmt.Errorf("not JSON (syntax error at byte %d)", syn.Offset)
		case errors.Is(err, io.ErrUnexpectedEOF):
			return nil, errors.New("the file ends early")
		case errors.As(err, &typ):
			return nil, fmt.Errorf("field %q has the wrong type (%s)", typ.Field, typ.Value)
		case strings.HasPrefix(err.Error(), "json: unknown field"):
			return nil, errors.New("not a token file (unknown field)")
		}
		return nil, errors.New("not a token file")
	}
	if dec.More() {
		return nil, errors.New("trailing data after the document")
	}
	if f.Format != formatVersion {
		return nil, fmt.Errorf("format %d, want %d", f.Format, formatVersion)
	}
	if f.Apps == nil {
		f.Apps = map[string]*app{}
	}
	for id, a := range f.Apps {
		if a == nil {
			return nil, fmt.Errorf("app %q has no record", id)
		}
		if (a.Token == nil) != (a.Version == 0) {
			return nil, fmt.Errorf("app %q: token and version disagree", id)
		}
		if a.Token != nil {
			if err := a.Token.Check(); err != nil {
				return nil, fmt.Errorf("app %q: %v", id, err)
			}
		}
	}
	return &f, nil
}

// write replaces the file atomically: a temporary file in the same
// directory, fsync, rename over the old one, fsync of the directory.
func (s *Store) write(f *file) error {
	f.Format = formatVersion
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("filestore: encoding: %w", err)
	}
	b = append(b, '\n')
	dir := filepath.Dir(s.path)
	tmp, err := os.CreateTemp(dir, filepath.Base(s.path)+tmpInfix+"*")
	if err != nil {
		return fmt.Errorf("filestore: %w", err)
	}
	done := false
	defer func() {
		if !done {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	// CreateTemp makes the file 0600; say so anyway, in case of an umask
	// surprise on some platform.
	if err := tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("filestore: %w", err)
	}
	if _, err := tmp.Write(b); err != nil {
		return fmt.Errorf("filestore: writing %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("filestore: syncing %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("filestore: %w", err)
	}
	if err := os.Rename(tmp.Name(), s.path); err != nil {
		return fmt.Errorf("filestore: %w", err)
	}
	done = true
	if runtime.GOOS == "windows" {
		return nil // a directory cannot be opened for fsync there
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("filestore: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("filestore: syncing directory %s: %w", dir, err)
	}
	return nil
}

// tmpInfix marks this store's temporary files: "<name>.tmp-<random>".
const tmpInfix = ".tmp-"

// removeStrays deletes temporary files a crashed writer left; the caller
// holds the lock, so no live writer owns one.
func (s *Store) removeStrays() {
	strays, _ := filepath.Glob(filepath.Join(filepath.Dir(s.path), globEscape(filepath.Base(s.path))+tmpInfix+"*"))
	for _, p := range strays {
		_ = os.Remove(p)
	}
}

// globEscape quotes the pattern characters of a file name.
func globEscape(name string) string {
	var b strings.Builder
	for _, r := range name {
		if strings.ContainsRune(`*?[\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// String describes the store for logs.
func (s *Store) String() string { return "filestore:" + strconv.Quote(s.path) }
