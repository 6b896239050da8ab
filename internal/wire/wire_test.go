package wire

import (
	"encoding/json"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The 19-digit coupon code of section 5.2: beyond 2^53, so any trip through
// float64 changes it.
const couponCode int64 = 3733288246799497770

func TestInt64(t *testing.T) {
	cases := []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{`0`, 0, false},
		{`123`, 123, false},
		{`-42`, -42, false},
		{`"123"`, 123, false},
		{`" 123 "`, 123, false},
		{`""`, 0, false},
		{`null`, 0, false},
		{`"null"`, 0, false},
		{`3733288246799497770`, couponCode, false},
		{`"3733288246799497770"`, couponCode, false},
		{`9223372036854775807`, 9223372036854775807, false},
		{`-9223372036854775808`, -9223372036854775808, false},
		{`100.0`, 100, false},
		{`1e3`, 1000, false},
		{`9007199254740993.0`, 0, true}, // beyond 2^53 as a float: not exact
		{`9223372036854775808`, 0, true},
		{`1.5`, 0, true},
		{`"1.5"`, 0, true},
		{`true`, 0, true},
		{`"abc"`, 0, true},
		{`{}`, 0, true},
		{`[]`, 0, true},
		{`"NaN"`, 0, true},
		{`"Inf"`, 0, true},
		{`"0x10"`, 0, true},
		{`"1_000"`, 0, true},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			var n Int64
			err := json.Unmarshal([]byte(tc.in), &n)
			if tc.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, int64(n))
		})
	}
}

// TestInt64InStruct covers a field, where encoding/json hands the raw literal
// to UnmarshalJSON, and the encoding as a JSON number.
func TestInt64InStruct(t *testing.T) {
	var v struct {
		Code Int64 `json:"code"`
	}
	require.NoError(t, json.Unmarshal([]byte(`{"code":3733288246799497770}`), &v))
	require.Equal(t, couponCode, int64(v.Code))
	require.NoError(t, json.Unmarshal([]byte(`{"code":"3733288246799497770"}`), &v))
	require.Equal(t, couponCode, int64(v.Code))
	b, err := Marshal(v)
	require.NoError(t, err)
	require.Equal(t, `{"code":3733288246799497770}`, string(b), "sent as a number, every digit kept")
}

func FuzzInt64(f *testing.F) {
	for _, s := range []string{`1`, `"2"`, `null`, `""`, `3733288246799497770`, `1e3`, `1.5`, `"x"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		var n Int64
		if err := n.UnmarshalJSON([]byte(in)); err != nil {
			return
		}
		// Whatever decodes re-encodes as a number that decodes to the same value.
		b, err := n.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		var m Int64
		if err := m.UnmarshalJSON(b); err != nil || m != n {
			t.Fatalf("%q -> %d -> %s -> %d (%v)", in, n, b, m, err)
		}
	})
}

func TestString(t *testing.T) {
	cases := []struct {
		in      string
		want    string
		wantErr bool
	}{
		{`"abc"`, "abc", false},
		{`"张三"`, "张三", false},
		{`"a\"b\u0041"`, `a"bA`, false},
		{`""`, "", false},
		{`null`, "", false},
		{`123`, "123", false},
		{`3733288246799497770`, "3733288246799497770", false}, // digit for digit
		{`1.50`, "1.50", false},
		{`-7`, "-7", false},
		{`true`, "true", false},
		{`{"a":1}`, "", true},
		{`[1]`, "", true},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			var s String
			err := json.Unmarshal([]byte(tc.in), &s)
			if tc.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, string(s))
		})
	}
	b, err := Marshal(String("<&>"))
	require.NoError(t, err)
	require.Equal(t, `"<&>"`, string(b))
}

