package filestore_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	ump "github.com/greedc/ump-go"
	"github.com/greedc/ump-go/tokenstore/filestore"
	"github.com/greedc/ump-go/tokenstore/internal/fleettest"
	"github.com/greedc/ump-go/tokenstore/storetest"
	"github.com/greedc/ump-go/umptest"
)

// appID is the app of every test: the one umptest serves.
const appID = umptest.DefaultAppID

func newStore(t *testing.T, path string, opts ...filestore.Option) *filestore.Store {
	t.Helper()
	s, err := filestore.New(path, opts...)
	require.NoError(t, err)
	return s
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) ump.TokenStore {
		return newStore(t, filepath.Join(t.TempDir(), "tokens.json"))
	})
}

// TestContractTwoInstances runs the contract with every call alternating
// between two Stores on one file, as two processes would share it: only the
// OS lock keeps them apart.
func TestContractTwoInstances(t *testing.T) {
	storetest.Run(t, func(t *testing.T) ump.TokenStore {
		p := filepath.Join(t.TempDir(), "tokens.json")
		return &alternating{stores: [2]ump.TokenStore{newStore(t, p), newStore(t, p)}}
	})
}

type alternating struct {
	mu     sync.Mutex
	n      int
	stores [2]ump.TokenStore
}

func (a *alternating) next() ump.TokenStore {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.n++
	return a.stores[a.n%2]
}

func (a *alternating) Load(ctx context.Context, app string) (ump.Token, error) {
	return a.next().Load(ctx, app)
}

func (a *alternating) CompareAndSwap(ctx context.Context, app string, old int64, t ump.Token) (ump.Token, error) {
	return a.next().CompareAndSwap(ctx, app, old, t)
}

func (a *alternating) Spend(ctx context.Context, app string, sp ump.TokenSpend, limit int) (ump.TokenDay, bool, error) {
	return a.next().Spend(ctx, app, sp, limit)
}

func (a *alternating) GiveBack(ctx context.Context, app string, sp ump.TokenSpend) error {
	return a.next().GiveBack(ctx, app, sp)
}

func (a *alternating) Spent(ctx context.Context, app, day string) (ump.TokenDay, error) {
	return a.next().Spent(ctx, app, day)
}

func (a *alternating) ResetSpent(ctx context.Context, app, day string) (ump.TokenDay, error) {
	return a.next().ResetSpent(ctx, app, day)
}

func (a *alternating) Forget(ctx context.Context, app string) (ump.Token, error) {
	return a.next().Forget(ctx, app)
}

func (a *alternating) Pause(ctx context.Context, app string) (ump.TokenPause, error) {
	return a.next().Pause(ctx, app)
}

func (a *alternating) SetPause(ctx context.Context, app string, p ump.TokenPause) error {
	return a.next().SetPause(ctx, app, p)
}

func (a *alternating) String() string { return a.stores[0].String() }

func (a *alternating) Lease(ctx context.Context, app string, ttl time.Duration) (func(context.Context) error, error) {
	return a.next().Lease(ctx, app, ttl)
}

// spendOf is a spend of kind on day with a fresh nonce.
func spendOf(kind ump.TokenCall, day string) ump.TokenSpend {
	return ump.TokenSpend{Kind: kind, Day: day, Nonce: ump.LeaseID(), At: time.Now(), By: "test/1"}
}

func seedToken(suffix string) ump.Token {
	now := time.Now()
	return ump.Token{
		AccessToken: "at-secret-" + suffix, RefreshToken: "rt-secret-" + suffix,
		AccessExpiresAt: now.Add(2 * time.Hour), RefreshExpiresAt: now.Add(300 * 24 * time.Hour),
		ObtainedAt: now,
	}
}

func TestFileIsPrivateAndReadable(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state") // created by New
	p := filepath.Join(dir, "tokens.json")
	s := newStore(t, p)
	_, err := os.Stat(p)
	require.ErrorIs(t, err, os.ErrNotExist, "New alone writes nothing")
	_, err = s.CompareAndSwap(ctx(t), appID, 0, seedToken("a"))
	require.NoError(t, err)
	for _, f := range []string{p, p + ".lock"} {
		fi, err := os.Stat(f)
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), f)
	}
	fi, err := os.Stat(dir)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o700), fi.Mode().Perm())

	// Operators read the file (ump token show); its layout is documented.
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	require.Contains(t, string(b), `"format": 1`)
	require.Contains(t, string(b), `"version": 1`)
	require.Contains(t, string(b), `"access_token": "at-secret-a"`)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 2, "only the file and its lock: no temporary file left")
}

