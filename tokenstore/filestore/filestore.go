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
// New resolves the path once, symbolic links included, so that a process
// given a link and one given its target lock and replace the same file. It
// refuses (ErrExposed) a token file that group or others may read or write,
// and a directory they may write (without the sticky bit), where they could
// swap the file: the file holds live credentials, and a looser mode may mean
// they were exposed, which the operator must know rather than have silently
// fixed (run chmod 600 on the file, chmod 700 on the directory). A directory
// others may only read is accepted: it shows them file names, not tokens,
// and every file the store writes is created 0600 (a new directory 0700).
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

// ErrExposed means the token file or its directory grants group or others
// access; see the package comment.
var ErrExposed = errors.New("filestore: token file or directory is open to other users")

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

// New returns a store kept in the file at path (resolved once, symbolic
// links included), creating its directory (mode 0700) if needed. The file itself is created by the first write. New reads
// an existing file once and returns an error matching ErrCorrupt if it is
// damaged, and removes temporary files left by a writer that crashed.
func New(path string, opts ...Option) (*Store, error) {
	if path == "" {
		return nil, errors.New("filestore: empty path")
	}
	abs, err := resolve(path)
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
	if err := checkModes(abs); err != nil {
		return nil, err
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
	Pause *pause             `json:"pause,omitempty"`
}

type pause struct {
	Until    time.Time `json:"until"`
	Failures int       `json:"failures"`
	Reason   string    `json:"reason,omitempty"`
	At       time.Time `json:"at"`
	By       string    `json:"by,omitempty"`
}

type lease struct {
	Holder    string    `json:"holder"`
	ExpiresAt time.Time `json:"expires_at"`
}

// counts is a day's token calls: each with its details, and (from files an
// earlier version wrote) bare counts.
type counts struct {
	Obtains   int     `json:"obtain,omitempty"`
	Refreshes int     `json:"refresh,omitempty"`
	Spends    []spend `json:"spends,omitempty"`
}

type spend struct {
	Kind  string    `json:"kind"`
	Nonce string    `json:"nonce"`
	At    time.Time `json:"at"`
	By    string    `json:"by,omitempty"`
}

// day returns c as the SDK's type.
func (c *counts) day(day string) ump.TokenDay {
	d := ump.TokenDay{Day: day}
	if c == nil {
		return d
	}
	for range c.Obtains {
		d.Spends = append(d.Spends, ump.TokenSpend{Kind: ump.TokenObtain, Day: day})
	}
	for range c.Refreshes {
		d.Spends = append(d.Spends, ump.TokenSpend{Kind: ump.TokenRefresh, Day: day})
	}
	for _, sp := range c.Spends {
		kind := ump.TokenRefresh
		if sp.Kind == ump.TokenObtain.String() {
			kind = ump.TokenObtain
		}
		d.Spends = append(d.Spends, ump.TokenSpend{Kind: kind, Day: day, Nonce: sp.Nonce, At: sp.At, By: sp.By})
	}
	return d
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
		r := record.FromToken(t)
		if a.Version == oldVersion+1 && a.Token != nil && sameRecord(*a.Token, r) {
			out = r.Token(a.Version) // this very write, repeated
			return false, nil
		}
		if a.Version != oldVersion {
			return false, ump.ErrTokenConflict
		}
		a.Version, a.Token = oldVersion+1, &r
		out = r.Token(a.Version)
		return true, nil
	})
	return out, err
}

// sameRecord compares records by their JSON, which holds instants, not the
// monotonic readings and zone pointers that == would compare.
func sameRecord(a, b record.Record) bool {
	ja, erra := json.Marshal(a)
	jb, errb := json.Marshal(b)
	return erra == nil && errb == nil && bytes.Equal(ja, jb)
}

// Forget implements ump.TokenStore.
func (s *Store) Forget(ctx context.Context, appID string) (ump.Token, error) {
	var out ump.Token
	err := s.update(ctx, func(f *file) (bool, error) {
		a := f.Apps[appID]
		if a == nil || a.Token == nil {
			return false, nil
		}
		out = a.Token.Token(a.Version)
		a.Version, a.Token = 0, nil
		return true, nil
	})
	return out, err
}

