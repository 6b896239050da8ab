package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	ump "github.com/greedc/ump-go"
	"github.com/greedc/ump-go/tokenstore/redisstore"
)

// Exit codes, for scripts.
const (
	exitOK     = 0
	exitFailed = 1 // the platform answered with an error, or the command failed
	exitUsage  = 2 // bad flags, arguments or configuration: nothing was sent
)

// Environment variables the command reads.
const (
	envBaseURL   = "UMP_BASE_URL"
	envAppID     = "UMP_APP_ID"
	envAppSecret = "UMP_APP_SECRET"
	envStore     = "UMP_TOKEN_STORE"
)

// Output formats.
const (
	formatJSON  = "json"
	formatTable = "table"
)

// cli is one run of the command: its streams, environment and clock are
// fields, so tests run it in process.
type cli struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	now            func() time.Time
	// ready, if set, is told the sandbox's address once it listens.
	ready func(addr string)

	// The global flags.
	baseURL, appID, secretEnv string
	store, redisPrefix        string
	output                    string
	timeout                   time.Duration
}

// run is the whole command: it parses args, runs the subcommand and returns
// the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	a := &cli{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv, now: time.Now}
	return a.run(ctx, args)
}

func (a *cli) run(ctx context.Context, args []string) int {
	root := a.rootCommand()
	if args == nil {
		args = []string{} // cobra reads os.Args for nil
	}
	root.SetArgs(args)
	root.SetIn(a.stdin)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	return a.report(cmd, err)
}

func (a *cli) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "ump",
		Short: "Call the member open platform (格力地产会员开放平台) from a shell",
		Long: `ump calls the member open platform's gateway through the ump-go SDK: look
up members, list and change points, list coupons, inspect and bootstrap the
shared access token, check a signature, or serve a sandbox gateway.

Configuration comes from flags or the environment (flags win):
  --base-url  UMP_BASE_URL     the gateway (default ` + ump.DefaultBaseURL + `)
  --app-id    UMP_APP_ID       the app id
  --store     UMP_TOKEN_STORE  the token store your services share
  UMP_APP_SECRET               the app secret: only ever from the environment
                               (--secret-env names another variable)

Calls never obtain a token by themselves (the platform allows one a day, and a
new one retires the token your services use): they use, and refresh, the one
in the store. Fill an empty store once with "ump token bootstrap --yes".

Exit codes: 0 ok, 1 the platform answered with an error or the command failed,
2 bad flags, arguments or configuration (nothing was sent).`,
		SilenceErrors: true,
		SilenceUsage:  true,
		Args:          cobra.NoArgs,
		RunE:          groupRun,
		PersistentPreRunE: func(*cobra.Command, []string) error {
			switch a.output {
			case "", formatJSON, formatTable:
				return nil
			}
			return usagef("--output %q: want json or table", a.output)
		},
	}
	f := root.PersistentFlags()
	f.StringVar(&a.baseURL, "base-url", "", "the gateway's base URL (env "+envBaseURL+"; default "+ump.DefaultBaseURL+")")
	f.StringVar(&a.appID, "app-id", "", "the app id (env "+envAppID+")")
	f.StringVar(&a.secretEnv, "secret-env", envAppSecret, "the environment variable holding the app secret (never a flag)")
	f.StringVar(&a.store, "store", "", "token store: file:/path/tokens.json or redis://[user:password@]host:port/db (env "+envStore+")")
	f.StringVar(&a.redisPrefix, "redis-prefix", redisstore.DefaultPrefix, "key prefix of a Redis token store")
	f.DurationVar(&a.timeout, "timeout", 30*time.Second, "bound for the whole command, retries included")
	f.StringVarP(&a.output, "output", "o", "", "output format: json or table (default: table for lists, json for objects)")

	root.AddCommand(a.signCommand(), a.callCommand(), a.memberCommand(), a.scoreCommand(),
		a.couponCommand(), a.tokenCommand(), a.sandboxCommand(), a.outboxCommand())
	return root
}

// group returns a command that only holds subcommands.
func group(use, short string, subs ...*cobra.Command) *cobra.Command {
	g := &cobra.Command{Use: use, Short: short, Args: cobra.NoArgs, RunE: groupRun}
	g.AddCommand(subs...)
	return g
}

