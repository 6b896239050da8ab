package engine

import (
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/greedc/ump-go/internal/wire"
)

// Kinds of Statement.
const (
	KindChange   = "change"   // a score change (3.3)
	KindRollback = "rollback" // a rollback (3.4)
	KindOrder    = "order"    // a consume order (4.1)
	KindRefund   = "refund"   // a refund order (4.2)
	KindAdjust   = "adjust"   // AddMember's opening balance, SetBalance
)

// Statement is one entry of a member's points ledger, copied field by
// field into umptest.Statement.
type Statement struct {
	// ID is the statement_id the platform answered with: "SP0" and digits
	// for changes and rollbacks, a number for orders (like the document's
	// "134").
	ID string
	// RecordID is the id 3.5 lists the statement under.
	RecordID int64
	OpenID   string
	// ChangeID is the change_id of a change or rollback.
	ChangeID string
	// OrderNo is the order_no of an order, or the out_biz_no of a change.
	OrderNo string
	// Kind is one of the Kind constants.
	Kind string
	// Delta is the points the statement moved: negative for points taken.
	Delta int64
	Desc  string
	Time  time.Time
	// Reverses is the statement a rollback reversed (part of); ReversedBy
	// the rollbacks that reversed this one, oldest first, and Reversed the
	// points they took back in all.
	Reverses   string
	ReversedBy []string
	Reversed   int64
}

// statement is a ledger entry; reverses and reversedBy link a rollback and
// what it reversed.
type statement struct {
	recordID   int64
	id         string
	openID     string
	changeID   string
	orderNo    string
	kind       string
	delta      int64
	desc       string
	at         time.Time
	reverses   *statement
	reversedBy []*statement
	reversed   int64 // points the reversedBy rollbacks took back, positive
}

func (s *statement) view() Statement {
	v := Statement{ID: s.id, RecordID: s.recordID, OpenID: s.openID, ChangeID: s.changeID, OrderNo: s.orderNo,
		Kind: s.kind, Delta: s.delta, Desc: s.desc, Time: s.at}
	if s.reverses != nil {
		v.Reverses = s.reverses.id
	}
	for _, rb := range s.reversedBy {
		v.ReversedBy = append(v.ReversedBy, rb.id)
	}
	v.Reversed = s.reversed
	return v
}

// scoreState indexes the statements.
type scoreState struct {
	byID map[string]*statement
	// changes maps the change_id of each 3.3 change to its statement;
	// rollbacks the change_id of each 3.4 rollback to its statement.
	changes, rollbacks map[string]*statement
	sp                 int64
}

func (s *scoreState) init() {
	s.byID = map[string]*statement{}
	s.changes = map[string]*statement{}
	s.rollbacks = map[string]*statement{}
}

// post books st to m: the one place a balance changes, so the balance is
// always the sum of the ledger.
func (p *Platform) post(m *member, st *statement) {
	st.recordID = p.nextID()
	st.openID = m.OpenID
	switch {
	case st.id != "":
	case st.kind == KindOrder || st.kind == KindRefund:
		st.id = orderStatementID(st.recordID)
	default:
		// Like the example SP016244316351097643: SP0, the time, a sequence.
		p.score.sp++
		st.id = fmt.Sprintf("SP0%d%04d", st.at.UnixMilli(), p.score.sp)
	}
	m.ledger = append(m.ledger, st)
	m.Score += st.delta
	p.score.byID[st.id] = st
}

// Balance returns the member's available points (0 for nobody).
func (p *Platform) Balance(key string) int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	if m := p.find(key); m != nil {
		return m.Score
	}
	return 0
}

// Ledger returns the member's statements, oldest first.
func (p *Platform) Ledger(key string) []Statement {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := p.find(key)
	if m == nil {
		return nil
	}
	out := make([]Statement, len(m.ledger))
	for i, st := range m.ledger {
		out[i] = st.view()
	}
	return out
}

// Audit checks every member's balance against the sum of the member's
// statements, and that no balance is negative.
func (p *Platform) Audit() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, id := range sortedKeys(p.members) {
		m := p.members[id]
		var sum int64
		for _, st := range m.ledger {
			sum += st.delta
		}
		if sum != m.Score {
			return fmt.Errorf("member %s: balance %d, statements sum to %d", id, m.Score, sum)
		}
		if m.Score < 0 {
			return fmt.Errorf("member %s: negative balance %d", id, m.Score)
		}
	}
	return nil
}

