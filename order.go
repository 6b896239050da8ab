package ump

// OrderService holds the gateway's order calls.
type OrderService service