func TestKeepsOnlyRecentDays(t *testing.T) {
	s := newStore(t, filepath.Join(t.TempDir(), "tokens.json"), filestore.WithDaysKept(3))
	days := []string{"2025-01-05", "2025-01-01", "2025-01-03", "2025-01-02", "2025-01-04"}
	for _, d := range days {
		_, ok, err := s.Spend(ctx(t), appID, spendOf(ump.TokenRefresh, d), 20)
		require.NoError(t, err)
		require.True(t, ok)
	}
	for _, c := range []struct {
		day  string
		kept bool
	}{{"2025-01-01", false}, {"2025-01-02", false}, {"2025-01-03", true}, {"2025-01-04", true}, {"2025-01-05", true}} {
		d, err := s.Spent(ctx(t), appID, c.day)
		require.NoError(t, err)
		require.Equal(t, c.kept, d.Count(ump.TokenRefresh) == 1, c.day)
	}
	_, err := filestore.New(filepath.Join(t.TempDir(), "x.json"), filestore.WithDaysKept(1))
	require.Error(t, err)
}

// corruptions are files a store must refuse to read.
var corruptions = map[string]string{
	"garbage":        "this is not json at-secret-a",
	"empty":          "",
	"truncated":      `{"format": 1, "apps": {"wkb1ag2hdad7e6jw1r": {"version": 3, "token": {"access_token": "at-secret-a`,
	"wrong format":   `{"format": 2, "apps": {}}`,
	"no format":      `{"apps": {}}`,
	"unknown field":  `{"format": 1, "apps": {}, "tokens": {}}`,
	"token, no ver":  `{"format": 1, "apps": {"a": {"token": {"access_token": "at-secret-a", "refresh_token": "r"}}}}`,
	"ver, no token":  `{"format": 1, "apps": {"a": {"version": 4}}}`,
	"blank token":    `{"format": 1, "apps": {"a": {"version": 4, "token": {"access_token": ""}}}}`,
	"wrong type":     `{"format": 1, "apps": {"a": {"version": "at-secret-a"}}}`,
	"trailing data":  `{"format": 1, "apps": {}} {"format": 1}`,
	"null app entry": `{"format": 1, "apps": {"a": null}}`,
}

func TestCorruptedFileIsAnError(t *testing.T) {
	for name, content := range corruptions {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "tokens.json")
			require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
			_, err := filestore.New(p)
			require.ErrorIs(t, err, filestore.ErrCorrupt)
			require.NotContains(t, err.Error(), "at-secret", "the error quotes the file")
			require.Contains(t, err.Error(), p)
		})
	}
}

