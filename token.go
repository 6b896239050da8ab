package ump

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/greedc/ump-go/internal/redact"
	"github.com/greedc/ump-go/internal/wire"
)

// The platform's token rules (sections 2.1 and 2.2).
const (
	// ObtainsPerDay is how often a fresh token may be obtained a day.
	ObtainsPerDay = 1
	// RefreshesPerDay is how often a token may be refreshed a day.
	RefreshesPerDay = 20
	// RefreshTokenLifetime is how long a refresh token lives (one year; the
	// SDK stops trusting it a day early).
	RefreshTokenLifetime = 364 * 24 * time.Hour
)

// Token is the record of an app's credentials that a TokenStore keeps.
// Its String, GoString and LogValue methods never reveal the tokens.
type Token struct {
	AccessToken     string
	RefreshToken    string
	AccessExpiresAt time.Time
	// RefreshExpiresAt is when the refresh token stops working.
	RefreshExpiresAt time.Time
	// ObtainedAt is when the refresh token was obtained (2.1).
	ObtainedAt time.Time
	// RefreshedAt is when the access token was last refreshed (2.2).
	RefreshedAt time.Time
	// Version increases with every write; 0 means no token is stored.
	Version int64
}

// Usable reports whether the access token has not expired at now.
func (t Token) Usable(now time.Time) bool {
	return t.AccessToken != "" && now.Before(t.AccessExpiresAt)
}

// Refreshable reports whether the refresh token has not expired at now.
func (t Token) Refreshable(now time.Time) bool {
	return t.RefreshToken != "" && now.Before(t.RefreshExpiresAt)
}

// String describes the token without revealing it.
func (t Token) String() string {
	if t.Version == 0 && t.AccessToken == "" {
		return "ump.Token{none}"
	}
	return fmt.Sprintf("ump.Token{access:%s expires:%s refresh:%s refreshExpires:%s version:%d}",
		redact.Credential(t.AccessToken), t.AccessExpiresAt.Format(time.RFC3339),
		redact.Credential(t.RefreshToken), t.RefreshExpiresAt.Format(time.RFC3339), t.Version)
}

// GoString is String, so that %#v does not reveal the tokens either.
func (t Token) GoString() string { return t.String() }

// Format prints String for every verb, so that no verb (%d, %x) falls back
// to fmt's field-by-field rendering, which would reveal the tokens.
func (t Token) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, t.String()) }

// LogValue implements slog.LogValuer without revealing the tokens.
func (t Token) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Time("access_expires", t.AccessExpiresAt),
		slog.Time("refresh_expires", t.RefreshExpiresAt),
		slog.Int64("version", t.Version),
	)
}

// TokenCall is a kind of token call that the daily budget counts.
type TokenCall uint8

const (
	// TokenObtain is 2.1, obtaining a fresh token (once a day).
	TokenObtain TokenCall = iota + 1
	// TokenRefresh is 2.2, refreshing the access token (20 a day).
	TokenRefresh
)

// String returns "obtain" or "refresh".
func (k TokenCall) String() string {
	switch k {
	case TokenObtain:
		return "obtain"
	case TokenRefresh:
		return "refresh"
	}
	return "TokenCall(" + strconv.Itoa(int(k)) + ")"
}

// Errors a TokenStore returns, and the SDK's own about token calls.
var (
	// ErrTokenConflict: CompareAndSwap found another version stored.
	ErrTokenConflict = errors.New("ump: token record changed concurrently")
	// ErrLeaseHeld: another holder has the renewal lease.
	ErrLeaseHeld = errors.New("ump: token renewal lease held elsewhere")
	// ErrTokenCallsPaused means the SDK made no token call because one
	// failed a short while ago, in this process or another sharing the
	// store: the whole fleet waits (TokenPause) so that failures cannot
	// turn into a storm that spends the day's budget.
	ErrTokenCallsPaused = errors.New("ump: token calls paused after a failed one")
)

