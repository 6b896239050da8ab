package wire

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"
)

// String's shortcut for plain strings must decode exactly as encoding/json
// does, escapes, invalid UTF-8 and all.
func TestStringDecodesAsEncodingJSON(t *testing.T) {
	for _, in := range []string{
		`"15980944959"`, `"深圳"`, `""`, `"a b"`, `"1994-09-28"`,
		`"a\"b"`, `"\u4e2d\u56fd"`, `"line\nbreak"`, `"back\\slash"`, `"tab\tin"`,
		"\"bad \xff utf8\"", "\"cut \xe4\xb8\"", "\"raw \x01 control\"",
		`"unterminated`, `"`,
	} {
		var want string
		wantErr := json.Unmarshal([]byte(in), &want)
		var got String
		err := got.UnmarshalJSON([]byte(in))
		if (err != nil) != (wantErr != nil) || (err == nil && string(got) != want) {
			t.Errorf("String.UnmarshalJSON(%q) = %q, %v; encoding/json gives %q, %v", in, got, err, want, wantErr)
		}
	}
}

// The integer parser refuses dates and times without asking strconv, and
// still reads everything it read before.
func TestParseInt(t *testing.T) {
	for in, want := range map[string]int64{
		`42`: 42, `"42"`: 42, `-7`: -7, `+5`: 5, `100.0`: 100, `1e3`: 1000, `1E+3`: 1000,
		`0x1p4`: 16, `null`: 0, `""`: 0, `9007199254740993`: 9007199254740993,
	} {
		got, err := parseInt([]byte(in))
		if err != nil || got != want {
			t.Errorf("parseInt(%s) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{`"1994-09-28"`, `"2021-06-28 18:04:20"`, `1.5`, `abc`, `1-2`, `12:00`, `true`} {
		if got, err := parseInt([]byte(in)); err == nil {
			t.Errorf("parseInt(%s) = %d, want an error", in, got)
		}
	}
}

// mayBeNumber only ever refuses text that strconv refuses too.
func TestMayBeNumberRefusesOnlyNonNumbers(t *testing.T) {
	for _, in := range []string{
		"1994-09-28", "2021-06-28 18:04:20", "1-2", "12:00", "1 2", `"1"`, "1e-3", "-5", "+5", "0x1p-2",
		"1.5E+10", "-0", "inf", "-Inf", "NaN", "0x_1p0", "1_000", "--1", "+-1", "e-", "5-",
	} {
		_, ierr := strconv.ParseInt(in, 10, 64)
		_, ferr := strconv.ParseFloat(in, 64)
		if !mayBeNumber([]byte(in)) && (ierr == nil || ferr == nil) {
			t.Errorf("mayBeNumber(%q) = false, but strconv accepts it", in)
		}
	}
	if mayBeNumber([]byte("1994-09-28")) {
		t.Error(`mayBeNumber("1994-09-28") = true, want the shortcut taken`)
	}
}

func TestDateDecodes(t *testing.T) {
	for in, want := range map[string]string{
		`"1994-09-28"`: "1994-09-28", `"1994-09-28 23:10:00"`: "1994-09-28",
		`1624874660000`: "2021-06-28", `"1624874660000"`: "2021-06-28",
	} {
		var d Date
		if err := d.UnmarshalJSON([]byte(in)); err != nil || time.Time(d).Format(DateLayout) != want || time.Time(d).Location() != Beijing {
			t.Errorf("Date.UnmarshalJSON(%s) = %v, %v; want %s in Beijing", in, time.Time(d), err, want)
		}
	}
	var d Date
	if err := d.UnmarshalJSON([]byte(`true`)); err == nil || err.Error() != `wire: "true" is not an integer` {
		t.Errorf("Date.UnmarshalJSON(true) = %v", err)
	}
	if err := d.UnmarshalJSON([]byte(`"28/09/1994"`)); err == nil {
		t.Error("Date.UnmarshalJSON accepted 28/09/1994")
	}
}

func TestMillisDecodes(t *testing.T) {
	for in, want := range map[string]int64{
		`1624874660000`: 1624874660000, `"1624874660000"`: 1624874660000,
		`"2021-06-28 18:04:20"`: time.Date(2021, 6, 28, 18, 4, 20, 0, Beijing).UnixMilli(),
	} {
		var m Millis
		if err := m.UnmarshalJSON([]byte(in)); err != nil || time.Time(m).UnixMilli() != want {
			t.Errorf("Millis.UnmarshalJSON(%s) = %v, %v; want %d ms", in, time.Time(m), err, want)
		}
	}
}

// Marshal's results are the exact bytes the SDK signs and sends: no HTML
// escaping, no trailing newline, and never aliased to a pooled buffer that
// a later call overwrites while a transport may still be reading.
func TestMarshalResultsAreIndependent(t *testing.T) {
	first, err := Marshal(map[string]string{"q": "<&>"})
	if err != nil || string(first) != `{"q":"<&>"}` {
		t.Fatalf("Marshal = %s, %v", first, err)
	}
	for range 3 {
		if _, err := Marshal(map[string]string{"q": "overwrite overwrite"}); err != nil {
			t.Fatal(err)
		}
	}
	if string(first) != `{"q":"<&>"}` {
		t.Errorf("an earlier result changed to %s", first)
	}
	nested, err := Marshal(struct {
		V JSONString[[]int] `json:"v"`
	}{JSONString[[]int]{[]int{1, 2}}})
	if err != nil || string(nested) != `{"v":"[1,2]"}` {
		t.Errorf("nested Marshal = %s, %v", nested, err)
	}
	if _, err := Marshal(func() {}); err == nil {
		t.Error("Marshal of a func succeeded")
	}
	if b, err := Marshal(1); err != nil || string(b) != "1" {
		t.Errorf("Marshal after a failure = %s, %v", b, err)
	}
}