// TestCorruptedLaterRefusesEverything: a file damaged while the store is
// open is neither read as empty nor overwritten.
func TestCorruptedLaterRefusesEverything(t *testing.T) {
	p := filepath.Join(t.TempDir(), "tokens.json")
	s := newStore(t, p)
	_, err := s.CompareAndSwap(ctx(t), appID, 0, seedToken("a"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(p, []byte(corruptions["truncated"]), 0o600))

	_, err = s.Load(ctx(t), appID)
	require.ErrorIs(t, err, filestore.ErrCorrupt)
	_, err = s.Spent(ctx(t), appID, "2025-01-01")
	require.ErrorIs(t, err, filestore.ErrCorrupt)
	_, err = s.CompareAndSwap(ctx(t), appID, 0, seedToken("b"))
	require.ErrorIs(t, err, filestore.ErrCorrupt)
	_, _, err = s.Spend(ctx(t), appID, spendOf(ump.TokenObtain, "2025-01-01"), 1)
	require.ErrorIs(t, err, filestore.ErrCorrupt)
	_, err = s.Lease(ctx(t), appID, time.Second)
	require.ErrorIs(t, err, filestore.ErrCorrupt)
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	require.Equal(t, corruptions["truncated"], string(b), "the damaged file was overwritten")
}

// TestCorruptedFileMakesNoObtain: the SDK reports the damage and spends
// nothing, rather than taking the file as empty and obtaining a token.
func TestCorruptedFileMakesNoObtain(t *testing.T) {
	g := fleettest.Gateway(t, nil)
	p := filepath.Join(t.TempDir(), "tokens.json")
	s := newStore(t, p)
	require.NoError(t, os.WriteFile(p, []byte(corruptions["garbage"]), 0o600))
	c := fleettest.Client(g, s)
	_, err := c.Auth.AccessToken(ctx(t))
	require.ErrorIs(t, err, filestore.ErrCorrupt)
	st := g.Stats()
	require.Zero(t, st.TokenObtains)
	require.Zero(t, st.TokenRefreshes)
}

// TestCrashBetweenWriteAndRename: a writer that died after writing its
// temporary file but before renaming it leaves the old file in force; the
// next store removes the stray and the SDK uses the old token.
func TestCrashBetweenWriteAndRename(t *testing.T) {
	g := fleettest.Gateway(t, nil)
	dir := t.TempDir()
	p := filepath.Join(dir, "tokens.json")

	first := fleettest.Client(g, newStore(t, p))
	tok, err := first.Auth.AccessToken(ctx(t))
	require.NoError(t, err)

	// The crashed writer: a complete newer document, and a torn one.
	stray := p + ".tmp-1234567"
	require.NoError(t, os.WriteFile(stray, []byte(`{"format": 1, "apps": {}}`), 0o600))
	torn := p + ".tmp-7654321"
	require.NoError(t, os.WriteFile(torn, []byte(`{"format": 1, "ap`), 0o600))

	s := newStore(t, p)
	for _, f := range []string{stray, torn} {
		_, err = os.Stat(f)
		require.ErrorIs(t, err, os.ErrNotExist, "stray temporary file %s left", f)
	}
	restarted := fleettest.Client(g, s)
	fleettest.RequireServes(t, g, restarted, tok)
	st := g.Stats()
	require.Equal(t, 1, st.TokenObtains)
	require.Zero(t, st.TokenRefreshes)
}

// TestTwoClientsObtainOnce: two clients (as two processes would) with their
// own Store on one file, many goroutines each, start cold: one obtain.
func TestTwoClientsObtainOnce(t *testing.T) {
	g := fleettest.Gateway(t, nil)
	p := filepath.Join(t.TempDir(), "tokens.json")
	tok := fleettest.RequireOneObtain(t, g, fleettest.Client(g, newStore(t, p)), fleettest.Client(g, newStore(t, p)))

	// A restart reads the file: no token call at all.
	fleettest.RequireServes(t, g, fleettest.Client(g, newStore(t, p)), tok)
	require.Equal(t, 1, g.Stats().TokenObtains)
}

// helperEnv makes the test binary act as one fleet process.
const helperEnv = "UMP_FILESTORE_HELPER"

// TestHelperProcess is the body of the processes TestProcessesObtainOnce
// starts; run directly it does nothing.
func TestHelperProcess(t *testing.T) {
	if os.Getenv(helperEnv) != "1" {
		t.Skip("helper process for TestProcessesObtainOnce")
	}
	s, err := filestore.New(os.Getenv("UMP_TOKEN_FILE"))
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(2)
	}
	c, err := ump.NewClient(appID, umptest.DefaultAppSecret, ump.WithBaseURL(os.Getenv("UMP_GATEWAY")), ump.WithTokenStore(s))
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	fleettest.PrintTokens(ctx, 10, c.Auth.AccessToken)
	os.Exit(0)
}

// TestProcessesObtainOnce starts several OS processes on one file against
// one gateway, all cold: exactly one obtain in total.
func TestProcessesObtainOnce(t *testing.T) {
	p := filepath.Join(t.TempDir(), "tokens.json")
	runProcesses(t, p, p, p)
}

