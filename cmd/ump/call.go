package main

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/spf13/cobra"

	ump "github.com/greedc/ump-go"
)

// envelope is a gateway answer as `ump call` prints it. The data is the
// gateway's own text, re-indented: big integers keep every digit.
type envelope struct {
	Success      bool            `json:"success"`
	ErrorCode    int64           `json:"error_code,omitempty"`
	ErrorMessage string          `json:"error_message,omitempty"`
	Data         json.RawMessage `json:"data,omitempty"`
	PageNo       int64           `json:"pageNo,omitempty"`
	PageSize     int64           `json:"pageSize,omitempty"`
	TotalCount   int64           `json:"totalCount,omitempty"`
}

func (a *cli) callCommand() *cobra.Command {
	var body string
	cmd := &cobra.Command{
		Use:   "call METHOD [--body JSON|@file|-]",
		Short: "Call any gateway method with a raw JSON body and print the answer",
		Long: `call sends the body to gateway method METHOD (such as wk.user.info.query)
through the SDK's own request path (token, timestamp, sign) and prints the
answer's envelope as indented JSON, on success and on an error answer alike.

The call is never repeated once it may have reached the gateway: call does not
know which methods are safe to repeat. The token calls are refused: use
"ump token".`,
		Example: `  ump call wk.user.info.query --body '{"phone":"13800000000"}'
  ump call wk.user.level.list --body '{"page_no":1,"page_size":20}'
  ump call wk.user.info.add --body @member.json`,
		Args: cobra.ExactArgs(1),
		RunE: a.act(func(ctx context.Context, _ *cobra.Command, args []string) error {
			if a.output == formatTable {
				return usagef("call prints JSON only")
			}
			b, err := a.readBody(body)
			if err != nil {
				return err
			}
			s, err := a.client()
			if err != nil {
				return err
			}
			defer s.close()
			ans, err := s.Raw(ctx, args[0], b)
			err = withFlags(err, map[string]string{"method": "METHOD", "body": "--body"})
			var api *ump.APIError
			if errors.As(err, &api) {
				if werr := writeJSON(a.stdout, envelope{ErrorCode: api.Code, ErrorMessage: api.Message}); werr != nil {
					return werr
				}
			}
			if err != nil {
				return err
			}
			return writeJSON(a.stdout, envelope{Success: true, Data: ans.Data,
				PageNo: ans.PageNo, PageSize: ans.PageSize, TotalCount: ans.TotalCount})
		}),
	}
	cmd.Flags().StringVar(&body, "body", "", "the body: JSON text, @file, or - for stdin (none if empty)")
	return cmd
}
