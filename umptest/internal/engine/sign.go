package engine

import (
	"crypto/md5"
	"crypto/subtle"
	"encoding/hex"
	"net/url"
	"sort"
)

// signature is the document's signature (section 1), computed here rather
// than with ump.Sign so that the emulator checks the SDK's signing instead
// of agreeing with it: the query parameters but sign, sorted by name in
// byte order, each as name then value; the body exactly as received; the
// app secret; MD5 over those bytes in lower-case hex. Repeated parameters
// are refused before this runs.
func signature(q url.Values, body []byte, secret string) string {
	names := make([]string, 0, len(q))
	for name := range q {
		if name != "sign" {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	h := md5.New()
	for _, name := range names {
		h.Write([]byte(name))
		h.Write([]byte(q.Get(name)))
	}
	h.Write(body)
	h.Write([]byte(secret))
	return hex.EncodeToString(h.Sum(nil))
}

// signed reports whether q carries the right sign for body.
func signed(q url.Values, body []byte, secret string) bool {
	return subtle.ConstantTimeCompare([]byte(q.Get("sign")), []byte(signature(q, body, secret))) == 1
}