func FuzzString(f *testing.F) {
	for _, s := range []string{`"a"`, `1`, `null`, `"\u00e9"`, `{}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		var s String
		if err := json.Unmarshal([]byte(in), &s); err != nil {
			return
		}
		b, err := Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		var back String
		if err := json.Unmarshal(b, &back); err != nil || back != s {
			t.Fatalf("%q -> %q -> %s -> %q (%v)", in, s, b, back, err)
		}
	})
}

func TestBool(t *testing.T) {
	cases := []struct {
		in      string
		want    bool
		wantErr bool
	}{
		{`true`, true, false},
		{`false`, false, false},
		{`"true"`, true, false},
		{`"false"`, false, false},
		{`1`, true, false},
		{`0`, false, false},
		{`"1"`, true, false},
		{`"0"`, false, false},
		{`null`, false, false},
		{`""`, false, false},
		{`"yes"`, false, true},
		{`2`, false, true},
		{`{}`, false, true},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			v := Bool(!tc.want) // decoding must overwrite
			err := json.Unmarshal([]byte(tc.in), &v)
			if tc.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, bool(v))
		})
	}
}

func TestDateTime(t *testing.T) {
	noon := time.Date(2021, 7, 21, 12, 12, 12, 0, Beijing)
	cases := []struct {
		in      string
		want    time.Time
		wantErr bool
	}{
		{`"2021-07-21 12:12:12"`, noon, false},
		{`null`, time.Time{}, false},
		{`""`, time.Time{}, false},
		{strconv.FormatInt(noon.UnixMilli(), 10), noon, false},
		{`"2021-07-21T12:12:12"`, time.Time{}, true},
		{`"2021-07-21"`, time.Time{}, true},
		{`"2021-13-01 00:00:00"`, time.Time{}, true},
		{`"tomorrow"`, time.Time{}, true},
		{`1.5`, time.Time{}, true},
		{`true`, time.Time{}, true},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			var d DateTime
			err := json.Unmarshal([]byte(tc.in), &d)
			if tc.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.True(t, tc.want.Equal(time.Time(d)), "got %v want %v", time.Time(d), tc.want)
		})
	}

	// Encoding is Beijing wall-clock time whatever the zone of the value.
	b, err := Marshal(DateTime(noon.UTC()))
	require.NoError(t, err)
	require.Equal(t, `"2021-07-21 12:12:12"`, string(b))
	b, err = Marshal(DateTime{})
	require.NoError(t, err)
	require.Equal(t, `null`, string(b))
	// A Beijing wall time in a container set to UTC stays a Beijing time.
	var d DateTime
	require.NoError(t, json.Unmarshal([]byte(`"2021-07-21 00:30:00"`), &d))
	require.Equal(t, "2021-07-20 16:30:00", time.Time(d).UTC().Format(DateTimeLayout))
}

func TestMillis(t *testing.T) {
	at := time.Date(2021, 7, 21, 12, 12, 12, 345e6, Beijing)
	ms := strconv.FormatInt(at.UnixMilli(), 10)
	cases := []struct {
		in      string
		want    time.Time
		wantErr bool
	}{
		{ms, at, false},
		{`"` + ms + `"`, at, false},
		{`0`, time.Time{}, false},
		{`null`, time.Time{}, false},
		{`""`, time.Time{}, false},
		{`"2021-07-21 12:12:12"`, at.Truncate(time.Second), false},
		{`"2021/07/21"`, time.Time{}, true},
		{`true`, time.Time{}, true},
		{`1.5`, time.Time{}, true},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			var m Millis
			err := json.Unmarshal([]byte(tc.in), &m)
			if tc.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.True(t, tc.want.Equal(time.Time(m)), "got %v want %v", time.Time(m), tc.want)
		})
	}
	b, err := Marshal(Millis(at))
	require.NoError(t, err)
	require.Equal(t, ms, string(b))
	b, err = Marshal(Millis{})
	require.NoError(t, err)
	require.Equal(t, `null`, string(b))
}

func FuzzTimes(f *testing.F) {
	for _, s := range []string{`"2021-07-21 12:12:12"`, `1626840732000`, `null`, `""`, `"x"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		var d DateTime
		// The layout has four-digit years; epoch milliseconds can go beyond.
		if err := d.UnmarshalJSON([]byte(in)); err == nil && !time.Time(d).IsZero() && time.Time(d).Year() > 0 && time.Time(d).Year() < 10000 {
			b, err := d.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			var back DateTime
			if err := back.UnmarshalJSON(b); err != nil || !time.Time(back).Equal(time.Time(d).Truncate(time.Second)) {
				t.Fatalf("%q -> %v -> %s -> %v (%v)", in, time.Time(d), b, time.Time(back), err)
			}
		}
		var m Millis
		if err := m.UnmarshalJSON([]byte(in)); err == nil && !time.Time(m).IsZero() {
			b, err := m.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			var back Millis
			if err := back.UnmarshalJSON(b); err != nil || !time.Time(back).Equal(time.Time(m).Truncate(time.Millisecond)) {
				t.Fatalf("%q -> %v -> %s -> %v (%v)", in, time.Time(m), b, time.Time(back), err)
			}
		}
	})
}

