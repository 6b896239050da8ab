package ump

// ScoreService holds the gateway's score calls.
type ScoreService service
