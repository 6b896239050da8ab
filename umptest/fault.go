package umptest

import (
	"strconv"
	"time"
)

// FaultKind is a way a call can go wrong between the client and the
// platform.
type FaultKind int

// The kinds of fault. "Applied" means the platform carried the call out (a
// score change moved points, an order was recorded); a client that sees the
// fault cannot tell which happened, except by the kind of failure.
const (
	// Delay answers normally after Fault.Delay. If the client gives up
	// meanwhile, the wait ends early and the call is still applied: its
	// answer is lost. Ending the wait when the client gives up keeps tests
	// fast, but it is a synchronisation no real gateway has (the call
	// applies exactly when the client stops waiting, before it can send
	// again); LateApply is the gateway that really finishes late.
	Delay FaultKind = iota + 1
	// HTTPStatus answers Fault.Status (default 503) with a short plain-text
	// body, without applying the call.
	HTTPStatus
	// SystemBusy answers the gateway's envelope with code 500 ("系统繁忙"),
	// HTTP 200, without applying the call; under WithPerCallCodes, 3.6 and
	// 3.7 answer their own tables' 1001 ("系统繁忙") instead.
	SystemBusy
	// HTMLPage answers a proxy's HTML error page with Fault.Status (default
	// 502), without applying the call. Like some proxies' pages, it echoes
	// the request URI, access_token and sign included, so a client's
	// redaction of error samples is tested too.
	HTMLPage
	// MalformedBody applies the call, then answers HTTP 200 with the first
	// half of the envelope: JSON cut short.
	MalformedBody
	// DropBeforeApply reads the request and closes the connection without
	// applying the call or answering.
	DropBeforeApply
	// DropAfterApply applies the call, then closes the connection without
	// answering: the answer is lost.
	DropAfterApply
	// NoDate applies the call and answers normally, but without the HTTP
	// Date header every other answer carries, like a proxy that strips it:
	// a client learning the gateway's clock from Date must cope without.
	NoDate
	// LateApply is a slow gateway that finishes the work after the client
	// gave up: it takes the call's key (change_id for 3.3 and 3.4, order_no
	// for 4.1 and 4.2), waits the whole Fault.Delay whatever the client
	// does, then applies the call and answers (to nobody, if the client hung
	// up). Like a gateway holding a row lock on the key, a resend under the
	// same key meanwhile waits until the late original has committed, then
	// is refused as a duplicate (150002): exactly one of them applies. A
	// call of another method just applies late. A rollback by change_id
	// alone (3.4) does not wait for a late change: it reads the change
	// table without locking, as a real gateway would, and finds nothing yet
	// (150004).
	LateApply
	// Redirect answers Fault.Status (default 307 Temporary Redirect) with a
	// Location of Fault.Location (default http://redirect.invalid) followed
	// by the request's path and query, credentials included, as a hijacked
	// or misconfigured host would: a client must follow no redirect. Not
	// applied.
	Redirect
	// EchoRequest answers a refusal envelope (HTTP 200, code 1001) whose
	// error_message and data quote the request URI (access_token and sign
	// included), its body and the app secret, as a careless gateway might:
	// a client must not repeat any of it in errors or logs. Not applied.
	EchoRequest
	// OddData applies the call, then answers success with data of an
	// unexpected shape (an array where the call answers anything else, an
	// object where it answers an array): a client must not read such an
	// answer as a result.
	OddData
	// HugeAnswer applies the call, then answers its envelope with a field
	// of Fault.Size bytes (default 5 MiB) before the others.
	HugeAnswer
)

var faultNames = [...]string{Delay: "Delay", HTTPStatus: "HTTPStatus", SystemBusy: "SystemBusy", HTMLPage: "HTMLPage",
	MalformedBody: "MalformedBody", DropBeforeApply: "DropBeforeApply", DropAfterApply: "DropAfterApply",
	NoDate: "NoDate", LateApply: "LateApply", Redirect: "Redirect", EchoRequest: "EchoRequest", OddData: "OddData",
	HugeAnswer: "HugeAnswer"}

// String returns the kind's name, such as "DropAfterApply".
func (k FaultKind) String() string {
	if k > 0 && int(k) < len(faultNames) {
		return faultNames[k]
	}
	if k == 0 {
		return "none"
	}
	return "FaultKind(" + strconv.Itoa(int(k)) + ")"
}

// applies reports whether the platform carries the call out under the fault.
func (k FaultKind) applies() bool {
	switch k {
	case HTTPStatus, SystemBusy, HTMLPage, DropBeforeApply, Redirect, EchoRequest:
		return false
	}
	return true
}

// Fault describes how calls of a gateway method go wrong; see Server.Fail.
type Fault struct {
	Kind FaultKind
	// Times is how many calls the fault hits before it is spent; 0 hits
	// every call.
	Times int
	// Rate is the chance that a call is hit, drawn from the server's seeded
	// generator (WithSeed); 0 hits every call.
	Rate float64
	// Delay is waited before the fault acts, whatever its kind: the length
	// of a Delay or LateApply fault, and a slow start for the others.
	Delay time.Duration
	// Status is the HTTP status of HTTPStatus (default 503), HTMLPage
	// (default 502) and Redirect (default 307).
	Status int
	// Location is where Redirect points, before the request's own path and
	// query (default http://redirect.invalid).
	Location string
	// Size is the padding of HugeAnswer in bytes (default 5 MiB).
	Size int
}

// AnyMethod names every gateway method in Server.Fail. Faults set for a
// method are tried before those set for AnyMethod.
const AnyMethod = "*"

// fault is a Fault as the handler keeps it, with what is left of Times.
type fault struct {
	Fault
	left int
}