type material struct {
	Name string `json:"name"`
	Qty  Int64  `json:"qty"`
}

func TestJSONString(t *testing.T) {
	v := JSONString[[]material]{V: []material{{Name: "咖啡<大杯>&", Qty: 2}}}
	b, err := Marshal(v)
	require.NoError(t, err)
	require.Equal(t, `"[{\"name\":\"咖啡<大杯>&\",\"qty\":2}]"`, string(b), "JSON text inside a string, not HTML-escaped")

	cases := []struct {
		name    string
		in      string
		want    []material
		wantErr bool
	}{
		{"string holding JSON", string(b), v.V, false},
		{"bare value", `[{"name":"咖啡<大杯>&","qty":"2"}]`, v.V, false},
		{"null", `null`, nil, false},
		{"empty string", `""`, nil, false},
		{"blank string", `"  "`, nil, false},
		{"string holding bad JSON", `"[{\"name\":"`, nil, true},
		{"wrong shape", `{"name":"x"}`, nil, true},
		{"number", `5`, nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got JSONString[[]material]
			err := json.Unmarshal([]byte(tc.in), &got)
			if tc.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got.V)
		})
	}
}

func TestLenientJSONString(t *testing.T) {
	type namedRef struct {
		ID   String `json:"id"`
		Name String `json:"name"`
	}
	type answer struct {
		Stores LenientJSONString[[]namedRef] `json:"stores"`
		Name   String                        `json:"name"`
	}
	cases := []struct {
		name    string
		in      string // the value of "stores"
		want    []namedRef
		wantRaw string
	}{
		{"string holding JSON", `"[{\"id\":\"1\",\"name\":\"唐家湾\"}]"`, []namedRef{{"1", "唐家湾"}}, ""},
		{"bare value", `[{"id":1,"name":"唐家湾"}]`, []namedRef{{"1", "唐家湾"}}, ""},
		{"null", `null`, nil, ""},
		{"blank string", `" "`, nil, ""},
		// 5.1's table, the quotes of the outer string escaped (the only
		// syntax fix, docs/spec-notes.md#17): the key name is not quoted.
		{"5.1's table example", `" [{\"id\":\"1\",name:\"唐家\"}]"`, nil, ` [{"id":"1",name:"唐家"}]`},
		{"wrong shape", `{"name":"x"}`, nil, `{"name":"x"}`},
		{"number", `5`, nil, `5`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got answer
			require.NoError(t, json.Unmarshal([]byte(`{"stores":`+tc.in+`,"name":"满100减10"}`), &got))
			require.Equal(t, tc.want, got.Stores.V)
			require.Equal(t, tc.wantRaw, got.Stores.Raw)
			require.Equal(t, String("满100减10"), got.Name, "the rest of the answer decodes")
		})
	}
}