// TokenSpend is one token call the daily budget counted.
type TokenSpend struct {
	Kind TokenCall
	// Day is the Beijing date counted on ("2006-01-02", see BeijingDay).
	Day string
	// Nonce is unique to the call: a Spend repeated with the same nonce
	// counts once, and GiveBack finds the spend by it. Empty for counts a
	// store kept without details.
	Nonce string
	// At is when the call was counted, and By who counted it (host/pid).
	At time.Time
	By string
}

// TokenDay is what a Beijing day's token budget has spent.
type TokenDay struct {
	Day string
	// Spends lists the counted calls, oldest first.
	Spends []TokenSpend
}

// Count returns how many calls of kind the day counted.
func (d TokenDay) Count(kind TokenCall) int {
	n := 0
	for _, sp := range d.Spends {
		if sp.Kind == kind {
			n++
		}
	}
	return n
}

// Last returns the latest counted call of kind, if any.
func (d TokenDay) Last(kind TokenCall) (TokenSpend, bool) {
	for i := len(d.Spends) - 1; i >= 0; i-- {
		if d.Spends[i].Kind == kind {
			return d.Spends[i], true
		}
	}
	return TokenSpend{}, false
}

// Has reports whether the day counted the call with nonce.
func (d TokenDay) Has(nonce string) bool {
	for _, sp := range d.Spends {
		if nonce != "" && sp.Nonce == nonce {
			return true
		}
	}
	return false
}

// TokenPause is the fleet-wide wait after a failed token call: no process
// sharing the store makes a token call before Until.
type TokenPause struct {
	// Until is when token calls may be made again.
	Until time.Time
	// Failures counts the failed token calls in a row; the wait doubles
	// with each (about a minute, up to an hour).
	Failures int
	// Reason is the last failure's error text (it never holds a secret).
	Reason string
	// At is when the last failure happened, and By where (host/pid).
	At time.Time
	By string
}

// Active reports whether the pause still holds at now.
func (p TokenPause) Active(now time.Time) bool { return now.Before(p.Until) }

// TokenStore keeps one token record per app id, the day's token calls, the
// fleet-wide pause after a failed token call, and a lease that lets one
// process in a fleet renew at a time. Implementations must be safe for
// concurrent use, and every method must be safe to run twice (a store
// client that resends a command after a timeout must not count a call
// twice or report its own write as a conflict). The memory store is the
// default; packages tokenstore/filestore and tokenstore/redisstore share
// the record across restarts and processes, and tokenstore/storetest checks
// an implementation in one call.
type TokenStore interface {
	// String describes the store for logs and operators: its kind and
	// where it keeps the record (a file path, a key prefix), never a
	// password.
	String() string
	// Load returns the stored record, or a zero Token (Version 0) if none.
	Load(ctx context.Context, appID string) (Token, error)
	// CompareAndSwap stores t if the stored version is still oldVersion
	// (0: nothing stored) and returns t with its new version; otherwise it
	// returns ErrTokenConflict and stores nothing. A swap that finds t
	// itself stored at oldVersion+1 (its own write, resent) succeeds.
	CompareAndSwap(ctx context.Context, appID string, oldVersion int64, t Token) (Token, error)
	// Forget removes the stored record and returns it (zero if none). The
	// next token costs an obtain; operators use it through `ump token
	// forget`.
	Forget(ctx context.Context, appID string) (Token, error)
	// Spend counts sp on sp.Day if fewer than limit calls of sp.Kind are
	// counted there, and reports whether sp is counted. A spend whose
	// Nonce is counted already is not counted again and reports true. It
	// returns the day as it stands after the call. The SDK spends before
	// it calls, so a crash never undercounts.
	Spend(ctx context.Context, appID string, sp TokenSpend, limit int) (TokenDay, bool, error)
	// GiveBack removes the spend with sp.Nonce from sp.Day, if it is
	// counted: the call it paid for was refused and issued nothing.
	GiveBack(ctx context.Context, appID string, sp TokenSpend) error
	// Spent returns day's record without changing it.
	Spent(ctx context.Context, appID string, day string) (TokenDay, error)
	// ResetSpent clears day's record and returns what it held; operators
	// use it through `ump token reset-budget`.
	ResetSpent(ctx context.Context, appID string, day string) (TokenDay, error)
	// Pause returns the fleet-wide pause (zero if none was set).
	Pause(ctx context.Context, appID string) (TokenPause, error)
	// SetPause stores p; a zero TokenPause clears it.
	SetPause(ctx context.Context, appID string, p TokenPause) error
	// Lease takes the renewal lease for ttl, or returns ErrLeaseHeld. The
	// returned release gives it up only if it is still this holder's.
	Lease(ctx context.Context, appID string, ttl time.Duration) (release func(context.Context) error, err error)
}

