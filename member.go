package ump

// MemberService holds the gateway's member calls.
type MemberService service
