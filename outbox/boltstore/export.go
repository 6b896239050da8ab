package boltstore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	"github.com/greedc/ump-go/outbox"
)

// ExportResult says what Export wrote.
type ExportResult struct {
	// Jobs is how many jobs were written.
	Jobs int `json:"jobs"`
	// Salvaged is set when the file could not be read as a store and the
	// jobs were recovered from its raw bytes instead.
	Salvaged bool `json:"salvaged"`
	// ReadError is why the file could not be read as a store.
	ReadError string `json:"read_error,omitempty"`
}

// Export writes every queued and dead job it can read from the store file at
// path to w, one JSON object per line, lowest Seq first, and never writes to
// the file. It reads the file as a store, read-only; if that fails (a
// damaged file), it scans the file's bytes for jobs instead.
//
// A salvaged job may be an older copy of a job, or one already delivered
// (bbolt leaves freed pages in the file), so every salvaged job is marked
// Resend: delivered again, it is settled under its key (the Resolve
// methods) and cannot apply twice.
func Export(path string, w io.Writer) (ExportResult, error) {
	jobs, readErr := readAll(path)
	res := ExportResult{}
	if readErr != nil {
		data, err := os.ReadFile(path)
		if err != nil {
			return res, fmt.Errorf("boltstore: %s: %w", path, err)
		}
		jobs = salvage(data)
		res.Salvaged, res.ReadError = true, readErr.Error()
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, j := range jobs {
		if err := enc.Encode(j); err != nil {
			return res, err
		}
		res.Jobs++
	}
	return res, nil
}

func readAll(path string) (jobs []*outbox.Job, err error) {
	s, err := Open(path, ReadOnly(), WithLockTimeout(time.Second))
	if err != nil {
		return nil, err
	}
	defer s.Close()
	queued, err := s.List(context.Background(), outbox.StateQueued, 0)
	if err != nil {
		return nil, err
	}
	dead, err := s.List(context.Background(), outbox.StateDead, 0)
	if err != nil {
		return nil, err
	}
	jobs = append(queued, dead...)
	sort.Slice(jobs, func(a, b int) bool { return jobs[a].Seq < jobs[b].Seq })
	return jobs, nil
}

// salvage finds the jobs in a file's bytes: every JSON object that starts
// like a stored job and decodes into a valid one. Of several copies of a job
// it keeps the one furthest along: the most attempts, then dead over
// sending over queued (a copy that is not the latest can only be behind).
var stateRank = map[outbox.State]int{outbox.StateQueued: 0, outbox.StateSending: 1, outbox.StateDead: 2}

func salvage(data []byte) []*outbox.Job {
	marker := []byte(`{"id":"`)
	best := map[string]*outbox.Job{}
	for i := 0; ; {
		k := bytes.Index(data[i:], marker)
		if k < 0 {
			break
		}
		i += k
		var j outbox.Job
		if err := json.NewDecoder(bytes.NewReader(data[i:])).Decode(&j); err == nil && j.ID != "" && j.Validate() == nil {
			if old := best[j.ID]; old == nil || j.Attempts > old.Attempts ||
				(j.Attempts == old.Attempts && stateRank[j.State] > stateRank[old.State]) {
				j.Resend = true
				if j.State != outbox.StateDead {
					j.State = outbox.StateQueued
				}
				best[j.ID] = &j
			}
		}
		i += len(marker)
	}
	out := make([]*outbox.Job, 0, len(best))
	for _, j := range best {
		out = append(out, j)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Seq < out[b].Seq })
	return out
}
