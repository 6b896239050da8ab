package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/greedc/ump-go/internal/redact"
	"github.com/greedc/ump-go/internal/wire"
	"github.com/greedc/ump-go/outbox"
	"github.com/greedc/ump-go/outbox/boltstore"
	"github.com/greedc/ump-go/outbox/redisstore"
)

// envOutboxStore names the outbox store when --store is not given.
const envOutboxStore = "UMP_OUTBOX_STORE"

// outboxFlags are the flags every outbox command shares.
type outboxFlags struct {
	spec     string // --store
	name     string // --name, of a Redis store
	consumer string // --consumer, of a Redis store
}

func (a *cli) outboxCommand() *cobra.Command {
	var f outboxFlags
	g := group("outbox", "Inspect and drain a store-and-forward outbox (package outbox)",
		a.outboxStatusCommand(&f), a.outboxListCommand(&f, false), a.outboxListCommand(&f, true),
		a.outboxRetryCommand(&f), a.outboxDropCommand(&f), a.outboxDrainCommand(&f),
		a.outboxExportCommand(&f), a.outboxImportCommand(&f))
	g.Long = `The outbox keeps the sales, returns and score changes a till records,
offline or not, and delivers each exactly once (package outbox).

--store names it (env ` + envOutboxStore + `): bolt:/path/to/outbox.db (the file a
till's own process writes; close that process first, a file has one writer at a
time) or redis://host:port/db (shared by a fleet of drainers). Here --store is
the outbox's; the token store that drain and retry need comes from
--token-store or UMP_TOKEN_STORE.`
	p := g.PersistentFlags()
	p.StringVar(&f.spec, "store", "", "the outbox: bolt:/path or redis://[user:password@]host:port/db (env "+envOutboxStore+")")
	p.StringVar(&f.name, "name", redisstore.DefaultName, "name of a Redis outbox")
	p.StringVar(&f.consumer, "consumer", "", "this drainer's consumer name in a Redis outbox (default hostname-pid)")
	p.StringVar(&a.store, "token-store", "", "token store for drain and retry: file:/path or redis://host:port/db (env "+envStore+")")
	return g
}

// openOutbox opens the store f names; readOnly opens a bbolt file for
// reading only.
func (a *cli) openOutbox(ctx context.Context, f *outboxFlags, readOnly bool) (outbox.Store, error) {
	spec := a.setting(f.spec, envOutboxStore)
	if path, ok := strings.CutPrefix(spec, "bolt:"); ok {
		if path == "" {
			return nil, usagef("--store %q: no path", spec)
		}
		if readOnly {
			if _, err := os.Stat(path); err != nil {
				return nil, fmt.Errorf("outbox %s: %w", path, err)
			}
			return boltstore.Open(path, boltstore.ReadOnly())
		}
		return boltstore.Open(path)
	}
	if strings.HasPrefix(spec, "redis://") || strings.HasPrefix(spec, "rediss://") {
		opt, err := redis.ParseURL(spec)
		if err != nil {
			return nil, usagef("--store: not a usable redis:// URL") // the error may quote the password
		}
		rdb := redis.NewClient(opt)
		opts := []redisstore.Option{redisstore.WithName(f.name)}
		if f.consumer != "" {
			opts = append(opts, redisstore.WithConsumer(f.consumer))
		}
		s, err := redisstore.Open(ctx, rdb, opts...)
		if err != nil {
			_ = rdb.Close()
			return nil, err
		}
		return &closingStore{Store: s, close: rdb.Close}, nil
	}
	if spec == "" {
		return nil, usagef("no outbox: set --store or %s (bolt:/path or redis://host:port/db)", envOutboxStore)
	}
	return nil, usagef("--store %q: want bolt:/path or redis://host:port/db", redact.Text(spec))
}

// closingStore closes the Redis client with the store.
type closingStore struct {
	outbox.Store
	close func() error
}

func (s *closingStore) Close() error { return errors.Join(s.Store.Close(), s.close()) }

