package ump

import (
	"fmt"
	"net/http"
	"net/url"
)

// followNoRedirect is the CheckRedirect of every http.Client the SDK sends
// through, the SDK's own and its copy of one given to WithHTTPClient. A
// followed redirect would send the query (access_token, timestamp, sign) to
// the new host in the URL and the Referer, resend the signed body (phones,
// identity numbers, amounts) on a 307 or 308, and trust the new host's
// answer: the 3xx is returned as it is, and the call fails with it.
func followNoRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// isRedirect reports an HTTP status of the 3xx class.
func isRedirect(status int) bool { return status >= 300 && status < 400 }

// redirectError is the failure of a call answered with a redirect: a
// *ResponseError naming the status and the host of the Location, never the
// URL itself, whose query would repeat the credentials. The gateway does
// not redirect; the answer came from something in front of it (a load
// balancer, a misconfigured or hijacked host), which applied nothing it
// would report, so the failure is definite.
func redirectError(method string, status int, location string) *ResponseError {
	host := "no Location"
	if location != "" {
		host = "unparsable Location"
		if u, err := url.Parse(location); err == nil {
			host = "Location host " + u.Host
			if u.Host == "" {
				host = "a relative Location"
			}
		}
	}
	return &ResponseError{Method: method, HTTPStatus: status,
		Err: fmt.Errorf("redirect (%s) not followed: the SDK sends credentials to the base URL's host only", host)}
}