// groupRun is the run of a command called without a subcommand: its usage
// on stderr and exit 2, so that a script calling "ump member" by mistake
// does not pass.
func groupRun(cmd *cobra.Command, _ []string) error {
	fmt.Fprint(cmd.ErrOrStderr(), cmd.UsageString())
	return &usageError{}
}

// usageError is a mistake in the command line or the configuration: exit 2,
// nothing was sent. An empty message means the usage was printed already.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// failure marks an error returned by a command's own work (exit 1, unless it
// is a *ump.ValidationError). Errors cobra returns itself (unknown commands
// and flags, wrong argument counts, missing required flags) are not marked:
// they are usage errors.
type failure struct{ err error }

func (f *failure) Error() string { return f.err.Error() }
func (f *failure) Unwrap() error { return f.err }

// act wraps a command's work: it bounds it with --timeout and marks what it
// returns as the command's own.
func (a *cli) act(fn func(ctx context.Context, cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		ctx, cancel := context.WithTimeout(cmd.Context(), a.timeout)
		defer cancel()
		return mark(fn(ctx, cmd, args))
	}
}

// actWithClient is act for the commands that call the gateway: it opens the
// client session (the token store included) and closes it afterwards.
func (a *cli) actWithClient(fn func(ctx context.Context, s *session, cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return a.act(func(ctx context.Context, cmd *cobra.Command, args []string) error {
		s, err := a.client()
		if err != nil {
			return err
		}
		defer s.close()
		return fn(ctx, s, cmd, args)
	})
}

func mark(err error) error {
	var u *usageError
	if err == nil || errors.As(err, &u) {
		return err
	}
	return &failure{err: err}
}

// flagged attaches the flag names that set a request's wire fields, so that
// a *ump.ValidationError is reported in the user's terms.
type flagged struct {
	err   error
	flags map[string]string // wire field -> flag
}

func (f *flagged) Error() string { return f.err.Error() }
func (f *flagged) Unwrap() error { return f.err }

// withFlags returns err with flags attached if it is a validation error.
func withFlags(err error, flags map[string]string) error {
	var ve *ump.ValidationError
	if errors.As(err, &ve) {
		return &flagged{err: err, flags: flags}
	}
	return err
}

// report prints err to stderr and returns the exit code for it.
func (a *cli) report(cmd *cobra.Command, err error) int {
	path := "ump"
	if cmd != nil {
		path = cmd.CommandPath()
	}
	var (
		u   *usageError
		ve  *ump.ValidationError
		fl  *flagged
		api *ump.APIError
		f   *failure
	)
	switch {
	case errors.As(err, &u) && u.msg == "":
		return exitUsage
	case errors.As(err, &u):
		fmt.Fprintf(a.stderr, "%s: %s\nRun '%s --help' for usage.\n", path, u.msg, path)
		return exitUsage
	case errors.As(err, &ve):
		var flags map[string]string
		if errors.As(err, &fl) {
			flags = fl.flags
		}
		fmt.Fprintf(a.stderr, "%s: invalid request (%s):\n", path, ve.Method)
		for _, fe := range ve.Fields {
			name := fe.Field
			if flag, ok := flags[fe.Field]; ok {
				name = flag + " (" + fe.Field + ")"
			}
			fmt.Fprintf(a.stderr, "  %s: %s\n", name, fe.Reason)
		}
		return exitUsage
	case errors.As(err, &f):
		for _, e := range leaves(f.err) {
			if errors.As(e, &api) {
				fmt.Fprintln(a.stderr, apiErrorLine(api))
			} else {
				fmt.Fprintf(a.stderr, "%s: %s\n", path, strings.TrimPrefix(e.Error(), "ump: "))
			}
		}
		if hint := hintFor(err); hint != "" {
			fmt.Fprintf(a.stderr, "  %s\n", hint)
		}
		return exitFailed
	}
	// cobra's own: unknown command or flag, argument count, flag groups.
	fmt.Fprintf(a.stderr, "%s: %s\nRun '%s --help' for usage.\n", path, err, path)
	return exitUsage
}

// leaves splits errors.Join's errors (a rejected token and the failed
// renewal, say), so that each is printed in its own terms.
func leaves(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, leaves(e)...)
		}
		return out
	}
	return []error{err}
}

