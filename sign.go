package ump

import (
	"crypto/md5"
	"encoding/hex"
	"net/url"
	"sort"
	"sync"
)

// Sign computes the gateway's signature of a request, as section 1 of the
// platform document defines it: every query parameter except sign, sorted by
// name in byte order, each written as name followed by value with no
// separators; then the request body exactly as sent (nothing when there is no
// body); then appSecret; the MD5 of those UTF-8 bytes in lower-case hex.
//
// A parameter with several values contributes name+value once per value, in
// the order given; the document does not define repeated parameters and the
// SDK never sends them, so a server that sees one should reject the request.
//
// Sign is exported so that integrators can debug a signature mismatch with
// the platform team and verify calls in their own test servers; the SDK signs
// every request itself.
func Sign(params url.Values, body []byte, appSecret string) string {
	return signSorted(canonicalParams(params), body, appSecret)
}

// CanonicalString returns the text Sign hashes, with the secret replaced by
// mask, so that a mismatch can be compared by eye without revealing it.
func CanonicalString(params url.Values, body []byte, mask string) string {
	var b []byte
	for _, p := range canonicalParams(params) {
		b = append(append(b, p.name...), p.value...)
	}
	return string(append(append(b, body...), mask...))
}

// canonicalParams returns params but sign, in the order they are signed:
// by name, each name's values in their order.
func canonicalParams(params url.Values) []param {
	names := make([]string, 0, len(params))
	for name := range params {
		if name != "sign" {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	pairs := make([]param, 0, len(names))
	for _, name := range names {
		for _, v := range params[name] {
			pairs = append(pairs, param{name, v})
		}
	}
	return pairs
}

// param is one query parameter, in the order it is signed and sent.
type param struct{ name, value string }

var canonicalPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// signSorted is the one implementation of the digest; pairs are already in
// canonical order. It hashes a pooled buffer so that signing allocates only
// the returned string.
func signSorted(pairs []param, body []byte, appSecret string) string {
	bp := canonicalPool.Get().(*[]byte)
	b := (*bp)[:0]
	for _, p := range pairs {
		b = append(append(b, p.name...), p.value...)
	}
	b = append(append(b, body...), appSecret...)
	sum := md5.Sum(b)
	if cap(b) <= 64<<10 { // do not let one large body pin memory in the pool
		*bp = b
		canonicalPool.Put(bp)
	}
	var out [md5.Size * 2]byte
	hex.Encode(out[:], sum[:])
	return string(out[:])
}
