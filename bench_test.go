package ump

import (
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// The SDK's halves of the per-piece benchmarks; the floor's halves, and the
// whole-call benchmarks, are in bench/.

// BenchmarkSign is signing as every call does it (impl=sdk, the canonical
// parameters already in order) and through the exported Sign (impl=public,
// which sorts a url.Values first; not on the request path).
func BenchmarkSign(b *testing.B) {
	body := []byte(`{"phone":"15980944959"}`)
	ts := strconv.FormatInt(time.Now().UnixMilli(), 10)
	b.Run("impl=sdk", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = signSorted([]param{{"access_token", testAccessToken}, {"timestamp", ts}}, body, testAppSecret)
		}
	})
	b.Run("impl=public", func(b *testing.B) {
		q := url.Values{"access_token": {testAccessToken}, "timestamp": {ts}}
		b.ReportAllocs()
		for b.Loop() {
			_ = Sign(q, body, testAppSecret)
		}
	})
}

// BenchmarkDecodeMember is decoding section 3.2's answer into a *Member as
// Member.Get does: the envelope, the wire struct, the conversion.
func BenchmarkDecodeMember(b *testing.B) {
	raw, err := os.ReadFile(filepath.Join("testdata", "member-get.json"))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("impl=sdk", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var a answer[*memberData]
			if _, err := a.decode(raw); err != nil || a.env.Data == nil {
				b.Fatal(err)
			}
			_ = a.env.Data.member()
		}
	})
}
