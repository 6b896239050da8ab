package ump

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"iter"
	"reflect"
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

// ErrIncompletePages matches the error an iterator yields when the gateway's
// pages end before the totalCount it announced: an empty page, or a page
// that repeats the one before (a gateway that ignores pageNo), while fewer
// items than totalCount were seen. The items yielded before it are real;
// the list is not complete.
var ErrIncompletePages = errors.New("ump: the pages ended before the answer's totalCount")

// allPages walks a paged call from req's page on, yielding every item
// (docs/spec-notes.md#23). It goes on while fewer than the answer's
// TotalCount items were seen, whatever page size the gateway served; without
// a TotalCount it stops at an empty page. It never loops: a page that
// repeats the one before ends the walk, and, like an empty page before
// TotalCount is reached, with an error matching ErrIncompletePages when
// TotalCount said more remain. list is the call for one page; it gets a
// copy of req with the page number set, so the caller's request is never
// changed. An error is yielded once and ends the walk.
func allPages[T any](ctx context.Context, req PageRequest, list func(context.Context, PageRequest) (*Page[T], error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		// Copies: the sequence may be walked more than once. A bad page
		// number goes to list as it is, so that it is reported.
		first, size := cmp.Or(req.PageNo, 1), req.PageSize
		seen := -1 // items before and on the pages walked; set by the first page
		var previous []T
		for no := first; ; no++ {
			p, err := list(ctx, PageRequest{PageNo: no, PageSize: size})
			if err != nil {
				var zero T
				yield(zero, err)
				return
			}
			if seen < 0 {
				// The pages before the first asked for count as full, at
				// the size asked for, or served when none was asked.
				seen = (first - 1) * cmp.Or(size, p.PageSize, len(p.Items))
			}
			repeated := no > first && len(p.Items) > 0 && reflect.DeepEqual(p.Items, previous)
			if len(p.Items) == 0 || repeated {
				if p.TotalCount > seen {
					var zero T
					yield(zero, fmt.Errorf("%w: page %d %s after %d of %d items", ErrIncompletePages, no,
						map[bool]string{true: "repeats the one before", false: "is empty"}[repeated], seen, p.TotalCount))
				}
				return
			}
			for _, it := range p.Items {
				if !yield(it, nil) {
					return
				}
			}
			seen += len(p.Items)
			if p.TotalCount > 0 && seen >= p.TotalCount {
				return
			}
			previous = p.Items
		}
	}
}
