package wire

import (
	"encoding/json"
	"testing"
	"time"
)

func TestDateSendsTheDateAsWritten(t *testing.T) {
	tokyo := time.FixedZone("JST", 9*60*60)
	cases := []struct {
		in   time.Time
		want string
	}{
		{time.Date(1994, 9, 28, 0, 0, 0, 0, tokyo), `"1994-09-28"`}, // would be the 27th in Beijing
		{time.Date(1994, 9, 28, 23, 59, 0, 0, time.UTC), `"1994-09-28"`},
		{time.Date(2000, 2, 29, 0, 0, 0, 0, Beijing), `"2000-02-29"`},
		{time.Time{}, `null`},
	}
	for _, c := range cases {
		got, err := Marshal(Date(c.in))
		if err != nil || string(got) != c.want {
			t.Errorf("Marshal(%v) = %s, %v; want %s", c.in, got, err, c.want)
		}
	}
	if _, err := Marshal(Date(time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC))); err == nil {
		t.Error("a five-digit year encoded")
	}
}

func TestDateOmitzero(t *testing.T) {
	type body struct {
		B Date `json:"b,omitzero"`
	}
	got, err := Marshal(body{})
	if err != nil || string(got) != `{}` {
		t.Errorf("zero date: %s, %v", got, err)
	}
}

func TestDateDecodesLeniently(t *testing.T) {
	want := time.Date(1994, 9, 28, 0, 0, 0, 0, Beijing)
	for _, in := range []string{`"1994-09-28"`, `"1994-09-28 13:14:15"`, `780681600000`, `"780681600000"`} {
		var d Date
		if err := json.Unmarshal([]byte(in), &d); err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if !time.Time(d).Equal(want) || time.Time(d).Location() != Beijing {
			t.Errorf("%s decoded as %v, want %v", in, time.Time(d), want)
		}
	}
	for _, in := range []string{`null`, `""`, `0`} {
		d := Date(want)
		if err := json.Unmarshal([]byte(in), &d); err != nil || !d.IsZero() {
			t.Errorf("%s: %v, %v; want the zero date", in, time.Time(d), err)
		}
	}
	for _, in := range []string{`"28/09/1994"`, `"1994-13-01"`, `{}`, `true`} {
		var d Date
		if err := json.Unmarshal([]byte(in), &d); err == nil {
			t.Errorf("%s decoded as %v", in, time.Time(d))
		}
	}
}
