// Command benchratio reads `go test -bench` output and prints, for every
// benchmark that has an impl=floor and an impl=sdk sub-benchmark, the ratio
// SDK/floor of the medians of time, bytes and allocations per call; for every
// benchmark that reports an sdk/floor metric itself (the alternating ones),
// the median of that metric; whether the whole-call benchmarks meet the
// SDK's overhead goal; and, for the peak, refresh and memory benchmarks,
// the median of every metric they report and whether issue 17's goals are
// met.
//
//	benchratio [file ...]   (standard input when no file is named)
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// The goal the SDK holds itself to on the whole-call benchmarks.
const (
	goalTime   = 1.05
	goalAllocs = 1.15
)

// goalBenchmarks are the benchmarks the goal applies to.
var goalBenchmarks = []string{"MemberGet", "MemberGetParallel"}

// units are the measurements compared, in the order printed.
var units = []string{"ns/op", "B/op", "allocs/op"}

// samples holds, per benchmark name (without impl= and -GOMAXPROCS) and
// implementation, the values of each unit in the order they were read.
type samples map[string]map[string]map[string][]float64

var lineRE = regexp.MustCompile(`^Benchmark(\S+?)(?:-\d+)?\s+\d+\s+(.*)$`)

// parse reads benchmark result lines; other lines are ignored.
func parse(r io.Reader, s samples) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		m := lineRE.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		name, impl, ok := splitImpl(m[1])
		if !ok {
			// A benchmark that times both sides itself reports its
			// ratio as the unit sdk/floor.
			name, impl = m[1], "both"
		}
		f := strings.Fields(m[2])
		for i := 0; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			if s[name] == nil {
				s[name] = map[string]map[string][]float64{}
			}
			if s[name][impl] == nil {
				s[name][impl] = map[string][]float64{}
			}
			s[name][impl][f[i+1]] = append(s[name][impl][f[i+1]], v)
		}
	}
	return sc.Err()
}

