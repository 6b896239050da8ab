// Package wire holds the lenient JSON types the gateway's documents force on
// both sides of the wire: numbers sent as strings and strings sent as numbers,
// two spellings of the same field, 19-digit integers that must never pass
// through float64, Beijing wall-clock times and JSON carried inside a string.
//
// Both the SDK and the emulated platform use it, so a decision about the wire
// (docs/spec-notes.md) lives in one place.
package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Int64 decodes a JSON number, a numeric string, null or "" (as 0) exactly,
// without going through float64, and encodes as a JSON number.
type Int64 int64

// UnmarshalJSON implements json.Unmarshaler.
func (n *Int64) UnmarshalJSON(b []byte) error {
	v, err := parseInt(b)
	if err != nil {
		return err
	}
	*n = Int64(v)
	return nil
}

// MarshalJSON implements json.Marshaler.
func (n Int64) MarshalJSON() ([]byte, error) {
	return strconv.AppendInt(nil, int64(n), 10), nil
}

func parseInt(b []byte) (int64, error) {
	if v, ok := intValue(b); ok {
		return v, nil
	}
	return 0, fmt.Errorf("wire: %q is not an integer", truncate(unquote(b)))
}

// intValue is parseInt without the error, for callers that try an integer
// before another form (a date): a failure then costs no allocation.
func intValue(b []byte) (int64, bool) {
	b = unquote(b)
	if len(b) == 0 || string(b) == "null" {
		return 0, true
	}
	if !mayBeNumber(b) {
		return 0, false // strconv would fail too, allocating its error
	}
	v, err := strconv.ParseInt(string(b), 10, 64)
	if err == nil {
		return v, true
	}
	// Some answers carry integral values as 100.0; accept those exactly.
	// Only plain decimal notation: ParseFloat alone would also take "1_000",
	// "0x1p4" and "Inf".
	if isDecimal(b) {
		if f, ferr := strconv.ParseFloat(string(b), 64); ferr == nil && f == float64(int64(f)) && f < 1<<53 && f > -(1<<53) {
			return int64(f), true
		}
	}
	return 0, false
}

// mayBeNumber is false for text that neither strconv.ParseInt nor
// strconv.ParseFloat accepts: a space, a colon or a quote anywhere, or a
// sign other than at the start or after an exponent letter, as in
// "1994-09-28" or "2021-06-28 18:04:20".
func mayBeNumber(b []byte) bool {
	for i, c := range b {
		switch c {
		case ' ', ':', '"':
			return false
		case '+', '-':
			if i > 0 {
				switch b[i-1] {
				case 'e', 'E', 'p', 'P':
				default:
					return false
				}
			}
		}
	}
	return true
}

// String decodes a JSON string, a bare number (kept digit for digit), a
// boolean or null (as ""), and encodes as a JSON string.
type String string

// UnmarshalJSON implements json.Unmarshaler.
func (s *String) UnmarshalJSON(b []byte) error {
	switch {
	case len(b) == 0 || string(b) == "null":
		*s = ""
	case b[0] == '"':
		if v, ok := plainString(b); ok {
			*s = String(v)
			return nil
		}
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = String(v)
	case b[0] == '{' || b[0] == '[':
		return fmt.Errorf("wire: expected a string, got %q", truncate(b))
	default:
		*s = String(b)
	}
	return nil
}