// scoreChangeIn is 3.3's body.
type scoreChangeIn struct {
	OpenID       wire.String `json:"open_id"`
	Score        integer     `json:"score"`
	OutBizNo     wire.String `json:"out_biz_no"`
	OrderAmount  amount      `json:"order_amount"`
	ChangeReason wire.String `json:"change_reason"`
	ChangeEvent  wire.String `json:"change_event"`
	ChangeID     wire.String `json:"change_id"`
}

// The change events the emulated platform has registered (3.3).
const (
	EventAdd      = "event_add"
	EventSubtract = "event_subtract"
)

// scoreChange is 3.3. Every parameter of the table is required (its V2.1
// table is later than its example); a change_id already used by a change or a rollback is 150002; an
// event other than event_add/event_subtract has no rule (150001).
func (p *Platform) scoreChange(r *request) (any, *paging, *Fail) {
	var in scoreChangeIn
	if f := r.decode(&in); f != nil {
		return nil, nil, f
	}
	if blank(in.OpenID) {
		return nil, nil, fail(CodeOpenIDOrPhone)
	}
	var miss missing
	miss.num("score", in.Score.set)
	miss.str("out_biz_no", in.OutBizNo)
	miss.num("order_amount", in.OrderAmount.set)
	miss.str("change_reason", in.ChangeReason)
	miss.str("change_event", in.ChangeEvent)
	miss.str("change_id", in.ChangeID)
	if f := miss.fail(); f != nil {
		return nil, nil, f
	}
	if in.Score.v <= 0 {
		return nil, nil, failMsg(CodeInvalidParams, "score")
	}
	sign := int64(1)
	switch in.ChangeEvent {
	case EventAdd:
	case EventSubtract:
		sign = -1
	default:
		return nil, nil, fail(CodeNoScoreRule)
	}
	m := p.find(string(in.OpenID))
	if m == nil {
		return nil, nil, fail(CodeMemberNotFound)
	}
	id := string(in.ChangeID)
	if p.score.changes[id] != nil || p.score.rollbacks[id] != nil {
		return nil, nil, failMsg(CodeDuplicate, "change_id")
	}
	if sign < 0 && m.Score < in.Score.v {
		return nil, nil, fail(CodeInsufficient)
	}
	if !fitsInteger(m.Score + sign*in.Score.v) {
		return nil, nil, failMsg(CodeInvalidParams, "score: the balance would leave the Integer range")
	}
	st := &statement{kind: KindChange, changeID: id, orderNo: string(in.OutBizNo), delta: sign * in.Score.v,
		desc: string(in.ChangeReason), at: r.now}
	p.post(m, st)
	p.score.changes[id] = st
	return statementData{StatementID: st.id}, nil, nil
}

// statementData is the data of 3.3 and 3.4.
type statementData struct {
	StatementID string `json:"statement_id"`
}

// scoreRollbackIn is 3.4's body.
type scoreRollbackIn struct {
	OpenID        wire.String `json:"open_id"`
	StatementID   wire.String `json:"statement_id"`
	RollbackScore integer     `json:"rollback_score"`
	ChangeID      wire.String `json:"change_id"`
}

