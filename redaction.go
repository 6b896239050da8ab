package ump

import (
	"errors"

	"github.com/greedc/ump-go/internal/redact"
)

// redactAnswer is the one place every error an attempt returns passes
// through (see attempt), so that no error built from an answer, today's or
// one added later, can quote the answer raw: an *APIError's Message, a
// *ResponseError's Sample and the text of the error it wraps (a decoding
// error of the data) all go through the redaction of samples (phones,
// identity numbers, access_token=, sign= and the like), and lose the app
// secret, the request's credential (a token; "" for the app id, which is no
// secret) and its sign, which a gateway may echo bare.
//
// A token call's answer carries new tokens, which no pattern knows (they
// may sit anywhere in an answer of an unexpected shape): its sample is
// withheld whole.
func (c *Client) redactAnswer(ep *endpoint, err error, cred, sign string) error {
	if err == nil {
		return nil
	}
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		apiErr.Message = redact.Text(apiErr.Message, c.appSecret, cred, sign)
	}
	var respErr *ResponseError
	if errors.As(err, &respErr) {
		respErr.Sample = redact.Text(respErr.Sample, c.appSecret, cred, sign)
		if ep.cred != credAccessToken && respErr.Sample != "" {
			respErr.Sample = "(a token answer, withheld)"
		}
		if respErr.Err != nil {
			respErr.Err = &redactedError{text: redact.Text(respErr.Err.Error(), c.appSecret, cred, sign), err: respErr.Err}
		}
	}
	return err
}

// redactedError shows a redacted text of err and keeps err for errors.Is
// and errors.As.
type redactedError struct {
	text string
	err  error
}

func (e *redactedError) Error() string { return e.text }
func (e *redactedError) Unwrap() error { return e.err }