// TestSymlinkAndTargetShareOneFile: one process is given a symbolic link to
// the token file (not yet created), another the target itself. Both lock
// and replace the same file: one lease at a time, one obtain.
func TestSymlinkAndTargetShareOneFile(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "real", "tokens.json")
	require.NoError(t, os.MkdirAll(filepath.Dir(target), 0o700))
	link := filepath.Join(dir, "tokens-link.json")
	require.NoError(t, os.Symlink(target, link))
	linkedDir := filepath.Join(dir, "state")
	require.NoError(t, os.Symlink(filepath.Join(dir, "real"), linkedDir))

	viaLink, viaTarget, viaDir := newStore(t, link), newStore(t, target), newStore(t, filepath.Join(linkedDir, "tokens.json"))
	require.Equal(t, viaTarget.Path(), viaLink.Path())
	require.Equal(t, viaTarget.Path(), viaDir.Path())
	require.Contains(t, viaLink.String(), viaTarget.Path(), "the store names the file it really uses")
	release, err := viaLink.Lease(ctx(t), appID, time.Minute)
	require.NoError(t, err)
	_, err = viaTarget.Lease(ctx(t), appID, time.Minute)
	require.ErrorIs(t, err, ump.ErrLeaseHeld, "the link and its target are one lease")
	require.NoError(t, release(ctx(t)))

	runProcesses(t, target, link, link)
	fi, err := os.Lstat(link)
	require.NoError(t, err)
	require.NotZero(t, fi.Mode()&os.ModeSymlink, "the link is still a link: the file was replaced behind it")
}

// TestExposedFileRefused: a token file that group or others may read, or a
// directory others may write, is refused, never silently used.
func TestExposedFileRefused(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "tokens.json")
	s := newStore(t, p)
	_, err := s.CompareAndSwap(ctx(t), appID, 0, seedToken("a"))
	require.NoError(t, err)
	require.NoError(t, os.Chmod(p, 0o644))
	_, err = filestore.New(p)
	require.ErrorIs(t, err, filestore.ErrExposed)
	require.Contains(t, err.Error(), "chmod 600")
	require.NotContains(t, err.Error(), "at-secret")
	require.NoError(t, os.Chmod(p, 0o600))

	open := filepath.Join(dir, "open")
	require.NoError(t, os.Mkdir(open, 0o700))
	require.NoError(t, os.Chmod(open, 0o777))
	_, err = filestore.New(filepath.Join(open, "tokens.json"))
	require.ErrorIs(t, err, filestore.ErrExposed)
	require.Contains(t, err.Error(), "chmod 700")
	require.NoError(t, os.Chmod(open, 0o777|os.ModeSticky))
	_, err = filestore.New(filepath.Join(open, "tokens.json"))
	require.NoError(t, err, "a sticky directory (such as /tmp) lets nobody replace another's file")
}

// runProcesses starts one OS process per path, each with its own store on
// that path, all cold against one gateway, and requires exactly one obtain
// and one token among them.
func runProcesses(t *testing.T, paths ...string) {
	t.Helper()
	g := fleettest.Gateway(t, nil)
	cctx := ctx(t)
	outs := make([]bytes.Buffer, len(paths))
	cmds := make([]*exec.Cmd, len(paths))
	for i, p := range paths {
		cmd := exec.CommandContext(cctx, os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), helperEnv+"=1", "UMP_TOKEN_FILE="+p, "UMP_GATEWAY="+g.URL)
		cmd.Stdout, cmd.Stderr = &outs[i], &outs[i]
		require.NoError(t, cmd.Start())
		cmds[i] = cmd
	}
	var seen []string
	for i, cmd := range cmds {
		err := cmd.Wait()
		require.NoError(t, err, "process %d: %s", i, outs[i].String())
		sc := bufio.NewScanner(&outs[i])
		for sc.Scan() {
			line := sc.Text()
			require.False(t, strings.HasPrefix(line, "error:"), "process %d: %s", i, line)
			if tok, ok := strings.CutPrefix(line, "token: "); ok {
				seen = append(seen, tok)
			}
		}
	}
	require.Len(t, seen, len(paths)*10)
	for _, tok := range seen {
		require.Equal(t, seen[0], tok, "two processes hold different tokens")
	}
	st := g.Stats()
	require.Equal(t, 1, st.TokenObtains, "the fleet obtained more than once")
	require.Zero(t, st.TokenRefreshes)
	// The file holds the fleet's token, and the gateway accepts it.
	fleettest.RequireServes(t, g, fleettest.Client(g, newStore(t, paths[0])), seen[0])
}
