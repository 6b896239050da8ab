package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"github.com/spf13/cobra"

	ump "github.com/greedc/ump-go"
)

// credentialParams are query parameters whose values are credentials: the
// canonical string shows their length, never them.
var credentialParams = []string{"access_token", "refresh_token"}

func (a *cli) signCommand() *cobra.Command {
	var query, body string
	cmd := &cobra.Command{
		Use:   "sign --query 'k=v&...' [--body JSON|@file|-]",
		Short: "Print the canonical string and the sign of a request, to find a sign mismatch",
		Long: `sign prints the string the gateway's signature hashes (query parameters but
sign, sorted by name, each as name+value; then the body exactly as given; then
the app secret) and its MD5, the sign. The secret, access_token and
refresh_token show as their length only, so the output can be pasted to the
platform team, who compare it with theirs.

--body takes the JSON text, @file to read a file, or - to read stdin; the
bytes are signed exactly as given (a trailing newline too).

The default output is text, to be read by eye; --output json prints an object.`,
		Example: `  ump sign --query 'access_token=at01...&timestamp=1710381600000' --body '{"phone":"13800000000"}'`,
		Args:    cobra.NoArgs,
		RunE: a.act(func(_ context.Context, _ *cobra.Command, _ []string) error {
			params, err := url.ParseQuery(query)
			if err != nil {
				return usagef("--query: %v", err)
			}
			b, err := a.readBody(body)
			if err != nil {
				return err
			}
			secret, err := a.secret()
			if err != nil {
				return err
			}
			sign := ump.Sign(params, b, secret)
			shown := url.Values{}
			for k, v := range params {
				shown[k] = v
			}
			for _, k := range credentialParams {
				if vs, ok := params[k]; ok {
					masked := make([]string, len(vs))
					for i, v := range vs {
						masked[i] = fmt.Sprintf("<%s: %d bytes>", k, len(v))
					}
					shown[k] = masked
				}
			}
			canonical := ump.CanonicalString(shown, b, fmt.Sprintf("<app_secret: %d bytes>", len(secret)))
			if bytes.HasSuffix(b, []byte("\n")) {
				fmt.Fprintln(a.stderr, "note: the body ends with a newline, and it is signed too; the SDK sends none")
			}
			if a.format("text") == formatJSON {
				return writeJSON(a.stdout, struct {
					Canonical string `json:"canonical"`
					Sign      string `json:"sign"`
				}{canonical, sign})
			}
			_, err = fmt.Fprintf(a.stdout, "canonical: %s\nsign:      %s\n", canonical, sign)
			return err
		}),
	}
	cmd.Flags().StringVar(&query, "query", "", "the query parameters as sent, such as 'access_token=...&timestamp=...' (sign is ignored)")
	cmd.Flags().StringVar(&body, "body", "", "the body: JSON text, @file, or - for stdin")
	return cmd
}

// readBody reads a --body value: JSON text, @file, or - for stdin.
func (a *cli) readBody(v string) ([]byte, error) {
	switch {
	case v == "-":
		b, err := io.ReadAll(a.stdin)
		if err != nil {
			return nil, fmt.Errorf("reading the body from stdin: %w", err)
		}
		return b, nil
	case strings.HasPrefix(v, "@"):
		b, err := os.ReadFile(v[1:])
		if err != nil {
			return nil, usagef("--body: %v", err)
		}
		return b, nil
	}
	return []byte(v), nil
}
