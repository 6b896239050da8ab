// Command ump is the command-line tool for integrators and operators of the
// member open platform (格力地产会员开放平台), built on the ump-go SDK:
//
//	go install github.com/greedc/ump-go/cmd/ump@latest
//
//	ump member get --phone 13800000000          # a member, as JSON
//	ump score records --open-id OPEN_ID --all   # points statements, a table
//	ump score change --open-id OPEN_ID --score 100 --event add \
//	    --reason goodwill --out-biz-no T-881 --order-amount 0
//	ump coupon list --open-id OPEN_ID
//	ump token show -o table                     # expiry and today's budget
//	ump token bootstrap                         # the first token, once
//	ump sign --query 'access_token=...&timestamp=...' --body '{...}'
//	ump call wk.user.level.list --body '{"page_no":1}'
//	ump sandbox --addr 127.0.0.1:8080           # the umptest gateway
//
// Configuration comes from flags or the environment, flags winning:
// --base-url or UMP_BASE_URL, --app-id or UMP_APP_ID, --store or
// UMP_TOKEN_STORE (file:/path or redis://host:port/db: the token store the
// app's services share). The app secret is read only from the environment
// variable UMP_APP_SECRET, or the one --secret-env names: never from a flag
// (flags show in process lists and shell history), and it is never printed.
//
// Calls never obtain a token by themselves: the platform allows one obtain a
// day, and a new token retires the one the app's services use. They use the
// token in the store, refreshing it through the store's lease like any
// process of the fleet; "ump token bootstrap --yes" fills an empty store.
//
// Lists print as tables and single objects as JSON unless --output (-o)
// says otherwise; sign prints text for the eye. Exit codes: 0 success; 1 the
// platform answered with an error (printed as "error 110003: 会员未绑定
// (wk.user.info.query)") or the command failed; 2 bad flags, arguments or
// configuration, including a request the SDK's validation refused (every bad
// field is listed), in which case nothing was sent.
package main
