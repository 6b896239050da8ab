// Package umptest is an in-process, stateful emulation of the member open
// platform's gateway, for testing code that uses package ump: what
// stripe-mock is for Stripe, but with state, a controllable clock and fault
// injection.
//
//	srv := umptest.NewServer()
//	defer srv.Close()
//	openID := srv.AddMember(umptest.Member{Phone: "13800000000"})
//	c := srv.Client() // ump.NewClient for the server's app, on its clock
//	// ... call c, then look at srv.Balance(openID), srv.Ledger(openID),
//	// srv.Requests(), srv.Stats().
//
// The gateway serves all nineteen calls of the platform document
// (sections 2-6) at {URL}/gw/gateway/{method}/v1, and checks every request
// the way the document says the platform does. The command `ump sandbox`
// (cmd/ump) serves the same gateway on an address of your choice.
//
// # Requests
//
// POST with the business parameters as a JSON body is the documented form;
// GET with the business parameters in the query is accepted too (NOTES.md
// #1), and then they are signed as query parameters. Numbers sent as strings
// and strings sent as numbers are accepted, as the document's own examples
// send them; a value of the wrong shape, or a missing required parameter,
// is 1001. Spellings are the document's: 3.5 pages with pageNo/pageSize,
// 3.8 and 5.5 with page_no/page_size, 4.1 in snake_case.
//
// Every request is checked in this order: the path names one of the
// nineteen methods; the verb is GET or POST; timestamp (epoch milliseconds)
// is within 3 s of the server's clock; the credential (app_id for 2.1,
// refresh_token for 2.2, access_token otherwise) is known and not expired;
// sign is the document's signature over the query and the exact body bytes
// received, computed by the emulator's own implementation (not ump.Sign),
// so a signing bug in the SDK is caught rather than shared.
//
// # Answers
//
// Every answer, success or refusal, and the answers of faults that answer,
// carries an HTTP Date header stamped from the server's Clock (UTC,
// http.TimeFormat), as a real gateway's carries its own time; the fault
// NoDate leaves it out.
//
// Each method answers in the envelope shape of its example in the document,
// so a client must decode them all: error_code 200 with error_message ""
// (3.1, 3.3-3.5, 4.x, 6.x), errorCode/errorMessage (3.2, 3.6, 3.7), null
// error fields with paging fields (3.8, 5.1-5.3, 5.5), the bare shape of
// the token calls, and so on. Paged calls put pageNo, pageSize and
// totalCount at the top level. The member object spells the level
// level_num, as the example does (the table says level_number). Failures
// carry the document's code and message.
//
// # Tokens
//
// 2.1 issues an access token and a refresh token, each 34 characters ("at"
// or "rt" and 32 hex digits); expire_in is 7200 and the refresh token lives
// a year, both on the server's clock. An app may obtain once and refresh 20
// times per Beijing calendar day (UTC+8; WithTokenLimits changes that). An
// obtain retires every earlier token; a refresh retires the access tokens
// issued before it under the same refresh token. A retired access token
// stops working at once unless WithRefreshGrace says otherwise.
// ExpireAccessTokens forces expiry; IssueToken hands a test a token without
// spending the day's obtain.
//
// # State and rules
//
//   - Members (3.1-3.2): a phone registers once. Calls whose open_id
//     parameter the document describes as "open_id or phone" accept either.
//     The member object carries the member's open_id (the example shows
//     null there).
//   - Member codes (3.6-3.7): 20 digits, parse for 60 s (WithMemberCodeTTL);
//     an unknown or expired code is 110006 ("会员码已失效", the global
//     table), not 3.7's own 110001, which the global table gives to an empty
//     phone.
//   - Levels (3.8): the seven of the document's example; growth values of
//     0, 300, 1000, 3000, 6000, 10000, 20000 reach them (SetLevels changes
//     them). A consume order's order_score adds to the member's growth
//     value. At the top level, next_level_* repeat the level and
//     is_max_level is 1.
//   - Paging: a page number or size below 1, or none, takes the call's
//     default; a size above 1000 is 1001.
//   - Points (3.3-3.5): every movement is a statement in the member's
//     ledger and the balance is their sum. change_event is event_add or
//     event_subtract (anything else: 150001, no rule); every parameter of
//     3.3's table is required (NOTES.md #12); a change_id already used by a
//     change or a rollback is 150002; spending more than the balance is
//     150003. 3.5 lists newest first, amount signed (negative for points
//     spent), score_type 0 all, 1 income, 2 spending.
//   - Rollback (3.4): statement_id with a new change_id reverses that
//     statement, once (again: 150002). change_id alone, the id of an earlier
//     3.3 change, reverses that change, or answers 150004 if no change was
//     made with it (then nothing moved, and the change_id stays free: a
//     change sent later with it is applied).
//     Rollbacks are deduplicated on their change_id (150002). rollback_score
//     reverses part of the statement; absent or 0, all of it. Reversing
//     points already spent is 150003. The answer carries the statement_id of
//     the reversed statement, as the document's example does.
//   - Orders (4.1-4.2): a consume order grants order_score points; an
//     order_no already synced is 150002, so a client that lost the answer
//     can tell that the order went through. A refund needs an earlier
//     consume order of the same member as parent_order_no (120002 otherwise)
//     and may not take back more than the order granted (1001).
//   - Coupons (5.1-5.5): third_coupon_id is unique per template and
//     coupon_number per coupon (150002 for either); coupon_set is JSON
//     inside a string; each entry gives `number` coupons, all or nothing,
//     answered as [{code, open_id}] with 19-digit codes (beyond 2^53) and
//     the member's open_id even when the entry named a phone. 5.3 is
//     idempotent. 5.4 uses one coupon per listed code: a code the member
//     does not hold is 130002; one with no usable coupon (already used,
//     deleted, expired) is 130003. 5.5 filters status 1 valid, 2 used,
//     3 expired.
//   - SMS (6.1-6.2): 6-digit codes (LastSMSCode reads them), valid 5 min,
//     each verifies once; 10 per phone per Beijing day (140004); a wrong,
//     used or expired code is 140005.
//
// Member, Statement, Level, Order and Coupon are the state a test seeds and
// inspects, copied in and out of the emulator: changing a value a method
// returned changes nothing on the server.
//
// # Codes the document does not define
//
// The document names no code for these cases; the emulator answers:
//
//	HTTP 200, 1002   sign missing or wrong
//	HTTP 200, 1003   timestamp missing, malformed or more than 3 s off
//	HTTP 200, 1004   the day's obtain (1) or refreshes (20) spent
//	HTTP 200, 1006   refresh_token unknown, retired or expired (2.2)
//	HTTP 401, 401    access_token missing, unknown, retired or expired
//	HTTP 404, 404    no such gateway method
//	HTTP 405, 405    a verb other than GET or POST
//	HTTP 200, 150002 every duplicate key: change_id, order_no, phone (3.1),
//	                 third_coupon_id (5.1), coupon_number (5.2), and a
//	                 statement already rolled back
//
// and 110004 ("未找到应用") for an unknown app_id in 2.1.
//
// # Faults
//
// Server.Fail makes calls of a method go wrong between client and platform:
// slow answers, HTTP errors, "system busy", a proxy's HTML page, a cut-off
// body, a dropped connection before or after the call is applied. See
// FaultKind. Faults draw from a generator seeded by WithSeed, so a test with
// a Rate is reproducible.
//
// # Concurrency
//
// All state sits behind one mutex, and each call runs under it: however many
// clients call at once, every balance equals the sum of its statements
// (Audit checks).
package umptest