// splitImpl takes the impl=X element out of a benchmark name.
func splitImpl(full string) (name, impl string, ok bool) {
	parts := strings.Split(full, "/")
	for i, p := range parts {
		if v, found := strings.CutPrefix(p, "impl="); found {
			rest := append(append([]string(nil), parts[:i]...), parts[i+1:]...)
			return strings.Join(rest, "/"), v, true
		}
	}
	return "", "", false
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// ratio is median(sdk)/median(floor) for unit, and whether both exist.
func ratio(s samples, name, unit string) (float64, bool) {
	sdk, floor := s[name]["sdk"][unit], s[name]["floor"][unit]
	if len(sdk) == 0 || len(floor) == 0 {
		return 0, false
	}
	f := median(floor)
	if f == 0 {
		return 0, false
	}
	return median(sdk) / f, true
}

// pairRange is the smallest and largest ratio of the i-th SDK sample to the
// i-th floor sample: with interleaved runs, how much one run can mislead.
func pairRange(s samples, name, unit string) (lo, hi float64, ok bool) {
	sdk, floor := s[name]["sdk"][unit], s[name]["floor"][unit]
	n := min(len(sdk), len(floor))
	for i := 0; i < n; i++ {
		if floor[i] == 0 {
			continue
		}
		r := sdk[i] / floor[i]
		if !ok || r < lo {
			lo = r
		}
		if !ok || r > hi {
			hi = r
		}
		ok = true
	}
	return lo, hi, ok
}

// report writes the ratio table and the goal verdict; it returns whether
// every goal benchmark present meets the goal.
func report(w io.Writer, s samples) bool {
	var names []string
	for name, impls := range s {
		if impls["sdk"] != nil && impls["floor"] != nil {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	fmt.Fprintln(w, "SDK/floor, ratio of medians (time pairs: run-by-run min-max)")
	fmt.Fprintf(w, "%-20s %4s %8s %8s %8s   %s\n", "benchmark", "n", "time", "bytes", "allocs", "time pairs")
	for _, name := range names {
		n := min(len(s[name]["sdk"]["ns/op"]), len(s[name]["floor"]["ns/op"]))
		fmt.Fprintf(w, "%-20s %4d", name, n)
		for _, u := range units {
			if r, ok := ratio(s, name, u); ok {
				fmt.Fprintf(w, " %8.3f", r)
			} else {
				fmt.Fprintf(w, " %8s", "-")
			}
		}
		if lo, hi, ok := pairRange(s, name, "ns/op"); ok {
			fmt.Fprintf(w, "   %.2f-%.2f", lo, hi)
		}
		fmt.Fprintln(w)
	}
	var alt []string
	for name, impls := range s {
		if len(impls["both"]["sdk/floor"]) > 0 {
			alt = append(alt, name)
		}
	}
	if len(alt) > 0 {
		slices.Sort(alt)
		fmt.Fprintln(w)
		fmt.Fprintln(w, "SDK/floor time, the two sides alternating call by call (median of runs, min-max)")
		for _, name := range alt {
			v := s[name]["both"]["sdk/floor"]
			fmt.Fprintf(w, "%-32s %4d %8.3f   %.2f-%.2f\n", name, len(v), median(v), slices.Min(v), slices.Max(v))
		}
	}
	// Time is judged on the alternating benchmark when there is one: two
	// sub-benchmarks a second apart on a busy machine can differ by far
	// more than the overhead measured. Allocations are exact either way.
	met, seen := true, false
	for _, name := range goalBenchmarks {
		t, okT := ratio(s, name, "ns/op")
		a, okA := ratio(s, name, "allocs/op")
		how := "ratio of medians"
		if v := s[name+"Alternating"]["both"]["sdk/floor"]; len(v) > 0 {
			t, okT, how = median(v), true, "alternating"
		}
		if !okT || !okA {
			continue
		}
		seen = true
		verdict := "met"
		if t > goalTime || a > goalAllocs {
			verdict, met = "NOT met", false
		}
		fmt.Fprintf(w, "goal %s: time %.3f (%s) <= %.2f, allocs %.3f <= %.2f: %s\n", name, t, how, goalTime, a, goalAllocs, verdict)
	}
	return met && seen
}

// peakGoal is one of issue 17's goals: metric of bench, median of runs,
// compared with limit.
type peakGoal struct {
	bench, metric string
	atLeast       bool // the median must be >= limit; otherwise <=
	limit         float64
}

var peakGoals = []peakGoal{
	{"PeakTLS/callers=256", "sdk/hand-calls/s", true, 0.98},
	{"PeakTLS/callers=256", "sdk/hand-p99", false, 1.10},
	{"PeakTLS/callers=256", "sdk-new-conns", false, 0},
	{"RefreshUnderLoad/grace=0s", "p99.9-rise/round-trip", false, 1},
	{"RefreshUnderLoad/grace=1m0s", "p99.9-rise/round-trip", false, 1},
	{"AllRecordsMemory", "pages-held", false, 2},
	{"ManyCallsStayFlat", "goroutine-rise", false, 0},
	{"ManyCallsStayFlat", "open-conn-rise", false, 0},
	{"ManyCallsStayFlat", "conns-opened-after-warm-up", false, 0},
	// One byte per call leaked over 1,000,000 calls would be 977 KiB;
	// 64 KiB is what pools and the runtime move by themselves.
	{"ManyCallsStayFlat", "heap-rise-KiB", false, 64},
}

// standardUnits are the units every benchmark reports; reportPeak lists the
// others.
var standardUnits = map[string]bool{"ns/op": true, "B/op": true, "allocs/op": true, "sdk/floor": true,
	"sdk-ns/call": true, "floor-ns/call": true}

// reportPeak writes the median (min-max) of every metric of the benchmarks
// that report their own (peak, refresh, memory), then issue 17's goals; it
// returns whether every goal present is met.
func reportPeak(w io.Writer, s samples) bool {
	var names []string
	for name, impls := range s {
		for unit := range impls["both"] {
			if !standardUnits[unit] {
				names = append(names, name)
				break
			}
		}
	}
	if len(names) == 0 {
		return true
	}
	slices.Sort(names)
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Peak, token refresh and memory: median of runs (min-max)")
	for _, name := range names {
		var units []string
		for unit := range s[name]["both"] {
			if !standardUnits[unit] {
				units = append(units, unit)
			}
		}
		slices.Sort(units)
		fmt.Fprintf(w, "%s (n=%d)\n", name, len(s[name]["both"][units[0]]))
		for _, u := range units {
			v := s[name]["both"][u]
			fmt.Fprintf(w, "  %-36s %10.4g   %.4g-%.4g\n", u, median(v), slices.Min(v), slices.Max(v))
		}
	}
	met := true
	for _, g := range peakGoals {
		v := s[g.bench]["both"][g.metric]
		if len(v) == 0 {
			continue
		}
		m := median(v)
		ok, op := m <= g.limit, "<="
		if g.atLeast {
			ok, op = m >= g.limit, ">="
		}
		verdict := "met"
		if !ok {
			verdict, met = "NOT met", false
		}
		fmt.Fprintf(w, "goal %s %s: %.4g %s %g: %s\n", g.bench, g.metric, m, op, g.limit, verdict)
	}
	return met
}

func main() {
	s := samples{}
	if len(os.Args) < 2 {
		if err := parse(os.Stdin, s); err != nil {
			fmt.Fprintln(os.Stderr, "benchratio:", err)
			os.Exit(2)
		}
	}
	for _, path := range os.Args[1:] {
		f, err := os.Open(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, "benchratio:", err)
			os.Exit(2)
		}
		err = parse(f, s)
		f.Close()
		if err != nil {
			fmt.Fprintln(os.Stderr, "benchratio:", err)
			os.Exit(2)
		}
	}
	if len(s) == 0 {
		fmt.Fprintln(os.Stderr, "benchratio: no impl=floor/impl=sdk benchmark results in the input")
		os.Exit(2)
	}
	report(os.Stdout, s)
	reportPeak(os.Stdout, s)
}