func FuzzJSONString(f *testing.F) {
	for _, s := range []string{`"[{\"name\":\"a\",\"qty\":1}]"`, `[]`, `null`, `""`, `"x"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		var j JSONString[[]material]
		if err := json.Unmarshal([]byte(in), &j); err != nil {
			return
		}
		b, err := Marshal(j)
		if err != nil {
			t.Fatal(err)
		}
		var back JSONString[[]material]
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("%q -> %s: %v", in, b, err)
		}
		require.Equal(t, len(j.V), len(back.V))
	})
}

func TestMarshalNoHTMLEscapingNoNewline(t *testing.T) {
	b, err := Marshal(map[string]any{"q": "<a href=\"x\">&</a>", "n": couponCode})
	require.NoError(t, err)
	require.Equal(t, `{"n":3733288246799497770,"q":"<a href=\"x\">&</a>"}`, string(b))
}

type item struct {
	Code Int64  `json:"code"`
	Name String `json:"name"`
}

func TestDecodeEnvelope(t *testing.T) {
	t.Run("success with paging at the top level", func(t *testing.T) {
		var env Envelope[[]item]
		dataErr, err := DecodeEnvelope([]byte(`{"success":true,"error_code":200,"data":[{"code":3733288246799497770,"name":"券"}],"pageNo":"2","pageSize":10,"totalCount":"11"}`), &env)
		require.NoError(t, err)
		require.NoError(t, dataErr)
		require.True(t, bool(env.Success))
		require.Equal(t, []item{{Code: Int64(couponCode), Name: "券"}}, env.Data)
		require.Equal(t, Page{PageNo: 2, PageSize: 10, TotalCount: 11}, env.Page())
	})
	t.Run("data null", func(t *testing.T) {
		var env Envelope[*item]
		dataErr, err := DecodeEnvelope([]byte(`{"success":true,"data":null}`), &env)
		require.NoError(t, err)
		require.NoError(t, dataErr)
		require.True(t, bool(env.Success))
		require.Nil(t, env.Data)
	})
	t.Run("snake and camel spellings decode the same", func(t *testing.T) {
		for _, body := range []string{
			`{"success":false,"error_code":110003,"error_message":"会员未绑定"}`,
			`{"success":false,"errorCode":110003,"errorMessage":"会员未绑定"}`,
			`{"success":"false","errorCode":"110003","errorMessage":"会员未绑定","data":null}`,
		} {
			var env Envelope[item]
			dataErr, err := DecodeEnvelope([]byte(body), &env)
			require.NoError(t, err, body)
			require.NoError(t, dataErr, body)
			require.False(t, bool(env.Success))
			require.Equal(t, int64(110003), env.Code(), body)
			require.Equal(t, "会员未绑定", env.Message(), body)
		}
	})
	t.Run("error answer whose data has another shape keeps code and message", func(t *testing.T) {
		var env Envelope[item]
		dataErr, err := DecodeEnvelope([]byte(`{"success":false,"error_code":1001,"error_message":"请求参数不合法","data":"phone"}`), &env)
		require.NoError(t, err)
		require.Error(t, dataErr)
		require.Equal(t, int64(1001), env.Code())
		require.Equal(t, "请求参数不合法", env.Message())
		require.Equal(t, item{}, env.Data)
	})
	t.Run("a previous decode does not leak into the next", func(t *testing.T) {
		var env Envelope[item]
		_, err := DecodeEnvelope([]byte(`{"success":true,"data":{"code":1,"name":"a"},"pageNo":3}`), &env)
		require.NoError(t, err)
		env = Envelope[item]{}
		_, err = DecodeEnvelope([]byte(`{"success":false,"error_code":500}`), &env)
		require.NoError(t, err)
		require.Equal(t, item{}, env.Data)
		require.Equal(t, Page{}, env.Page())
	})
	for _, body := range []string{``, `   `, `<html>502 Bad Gateway</html>`, `null`, `[]`, `"ok"`, `{"success":true,"data":{`, `{"success":"maybe"}`, `{"error_code":"x"}`} {
		t.Run("not an envelope: "+body, func(t *testing.T) {
			var env Envelope[item]
			_, err := DecodeEnvelope([]byte(body), &env)
			require.Error(t, err)
			require.True(t, errors.Is(err, ErrNotJSON), "%v", err)
		})
	}
}

func FuzzDecodeEnvelope(f *testing.F) {
	for _, s := range []string{`{"success":true,"data":{"code":1}}`, `{"errorCode":5}`, `<html>`, `{}`, `{"data":[]}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		var env Envelope[item]
		dataErr, err := DecodeEnvelope([]byte(in), &env)
		if err != nil && dataErr != nil {
			t.Fatalf("both errors set for %q", in)
		}
	})
}

func TestBeijingIsFixedUTC8(t *testing.T) {
	at := time.Date(2024, 1, 1, 23, 30, 0, 0, time.UTC)
	require.Equal(t, "2024-01-02", at.In(Beijing).Format(DateLayout))
	_, off := at.In(Beijing).Zone()
	require.Equal(t, 8*3600, off)
}

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
		`null`: 0, `""`: 0, `9007199254740993`: 9007199254740993,
	} {
		got, err := parseInt([]byte(in))
		if err != nil || got != want {
			t.Errorf("parseInt(%s) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{`"1994-09-28"`, `"2021-06-28 18:04:20"`, `1.5`, `abc`, `1-2`, `12:00`, `true`, `0x1p4`, `1_000`, `Inf`} {
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