// apiErrorLine is the platform's verdict as operators quote it:
// "error 110003: 会员未绑定 (wk.user.info.query)".
func apiErrorLine(e *ump.APIError) string {
	s := fmt.Sprintf("error %d: %s (%s", e.Code, e.Message, e.Method)
	if e.HTTPStatus != 0 && e.HTTPStatus != http.StatusOK {
		s += fmt.Sprintf(", HTTP %d", e.HTTPStatus)
	}
	return s + ")"
}

// hintFor says what to do about the failures an operator can act on.
func hintFor(err error) string {
	var (
		unknown *ump.OutcomeUnknownError
		api     *ump.APIError
	)
	switch {
	case errors.Is(err, ump.ErrNoToken):
		return `the token store holds no usable token: run "ump token bootstrap --yes" once (it spends the day's only obtain)`
	case errors.Is(err, ump.ErrTokenBudgetExhausted):
		return `today's token calls are spent (Beijing day); "ump token show" shows the counts`
	case errors.As(err, &unknown) && unknown.Method == "wk.user.event.score.change":
		return "the change may or may not have been applied. Run the same command with --change-id " +
			strings.TrimPrefix(unknown.Key, "change_id=") + " --resolve to settle it: it is applied once"
	case errors.As(err, &unknown):
		return "the gateway may or may not have applied the call: look before you repeat it"
	case errors.Is(err, ump.ErrAlreadyExists) && errors.As(err, &api) && api.Method == "wk.user.event.score.change":
		return "the change_id was used before, and nothing moved now. If this repeats a change of unknown outcome, " +
			"add --resolve; for a new change, leave --change-id out"
	}
	return ""
}

// format returns the output format: --output, or def.
func (a *cli) format(def string) string {
	if a.output != "" {
		return a.output
	}
	return def
}

// setting returns a flag's value, or the environment variable's.
func (a *cli) setting(flag, env string) string {
	if flag = strings.TrimSpace(flag); flag != "" {
		return flag
	}
	return strings.TrimSpace(a.getenv(env))
}

func (a *cli) appIDSetting() (string, error) {
	id := a.setting(a.appID, envAppID)
	if id == "" {
		return "", usagef("no app id: set --app-id or %s", envAppID)
	}
	return id, nil
}

// secret reads the app secret from the environment variable --secret-env
// names. It is never a flag: flags show in process lists and shell history.
func (a *cli) secret() (string, error) {
	name := strings.TrimSpace(a.secretEnv)
	if name == "" {
		return "", usagef("--secret-env: empty variable name")
	}
	s := a.getenv(name)
	if strings.TrimSpace(s) == "" {
		return "", usagef("no app secret: set it in the environment variable %s (it is never a flag)", name)
	}
	return s, nil
}

func (a *cli) baseURLSetting() string {
	if b := a.setting(a.baseURL, envBaseURL); b != "" {
		return b
	}
	return ump.DefaultBaseURL
}

// session is a client of the configured app on the shared token store.
type session struct {
	*ump.Client
	close func()
}

// client builds the SDK client the API commands call through. It shares the
// token in the store and never obtains one by itself (NoAutoObtain): an
// obtain is once a day and retires the token the app's services use.
func (a *cli) client() (*session, error) {
	appID, err := a.appIDSetting()
	if err != nil {
		return nil, err
	}
	if _, err := a.secret(); err != nil {
		return nil, err
	}
	store, closeStore, err := a.openStore()
	if err != nil {
		return nil, err
	}
	return a.clientOn(appID, store, closeStore)
}

// clientOn is client on an open store; the session's close calls closeStore.
func (a *cli) clientOn(appID string, store ump.TokenStore, closeStore func()) (*session, error) {
	secret, err := a.secret()
	if err != nil {
		closeStore()
		return nil, err
	}
	budget := ump.DefaultTokenBudget
	budget.NoAutoObtain = true
	// The command's own transport, so its idle connections close with it.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	c, err := ump.NewClient(appID, secret,
		ump.WithBaseURL(a.baseURLSetting()), ump.WithTokenStore(store), ump.WithTokenBudget(budget),
		ump.WithClock(a.now), ump.WithHTTPClient(&http.Client{Transport: tr}),
		ump.WithUserAgent("ump-go-cli/"+ump.Version))
	if err != nil {
		closeStore()
		return nil, usagef("%s", strings.TrimPrefix(err.Error(), "ump: "))
	}
	return &session{Client: c, close: func() { tr.CloseIdleConnections(); closeStore() }}, nil
}
