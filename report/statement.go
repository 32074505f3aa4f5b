package report

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crowdledger/crowdledger/internal/pg"
	"github.com/shopspring/decimal"

	"github.com/crowdledger/crowdledger/audit"
	"github.com/crowdledger/crowdledger/internal/money"
	"github.com/crowdledger/crowdledger/ledger"
)

// Formats.
const (
	JSON    = "json"
	CSV     = "csv"
	Camt053 = "camt053"
)

// ErrFormat is returned for an unknown format.
var ErrFormat = errors.New("format must be json, csv or camt053")

// Reporter reads reports.
type Reporter struct {
	db     pg.Pool
	ledger *ledger.Ledger
}

// New returns a reporter.
func New(db *pgxpool.Pool, l *ledger.Ledger) *Reporter { return &Reporter{db: pg.Units(db), ledger: l} }

// Line is one statement entry.
type Line struct {
	Seq        int64        `json:"seq"`
	At         time.Time    `json:"at"`
	TransferID uuid.UUID    `json:"transfer_id"`
	Kind       string       `json:"kind"`
	Code       string       `json:"code"`
	Side       string       `json:"debit_credit"` // DBIT or CRDT, from the account's side
	Amount     money.Amount `json:"amount"`
	Balance    money.Amount `json:"balance"` // posted credits - debits after the entry
	Pending    money.Amount `json:"pending_debits"`
	Campaign   string       `json:"campaign_id,omitempty"`
	Commitment string       `json:"commitment_id,omitempty"`
	Counter    uuid.UUID    `json:"counterparty_account_id"`
}

