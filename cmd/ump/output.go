package main

import (
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strings"
	"time"

	"github.com/greedc/ump-go/internal/wire"
)

// writeJSON prints v indented, without HTML escaping (member names and
// messages are Chinese and may hold "<" or "&").
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table is rows under a header (none if nil), printed in aligned columns.
type table struct {
	header []string
	rows   [][]string
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

// write pads each column to its widest cell in terminal columns: Chinese
// characters take two, which text/tabwriter does not know.
func (t *table) write(w io.Writer) error {
	all := t.rows
	if t.header != nil {
		all = append([][]string{t.header}, t.rows...)
	}
	var widths []int
	for _, r := range all {
		for i, c := range r {
			if i == len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], displayWidth(c))
		}
	}
	var b strings.Builder
	for _, r := range all {
		for i, c := range r {
			b.WriteString(c)
			if i < len(r)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-displayWidth(c)+2))
			}
		}
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// displayWidth is how many terminal columns s takes: two for East Asian wide
// and full-width characters, one for the rest.
func displayWidth(s string) int {
	n := 0
	for _, r := range s {
		n++
		if isWide(r) {
			n++
		}
	}
	return n
}

func isWide(r rune) bool {
	return r >= 0x1100 && (r <= 0x115F || // Hangul Jamo
		(r >= 0x2E80 && r <= 0xA4CF && r != 0x303F) || // CJK radicals .. Yi
		(r >= 0xAC00 && r <= 0xD7A3) || // Hangul syllables
		(r >= 0xF900 && r <= 0xFAFF) || // CJK compatibility ideographs
		(r >= 0xFE30 && r <= 0xFE4F) || // CJK compatibility forms
		(r >= 0xFF00 && r <= 0xFF60) || // full-width forms
		(r >= 0xFFE0 && r <= 0xFFE6) ||
		(r >= 0x20000 && r <= 0x3FFFD))
}

// writeFields prints v, a struct whose fields carry json tags, as one
// "name  value" line per field in the table format. A field tagged
// omitempty or omitzero is left out when zero, as in the JSON.
func writeFields(w io.Writer, v any) error {
	rv := reflect.Indirect(reflect.ValueOf(v))
	rt := rv.Type()
	var t table
	for i := range rt.NumField() {
		name, opts, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		fv := rv.Field(i)
		if fv.IsZero() && (strings.Contains(opts, "omitempty") || strings.Contains(opts, "omitzero")) {
			continue
		}
		t.add(name, cell(fv.Interface()))
	}
	return t.write(w)
}

// cell formats one value for a table.
func cell(v any) string {
	switch x := v.(type) {
	case time.Time:
		return wallTime(x)
	case fmt.Stringer:
		return x.String()
	case string:
		return oneLine(x)
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Slice {
		parts := make([]string, rv.Len())
		for i := range parts {
			parts[i] = cell(rv.Index(i).Interface())
		}
		return strings.Join(parts, ", ")
	}
	return fmt.Sprint(v)
}

// oneLine keeps a table row on one line.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n\t") {
		return s
	}
	return strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ", "\t", " ").Replace(s)
}

// wallTime is the platform's own "yyyy-MM-dd HH:mm:ss", Beijing time; "" for
// the zero time.
func wallTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(wire.Beijing).Format(wire.DateTimeLayout)
}

// beijing is t in Beijing time to the second, for JSON output (RFC 3339
// with +08:00); the zero time stays zero, so omitzero leaves it out.
func beijing(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.In(wire.Beijing).Truncate(time.Second)
}

// object prints a single result: JSON unless --output table.
func (a *cli) object(v any) error {
	if a.format(formatJSON) == formatTable {
		return writeFields(a.stdout, v)
	}
	return writeJSON(a.stdout, v)
}

// listView is a list as JSON: the items and, for one page, where it sits.
type listView[T any] struct {
	Items      []T `json:"items"`
	PageNo     int `json:"page_no,omitempty"`
	PageSize   int `json:"page_size,omitempty"`
	TotalCount int `json:"total_count"`
}

// pageInfo says which page a list shows; page 0 means every page.
type pageInfo struct {
	page, size, total int
}

// printList prints items: a table unless --output json. For one page of
// several, a line on stderr says how to see the rest, so that stdout holds
// only the table.
func printList[T any](a *cli, items []T, p pageInfo, noun string, header []string, row func(T) []string) error {
	if a.format(formatTable) == formatJSON {
		if items == nil {
			items = []T{} // [] rather than null
		}
		return writeJSON(a.stdout, listView[T]{Items: items, PageNo: p.page, PageSize: p.size, TotalCount: p.total})
	}
	t := table{header: header}
	for _, it := range items {
		t.add(row(it)...)
	}
	if err := t.write(a.stdout); err != nil {
		return err
	}
	switch {
	case len(items) == 0:
		fmt.Fprintf(a.stderr, "no %s\n", noun)
	case p.page > 0 && p.size > 0 && p.total > p.page*p.size:
		pages := (p.total + p.size - 1) / p.size
		fmt.Fprintf(a.stderr, "page %d of %d (%d %s); --page %d for the next, --all for every page\n",
			p.page, pages, p.total, noun, p.page+1)
	}
	return nil
}