// withOutbox is act for the outbox commands: the store is opened before fn
// and closed after.
func (a *cli) withOutbox(f *outboxFlags, readOnly bool, fn func(ctx context.Context, ob *outbox.Outbox, cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return a.act(func(ctx context.Context, cmd *cobra.Command, args []string) error {
		s, err := a.openOutbox(ctx, f, readOnly)
		if err != nil {
			return err
		}
		defer s.Close()
		return fn(ctx, outbox.New(s, outbox.WithClock(a.now)), cmd, args)
	})
}

// statusView is what "outbox status" prints.
type statusView struct {
	Pending    int       `json:"pending"`
	Dead       int       `json:"dead"`
	Oldest     time.Time `json:"oldest,omitzero"`
	OldestAge  string    `json:"oldest_age,omitempty"`
	LastError  string    `json:"last_error,omitempty"`
	LastFailed time.Time `json:"last_failed,omitzero"`
}

func (a *cli) outboxStatusCommand(f *outboxFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Count the pending jobs and dead letters, and show the oldest and the last failure",
		Args:  cobra.NoArgs,
		RunE: a.withOutbox(f, true, func(ctx context.Context, ob *outbox.Outbox, _ *cobra.Command, _ []string) error {
			st, err := ob.Store().Stats(ctx)
			if err != nil {
				return err
			}
			v := statusView{Pending: st.Queued, Dead: st.Dead, Oldest: beijing(st.Oldest)}
			if !st.Oldest.IsZero() {
				v.OldestAge = a.now().Sub(st.Oldest).Truncate(time.Second).String()
			}
			// The last failure is the latest one recorded on a job.
			for _, state := range []outbox.State{outbox.StateQueued, outbox.StateDead} {
				jobs, err := ob.Store().List(ctx, state, 0)
				if err != nil {
					return err
				}
				for _, j := range jobs {
					if j.LastError != "" && j.LastAttempt.After(v.LastFailed) {
						v.LastError, v.LastFailed = j.LastError, beijing(j.LastAttempt)
					}
				}
			}
			return a.object(v)
		}),
	}
}

// jobView is a job as "outbox list" and "outbox dead" print it: its key and
// delivery state, the member's phone masked, the request itself left out.
type jobView struct {
	ID          string    `json:"id"`
	Kind        string    `json:"kind"`
	Key         string    `json:"key"`
	Member      string    `json:"member"`
	State       string    `json:"state"`
	Attempts    int       `json:"attempts"`
	Resend      bool      `json:"resend,omitempty"`
	EnqueuedAt  time.Time `json:"enqueued_at"`
	NextAttempt time.Time `json:"next_attempt,omitzero"`
	Code        int64     `json:"code,omitempty"`
	Message     string    `json:"message,omitempty"`
	LastError   string    `json:"last_error,omitempty"`
}

func viewJob(j *outbox.Job) jobView {
	member := j.Member()
	if wire.IsMobile(member) {
		member = redact.Phone(member)
	}
	return jobView{ID: j.ID, Kind: string(j.Kind), Key: j.Key(), Member: member, State: string(j.State),
		Attempts: j.Attempts, Resend: j.Resend, EnqueuedAt: beijing(j.EnqueuedAt), NextAttempt: beijing(j.NextAttempt),
		Code: j.Code, Message: j.Message, LastError: j.LastError}
}

