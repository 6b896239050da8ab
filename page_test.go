package ump

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPages(t *testing.T) {
	all := make([]int, 23)
	for i := range all {
		all[i] = i
	}
	// serve answers like a paged call through listPage: the gateway's
	// default size is 10, and without a pageSize field the page reports the
	// size it was asked for (0 when it was asked for none).
	serve := func(size int, pageSizeField bool, fetched *[]int) func(context.Context, PageRequest) (*Page[int], error) {
		return func(_ context.Context, req PageRequest) (*Page[int], error) {
			no := req.PageNo
			*fetched = append(*fetched, no)
			sz := size
			if sz <= 0 {
				sz = 10 // the gateway's default
			}
			lo, hi := min((no-1)*sz, len(all)), min(no*sz, len(all))
			p := &Page[int]{Items: all[lo:hi], PageNo: no, PageSize: req.PageSize, TotalCount: len(all)}
			if pageSizeField {
				p.PageSize = sz
			}
			return p, nil
		}
	}
	for _, tc := range []struct {
		name      string
		first     int
		size      int
		sizeField bool
		want      []int
		pages     []int
	}{
		{"explicit size", 1, 5, true, all, []int{1, 2, 3, 4, 5}},
		{"default size, reported", 0, 0, true, all, []int{1, 2, 3}},
		{"default size, not reported", 1, 0, false, all, []int{1, 2, 3}},
		{"from page 2", 2, 10, true, all[10:], []int{2, 3}},
		{"exact multiple stops on the count", 1, 23, true, all, []int{1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var fetched []int
			seq := allPages(context.Background(), PageRequest{PageNo: tc.first, PageSize: tc.size}, serve(tc.size, tc.sizeField, &fetched))
			var got []int
			for v, err := range seq {
				require.NoError(t, err)
				got = append(got, v)
			}
			require.Equal(t, tc.want, got)
			require.Equal(t, tc.pages, fetched)
			// The sequence can be walked again with the same result.
			fetched = nil
			got = got[:0]
			for v := range seq {
				got = append(got, v)
			}
			require.Equal(t, tc.want, got)
			require.Equal(t, tc.pages, fetched)
		})
	}
	t.Run("error ends the walk", func(t *testing.T) {
		boom := errors.New("boom")
		seq := allPages(context.Background(), PageRequest{PageNo: 1, PageSize: 5}, func(_ context.Context, req PageRequest) (*Page[int], error) {
			if req.PageNo == 2 {
				return nil, boom
			}
			return &Page[int]{Items: all[:5], TotalCount: 23}, nil
		})
		var n int
		var last error
		for _, err := range seq {
			n++
			last = err
		}
		require.Equal(t, 6, n)
		require.ErrorIs(t, last, boom)
	})
	t.Run("break stops fetching", func(t *testing.T) {
		var fetched []int
		for v := range allPages(context.Background(), PageRequest{PageNo: 1, PageSize: 5}, serve(5, true, &fetched)) {
			if v == 6 {
				break
			}
		}
		require.Equal(t, []int{1, 2}, fetched)
	})
}
