package ump

// SMSService holds the gateway's sms calls.
type SMSService service
