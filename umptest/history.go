package umptest

// history is the bounded record behind Requests: a queue of requests that
// forgets the oldest once it holds more than maxCount requests or maxBytes
// bytes of bodies and queries. It is guarded by the Handler's mutex.
type history struct {
	maxCount, maxBytes int

	reqs  []Request // reqs[head:] are remembered
	head  int
	bytes int
}

// size is what a request costs the history: its body and its query.
func size(r *Request) int {
	n := len(r.Body)
	for k, vs := range r.Query {
		n += len(k)
		for _, v := range vs {
			n += len(v)
		}
	}
	return n
}

func (h *history) add(r Request) {
	n := size(&r)
	if n > h.maxBytes {
		r.Body = nil // too large to keep whole: keep the rest of the record
		n = size(&r)
	}
	h.reqs = append(h.reqs, r)
	h.bytes += n
	for len(h.reqs)-h.head > h.maxCount || (h.bytes > h.maxBytes && len(h.reqs)-h.head > 1) {
		h.bytes -= size(&h.reqs[h.head])
		h.reqs[h.head] = Request{} // let the body go
		h.head++
	}
	if h.head > len(h.reqs)/2 { // compact: the slice never holds more than twice the remembered
		h.reqs = append(h.reqs[:0:0], h.reqs[h.head:]...)
		h.head = 0
	}
}

func (h *history) all() []Request { return append([]Request(nil), h.reqs[h.head:]...) }

func (h *history) reset() { h.reqs, h.head, h.bytes = nil, 0, 0 }