func (a *cli) outboxListCommand(f *outboxFlags, dead bool) *cobra.Command {
	var limit int
	use, short, state := "list", "List the pending jobs, oldest first", outbox.StateQueued
	if dead {
		use, short, state = "dead", "List the dead letters (jobs the platform refused) with their code and message", outbox.StateDead
	}
	cmd := &cobra.Command{
		Use:   use + " [--limit N]",
		Short: short,
		Args:  cobra.NoArgs,
		RunE: a.withOutbox(f, true, func(ctx context.Context, ob *outbox.Outbox, _ *cobra.Command, _ []string) error {
			jobs, err := ob.Store().List(ctx, state, limit)
			if err != nil {
				return err
			}
			views := make([]jobView, len(jobs))
			for i, j := range jobs {
				views[i] = viewJob(j)
			}
			st, err := ob.Store().Stats(ctx)
			if err != nil {
				return err
			}
			total := st.Queued
			if dead {
				total = st.Dead
			}
			if dead {
				return printList(a, views, pageInfo{total: total}, "dead letters",
					[]string{"ID", "KIND", "KEY", "MEMBER", "ATTEMPTS", "CODE", "MESSAGE"},
					func(v jobView) []string {
						return []string{v.ID, v.Kind, v.Key, v.Member, fmt.Sprint(v.Attempts), fmt.Sprint(v.Code), oneLine(v.Message)}
					})
			}
			return printList(a, views, pageInfo{total: total}, "pending jobs",
				[]string{"ID", "KIND", "KEY", "MEMBER", "ENQUEUED", "ATTEMPTS", "NEXT", "LAST ERROR"},
				func(v jobView) []string {
					return []string{v.ID, v.Kind, v.Key, v.Member, wallTime(v.EnqueuedAt), fmt.Sprint(v.Attempts),
						wallTime(v.NextAttempt), oneLine(v.LastError)}
				})
		}),
	}
	cmd.Flags().IntVar(&limit, "limit", 0, "show at most N (0: all)")
	return cmd
}

// deadIDs is the ids named on the command line, or with --all every dead
// letter's.
func deadIDs(ctx context.Context, ob *outbox.Outbox, args []string, all bool) ([]string, error) {
	switch {
	case all && len(args) > 0:
		return nil, usagef("name jobs or give --all, not both")
	case !all && len(args) == 0:
		return nil, usagef("name the dead letters by id (ump outbox dead lists them), or give --all")
	case len(args) > 0:
		return args, nil
	}
	jobs, err := ob.DeadLetters(ctx)
	ids := make([]string, len(jobs))
	for i, j := range jobs {
		ids[i] = j.ID
	}
	return ids, err
}

func (a *cli) outboxRetryCommand(f *outboxFlags) *cobra.Command {
	var (
		all, noDrain bool
		d            drainFlags
	)
	cmd := &cobra.Command{
		Use:   "retry ID... | --all",
		Short: "Queue dead letters again (after fixing the cause) and drain",
		Long: `retry puts the named dead letters back in the queue, in their original
order, then drains the outbox as "ump outbox drain" does (--no-drain only
queues them). Fix the cause first: create the member, correct the rule.`,
		RunE: a.drainAct(f, func(ctx context.Context, ob *outbox.Outbox, cmd *cobra.Command, args []string) error {
			ids, err := deadIDs(ctx, ob, args, all)
			if err != nil {
				return err
			}
			n, err := ob.Retry(ctx, ids...)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stderr, "queued again: %d of %d\n", n, len(ids))
			if noDrain {
				return nil
			}
			return a.drain(ctx, ob, &d)
		}),
	}
	cmd.Flags().BoolVar(&all, "all", false, "every dead letter")
	cmd.Flags().BoolVar(&noDrain, "no-drain", false, "only queue them again")
	d.register(cmd)
	return cmd
}

func (a *cli) outboxDropCommand(f *outboxFlags) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "drop ID... | --all",
		Short: "Delete dead letters for good (they will never reach the platform)",
		RunE: a.withOutbox(f, false, func(ctx context.Context, ob *outbox.Outbox, _ *cobra.Command, args []string) error {
			ids, err := deadIDs(ctx, ob, args, all)
			if err != nil {
				return err
			}
			n, err := ob.Drop(ctx, ids...)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stderr, "dropped: %d of %d\n", n, len(ids))
			return nil
		}),
	}
	cmd.Flags().BoolVar(&all, "all", false, "every dead letter")
	return cmd
}

// drainFlags tune a drain.
type drainFlags struct {
	concurrency int
	attempt     time.Duration
	progress    string
}