// TokenBudget is the daily allowance of token calls the SDK allows itself.
type TokenBudget struct {
	// ObtainsPerDay caps obtains (2.1); the platform allows 1.
	ObtainsPerDay int
	// RefreshesPerDay caps refreshes (2.2); the platform allows 20.
	RefreshesPerDay int
	// RefreshHeadroom is kept back from proactive refreshes (those made
	// while the token still works) for renewing an expired or rejected one.
	RefreshHeadroom int
	// NoAutoObtain stops the SDK from obtaining a token by itself when no
	// usable refresh token exists; run Auth.Obtain from an operator's tool.
	NoAutoObtain bool
}

// DefaultTokenBudget follows the platform's limits and keeps 4 refreshes of
// headroom.
var DefaultTokenBudget = TokenBudget{ObtainsPerDay: ObtainsPerDay, RefreshesPerDay: RefreshesPerDay, RefreshHeadroom: 4}

func (b TokenBudget) validate() error {
	switch {
	case b.ObtainsPerDay < 0 || b.ObtainsPerDay > ObtainsPerDay:
		return fmt.Errorf("ump: TokenBudget.ObtainsPerDay %d is outside 0..%d", b.ObtainsPerDay, ObtainsPerDay)
	case b.RefreshesPerDay < 0 || b.RefreshesPerDay > RefreshesPerDay:
		return fmt.Errorf("ump: TokenBudget.RefreshesPerDay %d is outside 0..%d", b.RefreshesPerDay, RefreshesPerDay)
	case b.RefreshHeadroom < 0 || b.RefreshHeadroom > b.RefreshesPerDay:
		return fmt.Errorf("ump: TokenBudget.RefreshHeadroom %d is outside 0..RefreshesPerDay", b.RefreshHeadroom)
	}
	return nil
}

// BeijingDay returns the Beijing calendar date of t, the key of the daily
// token budget.
func BeijingDay(t time.Time) string { return t.In(wire.Beijing).Format(wire.DateLayout) }

// beijingClock writes t for an operator: "09:01:02 +08".
func beijingClock(t time.Time) string { return t.In(wire.Beijing).Format("15:04:05 -07") }

// budgetExhausted is the error of a spend the day refused, saying what spent
// the budget and when.
func budgetExhausted(d TokenDay, kind TokenCall, limit int) error {
	n := d.Count(kind)
	var b strings.Builder
	fmt.Fprintf(&b, "%d of %d %s calls spent on %s", n, limit, kind, d.Day)
	if last, ok := d.Last(kind); ok && !last.At.IsZero() {
		if n > 1 {
			b.WriteString(", the last")
		}
		fmt.Fprintf(&b, " at %s by %s", beijingClock(last.At), cmpOr(last.By, "an unnamed process"))
	}
	return fmt.Errorf("%w: %s", ErrTokenBudgetExhausted, b.String())
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// LeaseID returns a random id, for lease holders and spend nonces.
func LeaseID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// processName names this process in spends and pauses: "host/pid".
func processName() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown-host"
	}
	return host + "/" + strconv.Itoa(os.Getpid())
}

// MemoryTokenStore is a TokenStore that lives as long as the process: the
// default. A restart forgets the token, so services that restart or run in
// several processes should use a shared store.
type MemoryTokenStore struct {
	mu     sync.Mutex
	tokens map[string]Token
	days   map[dayKey][]TokenSpend
	pauses map[string]TokenPause
	leases map[string]memoryLease
}

type dayKey struct{ appID, day string }

