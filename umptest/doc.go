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
// GET with the business parameters in the query is accepted too (the
// document marks 3.8, 5.4 and 5.5 GET), and then they are signed as query
// parameters. Numbers sent as strings
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
//   - Members (3.1-3.2): a phone registers once (again: 190001, invented).
//     Calls whose open_id parameter the document describes as "open_id or
//     phone" accept either. The member object carries the member's open_id
//     (the example shows null there).
//   - Member codes (3.6-3.7): 20 digits, parse for 60 s (WithMemberCodeTTL);
//     an unknown or expired code is 110006 ("会员码已失效", the global
//     table), or under WithPerCallCodes 3.7's own 110001 ("会员条形码失效"),
//     which the global table gives to an empty phone. Likewise the
//     SystemBusy fault on 3.6 and 3.7 answers 500, or under WithPerCallCodes
//     their tables' 1001 ("系统繁忙").
//   - Levels (3.8): the seven of the document's example; growth values of
//     0, 300, 1000, 3000, 6000, 10000, 20000 reach them (SetLevels changes
//     them). A consume order's order_score adds to the member's growth
//     value. At the top level, next_level_* repeat the level and
//     is_max_level is 1.
//   - Paging (3.5, 3.8, 5.5): a page number or size below 1, or none, takes
//     the call's default; a size above 1000 is 1001. WithPageSizeCap,
//     WithPageNoIgnored and WithoutTotalCount emulate gateways that page
//     less helpfully.
//   - Integers: every parameter the document types Integer (scores,
//     points, counts, page numbers) is a Java int: outside the int32 range
//     it is 1001 naming the parameter. A change, rollback or order that
//     would take a balance or growth value outside int32 is 1001 too (the
//     document has no code of its own for it), so balances never wrap.
//   - Points (3.3-3.5): every movement is a statement in the member's
//     ledger and the balance is their sum. change_event is event_add or
//     event_subtract (anything else: 150001, no rule); every parameter of
//     3.3's table is required (its V2.1 table is later than its example); a
//     change_id already used by a change or a rollback is 150002, the one
//     place the document's table puts that code; spending more than the
//     balance is 150003. 3.5 lists newest first, amount signed (negative
//     for points spent), score_type 0 all, 1 income, 2 spending.
//   - Rollback (3.4): rollback_score is required, as the table says, and
//     reverses that many points. statement_id with a new change_id reverses
//     part or all of that statement; several rollbacks may reverse one
//     statement up to its points, and asking for more than is left is 1001.
//     change_id alone, the id of an earlier 3.3 change, reverses that
//     change, or answers 150004 if no change was made with it (then nothing
//     moved, and the change_id stays free: a change sent later with it is
//     applied). A rollback's change_id is deduplicated like a change's
//     (150002). Reversing points already spent is 150003. The answer
//     carries the statement_id of the reversed statement, as the document's
//     example does.
//   - Orders (4.1-4.2): a consume order grants order_score points; an
//     order_no already synced is 150002, so a client that lost the answer
//     can tell that the order went through. The document names no code for
//     a repeated order_no: orders move points, and 150002 ("唯一标识已存在")
//     is its points section's code for a key already used, so the emulator
//     reads it as applying to order_no too; the document does not promise
//     it. A refund needs an earlier consume order of the same member as
//     parent_order_no (120002 otherwise) and may not take back more than
//     the order granted (1001). order_amount is read exactly, to the fen
//     (finer is 1001).
//   - Coupons (5.1-5.5): third_coupon_id is unique per template and
//     coupon_number per coupon: a repeat of either is 130001 ("创建优惠券失败",
//     the coupon section's failure; the document has no duplicate code
//     there); coupon_set is JSON inside a string; each entry gives `number`
//     coupons, all or nothing, answered as [{code, open_id}] with 19-digit
//     codes (beyond 2^53) and the member's open_id even when the entry named
//     a phone. 5.3 is idempotent. 5.4 uses one coupon per listed code: a
//     code the member does not hold is 130002; one with no usable coupon
//     (already used, deleted, expired) is 130003. 5.5 filters status
//     1 valid, 2 used, 3 expired.
//   - SMS (6.1-6.2): a success is answered {}, as the document shows 6.1's
//     answer (WithSMSEnvelope gives the usual envelope instead); failures
//     carry the envelope. 6-digit codes (LastSMSCode reads them), valid
//     5 min, each verifies once; 10 per phone per Beijing day (140004); a
//     wrong, used or expired code is 140005.
//
// Member, Statement, Level, Order and Coupon are the state a test seeds and
// inspects, copied in and out of the emulator: changing a value a method
// returned changes nothing on the server.
//
// # Codes the document does not define
//
// The document names no code for these cases. The emulator answers the
// codes below, which are its own invention: a client must not key its
// behaviour on them, since the real gateway may answer anything there.
//
//	HTTP 200, 1002   sign missing or wrong
//	HTTP 200, 1003   timestamp missing, malformed or more than 3 s off
//	HTTP 200, 1004   the day's obtain (1) or refreshes (20) spent
//	HTTP 200, 1006   refresh_token unknown, retired or expired (2.2)
//	HTTP 401, 401    access_token missing, unknown, retired or expired
//	HTTP 404, 404    no such gateway method
//	HTTP 405, 405    a verb other than GET or POST
//	HTTP 200, 190001 a phone registered already (3.1)
//
// and these documented codes where the document does not say which applies:
// 110004 ("未找到应用") for an unknown app_id in 2.1; 1001 for a malformed
// request and a value outside the Integer range; 130001 for a repeated
// third_coupon_id or coupon_number; 150002 for a repeated order_no.
//
// # Faults
//
// Server.Fail makes calls of a method go wrong between client and platform.
// Faults draw from a generator seeded by WithSeed, so a test with a Rate is
// reproducible. The kinds (see FaultKind):
//
//	Delay            answers after Fault.Delay; ends early and applies when the
//	                 client gives up (fast, but a synchronisation no gateway has)
//	LateApply        holds the call's change_id/order_no, waits the whole
//	                 Fault.Delay whatever the client does, then applies: the
//	                 real slow gateway; a resend meanwhile waits, then is 150002
//	HTTPStatus       a plain-text HTTP error (503 by default), not applied
//	SystemBusy       the envelope with code 500 (3.6/3.7 under WithPerCallCodes:
//	                 1001), not applied
//	HTMLPage         a proxy's HTML error page (502 by default), not applied
//	MalformedBody    applied, then half the answer
//	DropBeforeApply  the connection closed, not applied
//	DropAfterApply   applied, then the connection closed
//	NoDate           applied and answered, without the HTTP Date header
//	Redirect         a 3xx (307 by default) to Fault.Location plus the request's
//	                 path and query, credentials included; not applied
//	EchoRequest      a 1001 refusal quoting the request URI, body and app secret;
//	                 not applied
//	OddData          applied, then success with data of an unexpected shape
//	HugeAnswer       applied, then the answer with Fault.Size (5 MiB) of padding
//
// # Hostile clients
//
// A handler is meant to face careless and hostile clients too (`ump sandbox`
// serves it on a real address). A body over WithMaxBodyBytes (MaxBodyBytes,
// 1 MiB, by default) is refused with HTTP 413, unread when announced; a body
// that cannot be read and a malformed query are HTTP 400 with the reason in
// plain text. Requests remembers only the newest requests within
// WithRequestHistory's bounds (MaxRequests and MaxRequestBytes), and the body
// only of a request that passed the checks of its timestamp, credential and
// sign, so strangers cannot fill the memory. Timeouts are the http.Server's
// business: `ump sandbox` sets all of them.
//
// # Concurrency
//
// All state sits behind one mutex, and each call runs under it: however many
// clients call at once, every balance equals the sum of its statements
// (Audit checks). Writes of one key (a change_id of 3.3, a rollback's
// change_id of 3.4, an order_no of 4.1 and 4.2) are also serialised, like
// a real gateway's unique index: a LateApply call holds its key through its
// whole delay, and a resend under that key waits for it.
package umptest