func (d *drainFlags) register(cmd *cobra.Command) {
	cmd.Flags().IntVar(&d.concurrency, "concurrency", 4, "members delivered at once")
	cmd.Flags().DurationVar(&d.attempt, "attempt-timeout", 30*time.Second, "bound for one delivery attempt")
	cmd.Flags().StringVar(&d.progress, "progress", "auto", "auto (a bar on a terminal, lines otherwise), bar, lines or none")
}

// drainAct is withOutbox for the commands that deliver: without --timeout
// they run until the outbox is drained, however long the backlog.
func (a *cli) drainAct(f *outboxFlags, fn func(ctx context.Context, ob *outbox.Outbox, cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		ctx := cmd.Context()
		if cmd.Flags().Changed("timeout") {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, a.timeout)
			defer cancel()
		}
		s, err := a.openOutbox(ctx, f, false)
		if err != nil {
			return mark(err)
		}
		defer s.Close()
		return mark(fn(ctx, outbox.New(s, outbox.WithClock(a.now)), cmd, args))
	}
}

func (a *cli) outboxDrainCommand(f *outboxFlags) *cobra.Command {
	var d drainFlags
	cmd := &cobra.Command{
		Use:   "drain",
		Short: "Deliver the pending jobs until none is left, then print a summary",
		Long: `drain delivers the pending jobs, concurrently across members and in order
within one, until none is left; it stops early when the gateway cannot be
reached or nothing has passed for a while, and the jobs stay queued. It shows
a progress bar on a terminal and a line per job otherwise (--progress), then
prints a summary. Exit 1 if it stopped early or a job became a dead letter.`,
		Args: cobra.NoArgs,
		RunE: a.drainAct(f, func(ctx context.Context, ob *outbox.Outbox, _ *cobra.Command, _ []string) error {
			return a.drain(ctx, ob, &d)
		}),
	}
	d.register(cmd)
	return cmd
}

// drainSummary is what drain prints at the end.
type drainSummary struct {
	Delivered int    `json:"delivered"`
	Retried   int    `json:"retried"`
	Dead      int    `json:"dead"`
	Pending   int    `json:"pending"`
	DeadTotal int    `json:"dead_total"`
	Elapsed   string `json:"elapsed"`
	Stopped   string `json:"stopped,omitempty"`
}

func (a *cli) drain(ctx context.Context, ob *outbox.Outbox, f *drainFlags) error {
	s, err := a.client()
	if err != nil {
		return err
	}
	defer s.close()
	before, err := ob.Store().Stats(ctx)
	if err != nil {
		return err
	}
	mode := f.progress
	if mode == "auto" {
		mode = "lines"
		if file, ok := a.stderr.(*os.File); ok && term.IsTerminal(int(file.Fd())) {
			mode = "bar"
		}
	}
	var observe func(outbox.Event)
	var bar *progressbar.ProgressBar
	var mu sync.Mutex
	switch mode {
	case "bar":
		bar = progressbar.NewOptions(before.Queued, progressbar.OptionSetWriter(a.stderr),
			progressbar.OptionSetDescription("draining"), progressbar.OptionShowCount(), progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("jobs"), progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish())
		observe = func(e outbox.Event) {
			if e.Outcome != outbox.StateQueued {
				_ = bar.Add(1)
			}
		}
	case "lines":
		w := bufio.NewWriter(a.stderr)
		observe = func(e outbox.Event) {
			mu.Lock()
			defer mu.Unlock()
			printEvent(w, e)
			_ = w.Flush()
		}
	case "none":
	default:
		return usagef("--progress %q: want auto, bar, lines or none", f.progress)
	}
	d := outbox.NewDrainer(ob.Store(), s.Client, outbox.WithConcurrency(f.concurrency),
		outbox.WithAttemptTimeout(f.attempt), outbox.WithObserver(observe))
	start := time.Now()
	st, drainErr := d.DrainOnce(ctx)
	if bar != nil {
		_ = bar.Finish()
	}
	after, err := ob.Store().Stats(context.WithoutCancel(ctx))
	if err != nil {
		return errors.Join(drainErr, err)
	}
	sum := drainSummary{Delivered: st.Delivered, Retried: st.Retried, Dead: st.Dead, Pending: after.Queued,
		DeadTotal: after.Dead, Elapsed: time.Since(start).Round(time.Millisecond).String()}
	if drainErr != nil {
		sum.Stopped = strings.TrimPrefix(drainErr.Error(), "outbox: ")
	}
	if err := a.object(sum); err != nil {
		return err
	}
	switch {
	case drainErr != nil:
		return drainErr
	case st.Dead > 0:
		return fmt.Errorf("%d job(s) refused by the platform: see \"ump outbox dead\"", st.Dead)
	}
	return nil
}