type memoryLease struct {
	id      string
	expires time.Time
}

var _ TokenStore = (*MemoryTokenStore)(nil)

// NewMemoryTokenStore returns an empty in-memory store.
func NewMemoryTokenStore() *MemoryTokenStore {
	return &MemoryTokenStore{tokens: map[string]Token{}, days: map[dayKey][]TokenSpend{},
		pauses: map[string]TokenPause{}, leases: map[string]memoryLease{}}
}

// String describes the store: "memory (this process only)".
func (m *MemoryTokenStore) String() string { return "memory (this process only)" }

// Load implements TokenStore.
func (m *MemoryTokenStore) Load(_ context.Context, appID string) (Token, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.tokens[appID], nil
}

// CompareAndSwap implements TokenStore.
func (m *MemoryTokenStore) CompareAndSwap(_ context.Context, appID string, oldVersion int64, t Token) (Token, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t.Version = oldVersion + 1
	cur := m.tokens[appID]
	if cur == t {
		return t, nil // this very write, repeated
	}
	if cur.Version != oldVersion {
		return Token{}, ErrTokenConflict
	}
	m.tokens[appID] = t
	return t, nil
}

// Forget implements TokenStore.
func (m *MemoryTokenStore) Forget(_ context.Context, appID string) (Token, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.tokens[appID]
	delete(m.tokens, appID)
	return t, nil
}

// Spend implements TokenStore.
func (m *MemoryTokenStore) Spend(_ context.Context, appID string, sp TokenSpend, limit int) (TokenDay, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := dayKey{appID, sp.Day}
	d := TokenDay{Day: sp.Day, Spends: m.days[k]}
	if d.Has(sp.Nonce) {
		return m.dayLocked(k), true, nil
	}
	if d.Count(sp.Kind) >= limit {
		return m.dayLocked(k), false, nil
	}
	m.days[k] = append(m.days[k], sp)
	return m.dayLocked(k), true, nil
}

// dayLocked copies a day's record; the caller holds mu.
func (m *MemoryTokenStore) dayLocked(k dayKey) TokenDay {
	return TokenDay{Day: k.day, Spends: append([]TokenSpend(nil), m.days[k]...)}
}

// GiveBack implements TokenStore.
func (m *MemoryTokenStore) GiveBack(_ context.Context, appID string, sp TokenSpend) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := dayKey{appID, sp.Day}
	for i, s := range m.days[k] {
		if sp.Nonce != "" && s.Nonce == sp.Nonce {
			m.days[k] = append(m.days[k][:i:i], m.days[k][i+1:]...)
			break
		}
	}
	return nil
}

// Spent implements TokenStore.
func (m *MemoryTokenStore) Spent(_ context.Context, appID string, day string) (TokenDay, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.dayLocked(dayKey{appID, day}), nil
}

// ResetSpent implements TokenStore.
func (m *MemoryTokenStore) ResetSpent(_ context.Context, appID string, day string) (TokenDay, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := dayKey{appID, day}
	d := m.dayLocked(k)
	delete(m.days, k)
	return d, nil
}

// Pause implements TokenStore.
func (m *MemoryTokenStore) Pause(_ context.Context, appID string) (TokenPause, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.pauses[appID], nil
}

// SetPause implements TokenStore.
func (m *MemoryTokenStore) SetPause(_ context.Context, appID string, p TokenPause) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if p == (TokenPause{}) {
		delete(m.pauses, appID)
	} else {
		m.pauses[appID] = p
	}
	return nil
}

// Lease implements TokenStore.
func (m *MemoryTokenStore) Lease(_ context.Context, appID string, ttl time.Duration) (func(context.Context) error, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if l, ok := m.leases[appID]; ok && time.Now().Before(l.expires) {
		return nil, ErrLeaseHeld
	}
	id := LeaseID()
	m.leases[appID] = memoryLease{id: id, expires: time.Now().Add(ttl)}
	return func(context.Context) error {
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.leases[appID].id == id {
			delete(m.leases, appID)
		}
		return nil
	}, nil
}
