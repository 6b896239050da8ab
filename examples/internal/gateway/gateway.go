// Package gateway builds the client the examples use: for a real gateway
// when UMP_BASE_URL, UMP_APP_ID and UMP_APP_SECRET are set, otherwise for an
// in-process umptest gateway, so that every example runs with no settings.
//
// Against a real gateway the token is kept in a file (UMP_TOKEN_FILE, by
// default tokens.json under the user's cache directory, in ump-go/), so
// that running the examples again on the same day reuses it instead of
// spending the day's one token obtain. `go run ./cmd/ump token show --store
// file:PATH --app-id APPID` shows it, redacted.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	ump "github.com/greedc/ump-go"
	"github.com/greedc/ump-go/tokenstore/filestore"
	"github.com/greedc/ump-go/umptest"
)

// The environment variables the examples read.
const (
	EnvBaseURL   = "UMP_BASE_URL"
	EnvAppID     = "UMP_APP_ID"
	EnvAppSecret = "UMP_APP_SECRET"
	EnvTokenFile = "UMP_TOKEN_FILE"
	// EnvPhone names the member phone numbers (comma-separated) an example
	// uses against a real gateway; the in-process gateway invents its own.
	EnvPhone = "UMP_PHONE"
)

// Gateway is a client and, in-process, the gateway it talks to.
type Gateway struct {
	Client *ump.Client
	// Sandbox is the in-process gateway; nil when Client talks to a real one.
	Sandbox *umptest.Server
	// Mode says in one line which gateway this is, without secrets.
	Mode string
	// Phones are the numbers from UMP_PHONE (real gateway only).
	Phones []string
}

// Open connects as the environment says (getenv is os.Getenv outside
// tests). Setting only some of the three gateway variables is an error
// naming the missing ones, rather than a silent fall back to the sandbox.
func Open(getenv func(string) string, opts ...ump.Option) (*Gateway, error) {
	base, appID, secret := getenv(EnvBaseURL), getenv(EnvAppID), getenv(EnvAppSecret)
	if base == "" && appID == "" && secret == "" {
		srv := umptest.NewServer()
		return &Gateway{
			Client:  srv.Client(opts...),
			Sandbox: srv,
			Mode:    "in-process test gateway (umptest); set " + EnvBaseURL + ", " + EnvAppID + " and " + EnvAppSecret + " for a real one",
		}, nil
	}
	var missing []string
	for _, kv := range [...][2]string{{EnvBaseURL, base}, {EnvAppID, appID}, {EnvAppSecret, secret}} {
		if kv[1] == "" {
			missing = append(missing, kv[0])
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("set all of %s, %s and %s (or none, for the in-process gateway); missing: %s",
			EnvBaseURL, EnvAppID, EnvAppSecret, strings.Join(missing, ", "))
	}

	path := getenv(EnvTokenFile)
	if path == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			return nil, fmt.Errorf("no cache directory for the token file (set %s): %w", EnvTokenFile, err)
		}
		path = filepath.Join(dir, "ump-go", "tokens.json")
	}
	store, err := filestore.New(path)
	if err != nil {
		return nil, err
	}
	c, err := ump.NewClient(appID, secret, append([]ump.Option{ump.WithBaseURL(base), ump.WithTokenStore(store)}, opts...)...)
	if err != nil {
		return nil, err
	}
	var phones []string
	for _, p := range strings.Split(getenv(EnvPhone), ",") {
		if p = strings.TrimSpace(p); p != "" {
			phones = append(phones, p)
		}
	}
	return &Gateway{
		Client: c,
		Mode:   fmt.Sprintf("gateway %s, app %s, token file %s", base, appID, store.Path()),
		Phones: phones,
	}, nil
}

// ErrNoPhone is returned by RequirePhones.
var ErrNoPhone = errors.New("set " + EnvPhone + " to the phone number of a member you own: the example acts on that member")

// RequirePhones returns ErrNoPhone against a real gateway without UMP_PHONE.
func (g *Gateway) RequirePhones() error {
	if g.Sandbox == nil && len(g.Phones) == 0 {
		return ErrNoPhone
	}
	return nil
}

// Close stops the in-process gateway, if any.
func (g *Gateway) Close() {
	if g.Sandbox != nil {
		g.Sandbox.Close()
	}
}

// Setup is how every example starts: it opens the gateway the environment
// names and, for a real one, requires UMP_PHONE. On a bad setting it reports
// to stderr under the example's name and returns a nil Gateway and exit
// code 2; otherwise the caller closes the Gateway.
func Setup(name string, getenv func(string) string, stderr io.Writer) (*Gateway, int) {
	gw, err := Open(getenv)
	if err == nil {
		if err = gw.RequirePhones(); err != nil {
			gw.Close()
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, name+":", err)
		return nil, 2
	}
	return gw, 0
}

// Main runs an example under a deadline and exits with its code.
func Main(timeout time.Duration, run func(ctx context.Context) int) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	code := run(ctx)
	cancel()
	os.Exit(code)
}