// plainString returns the text of a JSON string that has no escapes, no
// control characters and only valid UTF-8: exactly what json.Unmarshal would
// produce for it, without a second decoder pass. Any other string is left to
// json.Unmarshal.
func plainString(b []byte) (string, bool) {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return "", false
	}
	in := b[1 : len(b)-1]
	ascii := true
	for _, c := range in {
		switch {
		case c < ' ' || c == '"' || c == '\\':
			return "", false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	if !ascii && !utf8.Valid(in) {
		return "", false
	}
	return string(in), true
}

// Bool decodes true/false, "true"/"false", 1/0 and null (as false).
type Bool bool

// UnmarshalJSON implements json.Unmarshaler.
func (v *Bool) UnmarshalJSON(b []byte) error {
	switch string(unquote(b)) {
	case "true", "1":
		*v = true
	case "false", "0", "", "null":
		*v = false
	default:
		return fmt.Errorf("wire: %q is not a boolean", truncate(b))
	}
	return nil
}

// isDecimal reports whether b holds only the characters of a JSON number.
func isDecimal(b []byte) bool {
	for _, c := range b {
		if (c < '0' || c > '9') && c != '-' && c != '+' && c != '.' && c != 'e' && c != 'E' {
			return false
		}
	}
	return true
}

func unquote(b []byte) []byte {
	b = bytes.TrimSpace(b)
	if len(b) >= 2 && b[0] == '"' && b[len(b)-1] == '"' {
		return bytes.TrimSpace(b[1 : len(b)-1])
	}
	return b
}

func truncate(b []byte) string {
	const max = 32
	if len(b) > max {
		return string(b[:max]) + "…"
	}
	return string(b)
}

// Envelope is the gateway's answer around every call's data. It decodes both
// spellings of the error fields (error_code/errorCode, docs/spec-notes.md#3) and the
// paging fields the paged calls put at the top level.
type Envelope[T any] struct {
	Success           Bool   `json:"success"`
	ErrorCode         *Int64 `json:"error_code"`
	ErrorCodeCamel    *Int64 `json:"errorCode"`
	ErrorMessage      String `json:"error_message"`
	ErrorMessageCamel String `json:"errorMessage"`
	Data              T      `json:"data"`
	PageNo            Int64  `json:"pageNo"`
	PageSize          Int64  `json:"pageSize"`
	TotalCount        Int64  `json:"totalCount"`
}

// Code returns the error code under whichever spelling carried it (0 if none).
func (e *Envelope[T]) Code() int64 {
	if e.ErrorCode != nil {
		return int64(*e.ErrorCode)
	}
	if e.ErrorCodeCamel != nil {
		return int64(*e.ErrorCodeCamel)
	}
	return 0
}

// Message returns the error message under whichever spelling carried it.
func (e *Envelope[T]) Message() string {
	if e.ErrorMessage != "" {
		return string(e.ErrorMessage)
	}
	return string(e.ErrorMessageCamel)
}

// Page is the paging information of a paged answer.
type Page struct {
	PageNo, PageSize, TotalCount int64
}

// Page returns the envelope's paging fields.
func (e *Envelope[T]) Page() Page {
	return Page{PageNo: int64(e.PageNo), PageSize: int64(e.PageSize), TotalCount: int64(e.TotalCount)}
}

// ErrNotJSON reports an answer that is not a JSON object at all: an HTML error
// page from a proxy, an empty or truncated body.
var ErrNotJSON = errors.New("not a JSON envelope")

// DecodeEnvelope decodes body into an envelope whose data is T. When the
// envelope is well formed but data does not fit T (an error answer whose data
// has another shape), it decodes again with data left raw, so the caller still
// sees success, code and message; dataErr then reports the mismatch, and
// Data holds what of it decoded (JSON decoding fills a value until it fails).
func DecodeEnvelope[T any](body []byte, env *Envelope[T]) (dataErr error, err error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, ErrNotJSON
	}
	first := json.Unmarshal(trimmed, env)
	if first == nil {
		return nil, nil
	}
	var raw Envelope[json.RawMessage]
	if err := json.Unmarshal(trimmed, &raw); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotJSON, err)
	}
	// Data keeps whatever decoded before the mismatch: a write that was
	// applied reports it with the error.
	var data T
	_ = json.Unmarshal(raw.Data, &data)
	*env = Envelope[T]{
		Success: raw.Success, ErrorCode: raw.ErrorCode, ErrorCodeCamel: raw.ErrorCodeCamel,
		ErrorMessage: raw.ErrorMessage, ErrorMessageCamel: raw.ErrorMessageCamel,
		Data: data, PageNo: raw.PageNo, PageSize: raw.PageSize, TotalCount: raw.TotalCount,
	}
	return first, nil
}

// Beijing is the platform's time zone, UTC+8 without daylight saving, as a
// fixed zone so that containers without a zone database work.
var Beijing = time.FixedZone("CST", 8*60*60)

// DateTimeLayout is the platform's wall-clock format (yyyy-MM-dd HH:mm:ss).
const DateTimeLayout = "2006-01-02 15:04:05"

// DateLayout is the platform's date format (yyyy-MM-dd).
const DateLayout = "2006-01-02"

// DateTime is a time sent and received as "yyyy-MM-dd HH:mm:ss" in Beijing
// time. The zero time encodes as null; null and "" decode as the zero time.
type DateTime time.Time

// MarshalJSON implements json.Marshaler.
func (t DateTime) MarshalJSON() ([]byte, error) {
	tt := time.Time(t)
	if tt.IsZero() {
		return []byte("null"), nil
	}
	b := make([]byte, 0, len(DateTimeLayout)+2)
	b = append(b, '"')
	b = tt.In(Beijing).AppendFormat(b, DateTimeLayout)
	return append(b, '"'), nil
}

// UnmarshalJSON implements json.Unmarshaler. It also accepts epoch
// milliseconds, which some answers use for the same fields.
func (t *DateTime) UnmarshalJSON(b []byte) error {
	s := unquote(b)
	if len(s) == 0 || string(s) == "null" {
		*t = DateTime{}
		return nil
	}
	if b[0] != '"' {
		ms, err := parseInt(s)
		if err != nil {
			return err
		}
		*t = DateTime(time.UnixMilli(ms).In(Beijing))
		return nil
	}
	v, err := time.ParseInLocation(DateTimeLayout, string(s), Beijing)
	if err != nil {
		return fmt.Errorf("wire: %q is not a yyyy-MM-dd HH:mm:ss time", truncate(s))
	}
	*t = DateTime(v)
	return nil
}