// printEvent is drain's line for one attempt.
func printEvent(w io.Writer, e outbox.Event) {
	j := e.Job
	switch e.Outcome {
	case outbox.StateDelivered:
		note := ""
		if e.Receipt != nil && e.Receipt.AlreadyApplied {
			note = " (already applied)"
		}
		fmt.Fprintf(w, "delivered  %s %s%s\n", j.ID, j.Key(), note)
	case outbox.StateQueued:
		fmt.Fprintf(w, "retry      %s %s: %s\n", j.ID, j.Key(), j.LastError)
	case outbox.StateDead:
		fmt.Fprintf(w, "dead       %s %s: %s\n", j.ID, j.Key(), j.LastError)
	}
}

func (a *cli) outboxExportCommand(f *outboxFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "export",
		Short: "Write every job a bolt outbox file holds to stdout, one JSON line each, even from a damaged file",
		Long: `export writes the queued and dead jobs of a bolt outbox file to stdout, one
JSON object per line, and never writes to the file. When the file cannot be
read as a store (it is damaged), export recovers the jobs from its bytes and
marks them to be settled under their key when delivered again ("resend").
"ump outbox import --store bolt:new.db" reads them back.`,
		Args: cobra.NoArgs,
		RunE: a.act(func(_ context.Context, _ *cobra.Command, _ []string) error {
			spec := a.setting(f.spec, envOutboxStore)
			path, ok := strings.CutPrefix(spec, "bolt:")
			if !ok || path == "" {
				return usagef("export reads a bolt outbox file: --store bolt:/path")
			}
			w := bufio.NewWriter(a.stdout)
			res, err := boltstore.Export(path, w)
			if ferr := w.Flush(); err == nil {
				err = ferr
			}
			if err != nil {
				return err
			}
			if res.Salvaged {
				fmt.Fprintf(a.stderr, "the file could not be read as a store (%s); salvaged %d job(s) from its bytes\n",
					res.ReadError, res.Jobs)
			} else {
				fmt.Fprintf(a.stderr, "exported %d job(s)\n", res.Jobs)
			}
			return nil
		}),
	}
}

func (a *cli) outboxImportCommand(f *outboxFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "import < jobs.jsonl",
		Short: "Queue the jobs of an export (one JSON line each, on stdin)",
		Args:  cobra.NoArgs,
		RunE: a.withOutbox(f, false, func(ctx context.Context, ob *outbox.Outbox, _ *cobra.Command, _ []string) error {
			sc := bufio.NewScanner(a.stdin)
			sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
			n, line := 0, 0
			for sc.Scan() {
				line++
				if strings.TrimSpace(sc.Text()) == "" {
					continue
				}
				j, err := outbox.DecodeJob(sc.Bytes())
				if err != nil {
					return fmt.Errorf("line %d: %w", line, err)
				}
				if _, err := ob.Import(ctx, j); err != nil {
					return fmt.Errorf("line %d (imported %d before it): %w", line, n, err)
				}
				n++
			}
			if err := sc.Err(); err != nil {
				return err
			}
			fmt.Fprintf(a.stderr, "imported %d job(s)\n", n)
			return nil
		}),
	}
}