// Statement writes an account's entries in (from, to] with its opening and
// closing posted balances, in the format, streaming. The request is
// recorded in the audit trail.
func (r *Reporter) Statement(ctx context.Context, w io.Writer, account uuid.UUID, from, to time.Time, format string) error {
	if format != JSON && format != CSV && format != Camt053 {
		return ErrFormat
	}
	a, err := r.ledger.Account(ctx, account)
	if err != nil {
		return err
	}
	if err := r.record(ctx, "report.statement", []string{account.String()}, map[string]any{"from": from, "to": to, "format": format}); err != nil {
		return err
	}
	var sink lineSink
	bw := bufio.NewWriterSize(w, 64<<10)
	switch format {
	case JSON:
		sink = &jsonSink{w: bw, enc: json.NewEncoder(bw)}
	case CSV:
		sink = &csvSink{w: safeCSV{csv.NewWriter(bw)}, raw: bw}
	case Camt053:
		sink = &camtSink{w: bw}
	}
	cur := a.Currency
	var closing money.Amount
	// One snapshot for the balances and the entries, so they agree.
	err = r.ledger.WithTxRead(ctx, func(tx pgx.Tx) error {
		posted := func(at time.Time) (money.Amount, error) {
			var v decimal.Decimal
			err := tx.QueryRow(ctx, `SELECT coalesce((SELECT credits_posted - debits_posted FROM account_entries
				WHERE account_id = $1 AND created_at <= $2 ORDER BY created_at DESC, seq DESC LIMIT 1), 0)`, account, at).Scan(&v)
			if err != nil {
				return money.Amount{}, err
			}
			return money.FromDecimal(cur, v)
		}
		opening, err := posted(from)
		if err != nil {
			return err
		}
		if closing, err = posted(to); err != nil {
			return err
		}
		if err := sink.begin(a, from, to, opening, closing); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT ae.seq, ae.created_at, ae.transfer_id, t.kind, t.code, ae.side::text, t.amount,
				ae.credits_posted - ae.debits_posted, ae.debits_pending,
				coalesce(t.metadata->>'campaign_id', ''), coalesce(t.metadata->>'commitment_id', ''),
				CASE WHEN ae.side = 'D' THEN t.credit_account_id ELSE t.debit_account_id END
			FROM account_entries ae JOIN transfers t ON t.id = ae.transfer_id
			WHERE ae.account_id = $1 AND ae.created_at > $2 AND ae.created_at <= $3
			ORDER BY ae.created_at, ae.seq`, account, from, to)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var l Line
			var side string
			var amt, bal, pend decimal.Decimal
			if err := rows.Scan(&l.Seq, &l.At, &l.TransferID, &l.Kind, &l.Code, &side, &amt, &bal, &pend, &l.Campaign, &l.Commitment, &l.Counter); err != nil {
				return err
			}
			l.At = l.At.UTC()
			l.Side = "CRDT"
			if side == "D" {
				l.Side = "DBIT"
			}
			l.Amount, _ = money.FromDecimal(cur, amt)
			l.Balance, _ = money.FromDecimal(cur, bal)
			l.Pending, _ = money.FromDecimal(cur, pend)
			if err := sink.line(l); err != nil {
				return err
			}
		}
		return rows.Err()
	})
	if err != nil {
		return err
	}
	if err := sink.end(closing); err != nil {
		return err
	}
	return bw.Flush()
}

func (r *Reporter) record(ctx context.Context, action string, objects []string, facts map[string]any) error {
	ev, err := audit.New(ctx, action, objects, facts)
	if err != nil {
		return err
	}
	return audit.Append(ctx, r.db, ev)
}

type lineSink interface {
	begin(a ledger.Account, from, to time.Time, opening, closing money.Amount) error
	line(l Line) error
	end(closing money.Amount) error
}

type jsonSink struct {
	w     *bufio.Writer
	enc   *json.Encoder
	first bool
}

func (s *jsonSink) begin(a ledger.Account, from, to time.Time, opening, _ money.Amount) error {
	head, _ := json.Marshal(map[string]any{"account_id": a.ID, "code": a.Code, "currency": a.Currency.Code(), "from": from.UTC(), "to": to.UTC(),
		"opening_balance": opening})
	s.first = true
	_, err := fmt.Fprintf(s.w, "%s,\"entries\":[", head[:len(head)-1])
	return err
}

func (s *jsonSink) line(l Line) error {
	if !s.first {
		if err := s.w.WriteByte(','); err != nil {
			return err
		}
	}
	s.first = false
	b, err := json.Marshal(l)
	if err != nil {
		return err
	}
	_, err = s.w.Write(b)
	return err
}

func (s *jsonSink) end(closing money.Amount) error {
	b, _ := json.Marshal(closing)
	_, err := fmt.Fprintf(s.w, "],\"closing_balance\":%s}\n", b)
	return err
}

// csvSink writes RFC 4180 CSV (CRLF line ends), UTF-8 with a byte-order mark
// so spreadsheet software opens Chinese text correctly, ISO 8601 times, and
// an explicit debit/credit column.
type csvSink struct {
	w   safeCSV
	raw *bufio.Writer
	cur string
}

var csvHeader = []string{"seq", "booked_at", "transfer_id", "kind", "code", "debit_credit", "amount", "currency", "balance_after",
	"pending_debits", "campaign_id", "commitment_id", "counterparty_account_id"}

func (s *csvSink) begin(a ledger.Account, from, to time.Time, opening, _ money.Amount) error {
	s.w.UseCRLF = true
	if _, err := s.raw.WriteString("\ufeff"); err != nil {
		return err
	}
	s.cur = a.Currency.Code()
	if err := s.w.Write([]string{"# account", a.ID.String(), string(a.Code), a.Currency.Code(), from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339),
		"opening_balance", opening.String()}); err != nil {
		return err
	}
	return s.w.Write(csvHeader)
}

func (s *csvSink) line(l Line) error {
	dc := "C"
	if l.Side == "DBIT" {
		dc = "D"
	}
	return s.w.Write([]string{fmt.Sprint(l.Seq), l.At.Format("2006-01-02T15:04:05.000000Z"), l.TransferID.String(), l.Kind, l.Code, dc, l.Amount.String(),
		s.cur, l.Balance.String(), l.Pending.String(), l.Campaign, l.Commitment, l.Counter.String()})
}

func (s *csvSink) end(closing money.Amount) error {
	if err := s.w.Write([]string{"# closing_balance", closing.String()}); err != nil {
		return err
	}
	s.w.Flush()
	return s.w.Error()
}

// camtSink writes an ISO 20022 camt.053.001.08 bank-to-customer statement,
// element by element, so nothing accumulates in memory.
type camtSink struct {
	w    *bufio.Writer
	cur  string
	to   time.Time
	from time.Time
}

func xmlEscape(s string) string {
	var b []byte
	buf := &byteBuf{b: b}
	_ = xml.EscapeText(buf, []byte(s))
	return string(buf.b)
}

type byteBuf struct{ b []byte }

func (b *byteBuf) Write(p []byte) (int, error) { b.b = append(b.b, p...); return len(p), nil }

func camtTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func camtBalance(code string, amt money.Amount, at time.Time) string {
	ind := "CRDT"
	if amt.Sign() < 0 {
		ind, amt = "DBIT", amt.Neg()
	}
	return fmt.Sprintf(`<Bal><Tp><CdOrPrtry><Cd>%s</Cd></CdOrPrtry></Tp><Amt Ccy="%s">%s</Amt><CdtDbtInd>%s</CdtDbtInd><Dt><DtTm>%s</DtTm></Dt></Bal>`,
		code, amt.Currency().Code(), amt.String(), ind, camtTime(at))
}

func (s *camtSink) begin(a ledger.Account, from, to time.Time, opening, closing money.Amount) error {
	s.cur, s.from, s.to = a.Currency.Code(), from, to
	now := time.Now()
	id := "CL" + now.UTC().Format("20060102150405") + a.ID.String()[:8]
	_, err := fmt.Fprintf(s.w, `<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"><BkToCstmrStmt><GrpHdr><MsgId>%s</MsgId><CreDtTm>%s</CreDtTm></GrpHdr>`+
		`<Stmt><Id>%s</Id><CreDtTm>%s</CreDtTm><FrToDt><FrDtTm>%s</FrDtTm><ToDtTm>%s</ToDtTm></FrToDt>`+
		`<Acct><Id><Othr><Id>%s</Id><SchmeNm><Prtry>crowdledger</Prtry></SchmeNm></Othr></Id><Ccy>%s</Ccy><Nm>%s</Nm></Acct>%s`,
		id, camtTime(now), id, camtTime(now), camtTime(from), camtTime(to), hexID(a.ID.String()), s.cur, xmlEscape(string(a.Code)),
		camtBalance("OPBD", opening, from)+camtBalance("CLBD", closing, to))
	return err
}

func (s *camtSink) line(l Line) error {
	status := "BOOK"
	if l.Kind == string(ledger.KindPending) || l.Kind == string(ledger.KindVoidPending) {
		status = "PDNG"
	}
	_, err := fmt.Fprintf(s.w, `<Ntry><NtryRef>%d</NtryRef><Amt Ccy="%s">%s</Amt><CdtDbtInd>%s</CdtDbtInd><Sts><Cd>%s</Cd></Sts>`+
		`<BookgDt><DtTm>%s</DtTm></BookgDt><AcctSvcrRef>%s</AcctSvcrRef><BkTxCd><Prtry><Cd>%s</Cd><Issr>crowdledger</Issr></Prtry></BkTxCd>`+
		`<NtryDtls><TxDtls><Refs><AcctSvcrRef>%s</AcctSvcrRef><EndToEndId>%s</EndToEndId></Refs><AddtlTxInf>%s</AddtlTxInf></TxDtls></NtryDtls></Ntry>`,
		l.Seq, s.cur, l.Amount.String(), l.Side, status, camtTime(l.At), hexID(l.TransferID.String()), xmlEscape(l.Code+"/"+l.Kind),
		hexID(l.TransferID.String()), orNA(hexID(l.Commitment)), xmlEscape("campaign "+orNA(l.Campaign)))
	return err
}

// hexID is a UUID without its dashes: 32 characters, inside ISO 20022's Max35Text.
func hexID(s string) string { return strings.ReplaceAll(s, "-", "") }

func orNA(s string) string {
	if s == "" {
		return "NOTPROVIDED"
	}
	if len(s) > 35 {
		return s[:35]
	}
	return s
}

func (s *camtSink) end(money.Amount) error {
	_, err := s.w.WriteString("</Stmt></BkToCstmrStmt></Document>\n")
	return err
}
