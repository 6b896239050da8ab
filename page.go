package ump

import (
	"cmp"
	"context"
	"iter"
)

// PageRequest selects one page of a paged call. Zero values take the
// gateway's defaults (page 1; the page size each call documents).
type PageRequest struct {
	PageNo   int
	PageSize int
}

// MaxPageSize is the largest page size the SDK asks a paged call for. The
// document names no limit; larger pages risk the answer size cap.
const MaxPageSize = 100

// Page is one page of a paged call's answer: the items, and the paging
// fields the gateway answered (the requested page and size where it did not
// say).
type Page[T any] struct {
	Items      []T
	PageNo     int
	PageSize   int
	TotalCount int
}

// orDefault returns r with page 1 for a zero PageNo and size for a zero
// PageSize.
func (r PageRequest) orDefault(size int) PageRequest {
	return PageRequest{PageNo: max(r.PageNo, 1), PageSize: cmp.Or(r.PageSize, size)}
}

// listPage is the shared path of every paged call: it sends body, decodes a
// page of wire items W and converts each to T. req is the page asked for.
func listPage[W, T any](ctx context.Context, c *Client, ep *endpoint, body any, req PageRequest, convert func(*W) T) (*Page[T], error) {
	data, pg, err := call[[]W](ctx, c, ep, body, "")
	if err != nil {
		return nil, err
	}
	out := &Page[T]{
		Items:  make([]T, len(data)),
		PageNo: cmp.Or(int(pg.PageNo), req.PageNo), PageSize: cmp.Or(int(pg.PageSize), req.PageSize),
		TotalCount: int(pg.TotalCount),
	}
	for i := range data {
		out.Items[i] = convert(&data[i])
	}
	return out, nil
}

// allPages walks a paged call from req's page on, yielding every item, until
// TotalCount items were seen or a page comes back short or empty. list is
// the call for one page; it gets a copy of req with the page number set, so
// the caller's request is never changed. An error is yielded once and ends
// the walk.
func allPages[T any](ctx context.Context, req PageRequest, list func(context.Context, PageRequest) (*Page[T], error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		// Copies: the sequence may be walked more than once. A bad page
		// number goes to list as it is, so that it is reported.
		first, size := cmp.Or(req.PageNo, 1), req.PageSize
		seen := (first - 1) * max(size, 0)
		for no := first; ; no++ {
			p, err := list(ctx, PageRequest{PageNo: no, PageSize: size})
			if err != nil {
				var zero T
				yield(zero, err)
				return
			}
			for _, it := range p.Items {
				if !yield(it, nil) {
					return
				}
			}
			if size <= 0 { // the caller took the gateway's default size
				// An answer without pageSize: its first page shows the size.
				size = max(p.PageSize, len(p.Items))
				seen = (first - 1) * size
			}
			seen += len(p.Items)
			if len(p.Items) == 0 || len(p.Items) < size || (p.TotalCount > 0 && seen >= p.TotalCount) {
				return
			}
		}
	}
}