// Spend implements ump.TokenStore.
func (s *Store) Spend(ctx context.Context, appID string, sp ump.TokenSpend, limit int) (ump.TokenDay, bool, error) {
	var out ump.TokenDay
	var counted bool
	err := s.update(ctx, func(f *file) (bool, error) {
		a := f.app(appID)
		if a.Spent == nil {
			a.Spent = map[string]*counts{}
		}
		c := a.Spent[sp.Day]
		if c == nil {
			c = &counts{}
			a.Spent[sp.Day] = c
		}
		d := c.day(sp.Day)
		switch {
		case d.Has(sp.Nonce):
			counted = true
		case d.Count(sp.Kind) < limit:
			c.Spends = append(c.Spends, spend{Kind: sp.Kind.String(), Nonce: sp.Nonce, At: sp.At, By: sp.By})
			counted = true
			s.prune(a, sp.Day)
			out = c.day(sp.Day)
			return true, nil
		}
		out = d
		return false, nil
	})
	return out, counted, err
}

// GiveBack implements ump.TokenStore.
func (s *Store) GiveBack(ctx context.Context, appID string, sp ump.TokenSpend) error {
	return s.update(ctx, func(f *file) (bool, error) {
		a := f.Apps[appID]
		if a == nil || a.Spent[sp.Day] == nil || sp.Nonce == "" {
			return false, nil
		}
		c := a.Spent[sp.Day]
		for i, x := range c.Spends {
			if x.Nonce == sp.Nonce {
				c.Spends = slices.Delete(c.Spends, i, i+1)
				return true, nil
			}
		}
		return false, nil
	})
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
func (s *Store) Spent(_ context.Context, appID string, day string) (ump.TokenDay, error) {
	f, err := s.read()
	if err != nil {
		return ump.TokenDay{}, err
	}
	if a := f.Apps[appID]; a != nil {
		return a.Spent[day].day(day), nil
	}
	return ump.TokenDay{Day: day}, nil
}

// ResetSpent implements ump.TokenStore.
func (s *Store) ResetSpent(ctx context.Context, appID string, day string) (ump.TokenDay, error) {
	out := ump.TokenDay{Day: day}
	err := s.update(ctx, func(f *file) (bool, error) {
		a := f.Apps[appID]
		if a == nil || a.Spent[day] == nil {
			return false, nil
		}
		out = a.Spent[day].day(day)
		delete(a.Spent, day)
		return true, nil
	})
	return out, err
}

// Pause implements ump.TokenStore.
func (s *Store) Pause(_ context.Context, appID string) (ump.TokenPause, error) {
	f, err := s.read()
	if err != nil {
		return ump.TokenPause{}, err
	}
	a := f.Apps[appID]
	if a == nil || a.Pause == nil {
		return ump.TokenPause{}, nil
	}
	p := a.Pause
	return ump.TokenPause{Until: p.Until, Failures: p.Failures, Reason: p.Reason, At: p.At, By: p.By}, nil
}

// SetPause implements ump.TokenStore.
func (s *Store) SetPause(ctx context.Context, appID string, p ump.TokenPause) error {
	return s.update(ctx, func(f *file) (bool, error) {
		a := f.app(appID)
		if p == (ump.TokenPause{}) {
			if a.Pause == nil {
				return false, nil
			}
			a.Pause = nil
			return true, nil
		}
		a.Pause = &pause{Until: p.Until, Failures: p.Failures, Reason: p.Reason, At: p.At, By: p.By}
		return true, nil
	})
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
		return nil, fmt.Errorf("%w: %s: %v; refusing to treat it as empty (that would spend the day's token obtain): restore it, or remove it and run `ump token bootstrap --yes`", ErrCorrupt, s.path, err)
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

// String describes the store for logs: "file /resolved/path".
func (s *Store) String() string { return "file " + strconv.Quote(s.path) }