// Millis is a time sent and received as epoch milliseconds. The zero time
// encodes as null; null and 0 decode as the zero time. A string in
// "yyyy-MM-dd HH:mm:ss" (Beijing) decodes too (docs/spec-notes.md#8).
type Millis time.Time

// MarshalJSON implements json.Marshaler.
func (t Millis) MarshalJSON() ([]byte, error) {
	tt := time.Time(t)
	if tt.IsZero() {
		return []byte("null"), nil
	}
	return strconv.AppendInt(nil, tt.UnixMilli(), 10), nil
}

// UnmarshalJSON implements json.Unmarshaler.
func (t *Millis) UnmarshalJSON(b []byte) error {
	s := unquote(b)
	if len(s) == 0 || string(s) == "null" {
		*t = Millis{}
		return nil
	}
	if ms, ok := intValue(s); ok {
		if ms == 0 {
			*t = Millis{}
		} else {
			*t = Millis(time.UnixMilli(ms).In(Beijing))
		}
		return nil
	}
	v, err := time.ParseInLocation(DateTimeLayout, string(s), Beijing)
	if err != nil {
		return fmt.Errorf("wire: %q is neither epoch milliseconds nor a time", truncate(s))
	}
	*t = Millis(v)
	return nil
}

// JSONString carries a value that the wire holds as JSON text inside a JSON
// string (docs/spec-notes.md#9, #10). It encodes the value, then the text as a string;
// it decodes a string holding JSON, a bare JSON value (some examples send the
// object itself), null or "".
type JSONString[T any] struct{ V T }

// MarshalJSON implements json.Marshaler.
func (j JSONString[T]) MarshalJSON() ([]byte, error) {
	inner, err := Marshal(j.V)
	if err != nil {
		return nil, err
	}
	return Marshal(string(inner))
}

// UnmarshalJSON implements json.Unmarshaler.
func (j *JSONString[T]) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" {
		return nil
	}
	if b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		if len(bytes.TrimSpace([]byte(s))) == 0 {
			return nil
		}
		b = []byte(s)
	}
	return json.Unmarshal(b, &j.V)
}

// LenientJSONString is JSONString for answers: a field whose JSON text does
// not parse (the document's own examples are not always valid JSON,
// docs/spec-notes.md#22) keeps that text in Raw and leaves V zero, instead
// of failing the whole answer. It decodes a string holding JSON, a bare JSON
// value, null or "" like JSONString, and never returns an error.
type LenientJSONString[T any] struct {
	V T
	// Raw is the field's text when it did not decode as T; empty otherwise.
	Raw string
}

// UnmarshalJSON implements json.Unmarshaler.
func (j *LenientJSONString[T]) UnmarshalJSON(b []byte) error {
	*j = LenientJSONString[T]{}
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" {
		return nil
	}
	text := b
	if b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			j.Raw = string(b)
			return nil
		}
		if strings.TrimSpace(s) == "" {
			return nil
		}
		text = []byte(s)
	}
	if err := json.Unmarshal(text, &j.V); err != nil {
		var zero T
		j.V = zero
		j.Raw = string(text)
	}
	return nil
}

// Marshal encodes v as JSON without HTML escaping and without the trailing
// newline json.Encoder adds: the exact bytes the SDK signs and sends.
func Marshal(v any) ([]byte, error) {
	e := encoders.Get().(*encoder)
	e.buf.Reset()
	if err := e.enc.Encode(v); err != nil {
		return nil, err // the encoder is dropped, not pooled, after a failure
	}
	// The result is a copy: the caller may hand it to a transport that
	// reads it after the call returns.
	out := bytes.Clone(bytes.TrimSuffix(e.buf.Bytes(), []byte{'\n'}))
	if e.buf.Cap() <= 64<<10 {
		encoders.Put(e)
	}
	return out, nil
}

// encoder is a pooled json.Encoder writing to its own buffer: Marshal then
// allocates only its result.
type encoder struct {
	buf bytes.Buffer
	enc *json.Encoder
}

var encoders = sync.Pool{New: func() any {
	e := new(encoder)
	e.enc = json.NewEncoder(&e.buf)
	e.enc.SetEscapeHTML(false)
	return e
}}

// MarshalTo is Marshal appending to buf.
func MarshalTo(buf *bytes.Buffer, v any) error {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	if n := buf.Len(); n > 0 && buf.Bytes()[n-1] == '\n' {
		buf.Truncate(n - 1)
	}
	return nil
}
