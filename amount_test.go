package ump

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestAmountWritesExactYuan(t *testing.T) {
	for _, tc := range []struct {
		a          Amount
		json, text string
	}{
		{Yuan(1000, 40), "1000.4", "1000.40"},
		{Yuan(1000, 0), "1000", "1000.00"},
		{Yuan(0, 5), "0.05", "0.05"},
		{Yuan(0, 10), "0.1", "0.10"},
		{Yuan(120, 99), "120.99", "120.99"},
		{0, "0", "0.00"},
		{-5, "-0.05", "-0.05"},
		{Amount(math.MaxInt64), "92233720368547758.07", "92233720368547758.07"},
		{Amount(math.MinInt64), "-92233720368547758.08", "-92233720368547758.08"},
	} {
		b, err := json.Marshal(tc.a)
		require.NoError(t, err)
		require.Equal(t, tc.json, string(b), "JSON of %d fen", int64(tc.a))
		require.Equal(t, tc.text, tc.a.String())
	}
}

func TestParseAmount(t *testing.T) {
	for in, want := range map[string]Amount{
		"1000.4": 100040, "1000.40": 100040, "1000": 100000, "0.05": 5, "0": 0,
		"1.500": 150, "0.000": 0, "007.1": 710, "92233720368547758.07": math.MaxInt64,
	} {
		got, err := ParseAmount(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, in := range []string{
		"", "-1", "-0.05", "1.005", "0.001", "abc", "1e3", ".5", "1.", "1.2.3", " 1", "1 ", "+1",
		"92233720368547758.08", "99999999999999999999",
	} {
		_, err := ParseAmount(in)
		require.Error(t, err, "%q", in)
	}
}

// The platform is a Java service: a Double may come back as 1.0E7 or as a
// string; both must read exactly, and values finer than a fen must not be
// rounded silently.
func TestAmountReadsNumbersAndStringsExactly(t *testing.T) {
	for in, want := range map[string]Amount{
		`1000.4`: 100040, `"1000.4"`: 100040, `1.0E7`: 1_000_000_000, `1.5e-1`: 15, `1E+2`: 10000,
		`120`: 12000, `"120"`: 12000, `null`: 0, `""`: 0, `-0.05`: -5, `0.10`: 10, `0e-400`: 0,
	} {
		var a Amount
		require.NoError(t, json.Unmarshal([]byte(in), &a), in)
		require.Equal(t, want, a, in)
	}
	for _, in := range []string{`1.005`, `0.30000000000000004`, `1e-400`, `1e999`, `1e401`, `"abc"`, `true`, `[1]`, `{}`, `1e`, `0x10`, `"1/3"`} {
		var a Amount
		require.Error(t, json.Unmarshal([]byte(in), &a), in)
	}
}