// scoreRollback is 3.4, in its two modes:
//
//   - statement_id and a new change_id: reverse rollback_score points of
//     that statement;
//   - change_id alone, the id of an earlier 3.3 change: reverse
//     rollback_score points of that change, or answer 150004 if no change
//     was made with it (then nothing moved).
//
// rollback_score is required (the document's table), 1 up to the points not
// yet rolled back: several partial rollbacks of one statement may together
// reverse all of it, and asking for more than is left is 1001. A change_id
// already used, by a change or a rollback, is 150002, as 3.4's idempotency
// note says. The answer carries the reversed statement's id, as the
// document's example does.
func (p *Platform) scoreRollback(r *request) (any, *paging, *Fail) {
	var in scoreRollbackIn
	if f := r.decode(&in); f != nil {
		return nil, nil, f
	}
	if blank(in.OpenID) {
		return nil, nil, fail(CodeOpenIDOrPhone)
	}
	var miss missing
	miss.num("rollback_score", in.RollbackScore.set)
	miss.str("change_id", in.ChangeID)
	if f := miss.fail(); f != nil {
		return nil, nil, f
	}
	if in.RollbackScore.v <= 0 {
		return nil, nil, failMsg(CodeInvalidParams, "rollback_score")
	}
	m := p.find(string(in.OpenID))
	if m == nil {
		return nil, nil, fail(CodeMemberNotFound)
	}
	id := string(in.ChangeID)
	if p.score.rollbacks[id] != nil {
		return nil, nil, failMsg(CodeDuplicate, "change_id")
	}
	var target *statement
	if !blank(in.StatementID) {
		if p.score.changes[id] != nil {
			return nil, nil, failMsg(CodeDuplicate, "change_id")
		}
		target = p.score.byID[string(in.StatementID)]
		if target != nil && (target.kind == KindRollback || target.kind == KindAdjust) {
			target = nil
		}
	} else {
		target = p.score.changes[id]
	}
	if target == nil || target.openID != m.OpenID {
		return nil, nil, fail(CodeStatementNotFound)
	}
	amount := in.RollbackScore.v
	if left := abs(target.delta) - target.reversed; amount > left {
		return nil, nil, failMsg(CodeInvalidParams, "rollback_score exceeds the "+strconv.FormatInt(left, 10)+" points left to roll back")
	}
	delta := -amount
	if target.delta < 0 {
		delta = amount
	}
	if m.Score+delta < 0 {
		return nil, nil, fail(CodeInsufficient)
	}
	if !fitsInteger(m.Score + delta) {
		return nil, nil, failMsg(CodeInvalidParams, "rollback_score: the balance would leave the Integer range")
	}
	rb := &statement{kind: KindRollback, changeID: id, delta: delta, desc: "积分回退", at: r.now, reverses: target}
	p.post(m, rb)
	target.reversedBy = append(target.reversedBy, rb)
	target.reversed += amount
	p.score.rollbacks[id] = rb
	return statementData{StatementID: target.id}, nil, nil
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

// scoreRecordsIn is 3.5's body: camelCase paging there (unlike 3.8 and 5.5).
type scoreRecordsIn struct {
	OpenID    wire.String `json:"open_id"`
	ScoreType integer     `json:"score_type"`
	PageSize  integer     `json:"pageSize"`
	PageNo    integer     `json:"pageNo"`
}

// recordItem is one row of 3.5's answer. amount is signed: negative for
// points spent, so a row says which way it went without a filter.
type recordItem struct {
	ID         int64         `json:"id"`
	Amount     int64         `json:"amount"`
	Desc       string        `json:"desc"`
	CreateTime wire.DateTime `json:"createTime"`
	UpdateTime wire.DateTime `json:"updateTime"`
}

// scoreRecords is 3.5: newest first; score_type 0 all, 1 income (positive),
// 2 spending (negative); pageNo defaults to 1 and pageSize to 10.
func (p *Platform) scoreRecords(r *request) (any, *paging, *Fail) {
	var in scoreRecordsIn
	if f := r.decode(&in); f != nil {
		return nil, nil, f
	}
	if blank(in.OpenID) {
		return nil, nil, fail(CodeOpenIDOrPhone)
	}
	if in.ScoreType.v < 0 || in.ScoreType.v > 2 {
		return nil, nil, failMsg(CodeInvalidParams, "score_type")
	}
	no, size, f := page(in.PageNo, in.PageSize, 10)
	if f != nil {
		return nil, nil, f
	}
	m := p.find(string(in.OpenID))
	if m == nil {
		return nil, nil, fail(CodeMemberNotFound)
	}
	var rows []*statement
	for _, st := range m.ledger {
		if in.ScoreType.v == 0 || (in.ScoreType.v == 1 && st.delta > 0) || (in.ScoreType.v == 2 && st.delta < 0) {
			rows = append(rows, st)
		}
	}
	sort.SliceStable(rows, func(i, j int) bool {
		if !rows[i].at.Equal(rows[j].at) {
			return rows[i].at.After(rows[j].at)
		}
		return rows[i].recordID > rows[j].recordID
	})
	start, end := p.window(no, size, len(rows))
	items := make([]recordItem, 0, end-start)
	for _, st := range rows[start:end] {
		items = append(items, recordItem{ID: st.recordID, Amount: st.delta, Desc: st.desc,
			CreateTime: wire.DateTime(st.at), UpdateTime: wire.DateTime(st.at)})
	}
	return items, &paging{PageNo: no, PageSize: size, TotalCount: int64(len(rows))}, nil
}

// orderStatementID is the id of an order's statement: a number in a string,
// like 4.1's example "134".
func orderStatementID(recordID int64) string { return strconv.FormatInt(recordID, 10) }
