package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/greedc/ump-go"
	"github.com/greedc/ump-go/internal/wire"
)

// decode reads the business parameters into v, a struct of lenient wire
// types, so that numbers sent as strings and strings sent as numbers are
// accepted the way the platform (judging by its own examples) accepts them.
// A value of the wrong shape is a 1001 naming the parameter.
func (r *request) decode(v any) *Fail {
	if err := json.Unmarshal(r.params, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return failMsg(CodeInvalidParams, te.Field)
		}
		return failMsg(CodeInvalidParams, err.Error())
	}
	return nil
}

// amount is a lenient sum of money (Double in the document): a JSON number
// or a numeric string, read exactly as ump.Amount reads it (a value finer
// than a fen is refused), or null/"" (absent).
type amount struct {
	v   ump.Amount
	set bool
}

func (a *amount) UnmarshalJSON(b []byte) error {
	t := strings.TrimSpace(string(b))
	if t == "null" || t == `""` {
		*a = amount{}
		return nil
	}
	var v ump.Amount
	if err := v.UnmarshalJSON(b); err != nil {
		return err
	}
	*a = amount{v: v, set: true}
	return nil
}

// optInt is a lenient integer that remembers whether it was sent.
type optInt struct {
	v   int64
	set bool
}

func (n *optInt) UnmarshalJSON(b []byte) error {
	t := bytes.TrimSpace(b)
	if string(t) == "null" || string(t) == `""` {
		*n = optInt{}
		return nil
	}
	var v wire.Int64
	if err := v.UnmarshalJSON(t); err != nil {
		return err
	}
	*n = optInt{v: int64(v), set: true}
	return nil
}

// integer is an optInt the document types Integer: a Java int, so a value
// outside the int32 range is refused (1001 naming the parameter) instead of
// wrapping.
type integer struct{ optInt }

func (n *integer) UnmarshalJSON(b []byte) error {
	if err := n.optInt.UnmarshalJSON(b); err != nil {
		return err
	}
	if !fitsInteger(n.v) {
		return &json.UnmarshalTypeError{Value: "number " + strconv.FormatInt(n.v, 10), Type: reflect.TypeFor[int32]()}
	}
	return nil
}

// fitsInteger reports whether n fits the document's Integer (int32): every
// score, points and count the platform keeps.
func fitsInteger(n int64) bool { return n >= math.MinInt32 && n <= math.MaxInt32 }

// blank reports a required string parameter that is missing or empty.
func blank(s wire.String) bool { return strings.TrimSpace(string(s)) == "" }

// missing collects the names of required parameters that are absent, for
// one 1001 naming all of them.
type missing []string

func (m *missing) str(name string, v wire.String) {
	if blank(v) {
		*m = append(*m, name)
	}
}

func (m *missing) num(name string, set bool) {
	if !set {
		*m = append(*m, name)
	}
}

func (m missing) fail() *Fail {
	if len(m) == 0 {
		return nil
	}
	return failMsg(CodeInvalidParams, strings.Join(m, ", "))
}

// msOf is a time as epoch milliseconds, with the zero time as nil (JSON null).
func msOf(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMilli()
}

// strOrNil is s, or nil (JSON null) when empty, as the document's examples
// show unset optional strings.
func strOrNil(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// text is a parameter the document types String that holds JSON text
// (stores, items, categories): a string is kept as sent, and a bare array or
// object is kept as its text.
type text string

func (t *text) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && (b[0] == '[' || b[0] == '{') {
		var c bytes.Buffer
		if err := json.Compact(&c, b); err != nil {
			return err
		}
		*t = text(c.String())
		return nil
	}
	var s wire.String
	if err := s.UnmarshalJSON(b); err != nil {
		return err
	}
	*t = text(s)
	return nil
}
