// Command quickstart walks one member through every service of the SDK:
// token, member registration and lookups, member codes, a sale and a return,
// a points change and its rollback, score records page by page, coupons and
// an SMS code. It prints a line per step and exits 0 when every step worked.
//
//	go run ./examples/quickstart
//
// With no settings it starts an in-process test gateway (package umptest)
// and runs against it. To run against a real gateway, set
//
//	UMP_BASE_URL     the gateway, such as https://test-ump.greedc.com
//	UMP_APP_ID       your app id
//	UMP_APP_SECRET   your app secret (never printed)
//	UMP_PHONE        a phone number you own: it is registered as a member
//	                 and sent an SMS code
//	UMP_PROJECT_ID   the store to register at (default 18756, the
//	                 document's example)
//	UMP_SMS_CODE     the code to check (else typed in, when run in a
//	                 terminal; else the check is skipped)
//	UMP_TOKEN_FILE   where the token is kept between runs (see
//	                 examples/internal/gateway)
package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	ump "github.com/greedc/ump-go"
	"github.com/greedc/ump-go/examples/internal/gateway"
	"github.com/greedc/ump-go/umptest"
)

func main() {
	gateway.Main(2*time.Minute, func(ctx context.Context) int {
		return run(ctx, os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	})
}

// run is main without the process: it returns the exit code.
func run(ctx context.Context, getenv func(string) string, stdin *os.File, stdout, stderr io.Writer) int {
	gw, code := gateway.Setup("quickstart", getenv, stderr)
	if gw == nil {
		return code
	}
	defer gw.Close()
	fmt.Fprintf(stdout, "mode:     %s\n", gw.Mode)

	j := journey{phone: "13800138000", project: "18756", run: "001", smsCode: sandboxCode(gw.Sandbox)}
	if gw.Sandbox == nil {
		j.phone, j.run = gw.Phones[0], ump.NewChangeID()[:6]
		if p := getenv("UMP_PROJECT_ID"); p != "" {
			j.project = p
		}
		j.smsCode = promptCode(getenv("UMP_SMS_CODE"), stdin, stdout)
	}
	if err := j.walk(ctx, gw.Client, stdout); err != nil {
		fmt.Fprintln(stderr, "quickstart: failed:", err)
		return 1
	}
	fmt.Fprintln(stdout, "done:     every step succeeded")
	return 0
}

// sandboxCode reads the code the in-process gateway sent: the member's
// phone, as it were.
func sandboxCode(srv *umptest.Server) func(context.Context, string) (string, error) {
	return func(_ context.Context, phone string) (string, error) {
		code, ok := srv.LastSMSCode(phone)
		if !ok {
			return "", fmt.Errorf("the test gateway sent no code to %s", mask(phone))
		}
		return code, nil
	}
}

// promptCode returns the given code, or asks for it when stdin is a
// terminal, or returns "" (skip the check).
func promptCode(given string, stdin *os.File, prompt io.Writer) func(context.Context, string) (string, error) {
	return func(_ context.Context, phone string) (string, error) {
		if given != "" {
			return given, nil
		}
		if stdin == nil {
			return "", nil
		}
		if fi, err := stdin.Stat(); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
			return "", nil
		}
		fmt.Fprintf(prompt, "sms:      type the code sent to %s: ", mask(phone))
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && line == "" {
			return "", err
		}
		return strings.TrimSpace(line), nil
	}
}
