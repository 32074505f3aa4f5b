package report

import (
	"bufio"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crowdledger/crowdledger/internal/pg"
	"github.com/shopspring/decimal"

	"github.com/crowdledger/crowdledger/audit"
	"github.com/crowdledger/crowdledger/compliance"
	"github.com/crowdledger/crowdledger/internal/export"
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
	limits Limits
}

// Limits opens the investment limits that qualification decisions keep
// encrypted (registry.Registry): the report reads them in its own snapshot.
type Limits interface {
	WindowLimits(ctx context.Context, db pg.DBTX, party *uuid.UUID) ([]compliance.WindowLimit, error)
}

// New returns a reporter.
func New(db *pgxpool.Pool, l *ledger.Ledger, limits Limits) *Reporter {
	return &Reporter{db: pg.Units(db), ledger: l, limits: limits}
}

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
	d := export.New(bw)
	switch format {
	case JSON:
		sink = &jsonSink{w: d}
	case CSV:
		sink = &csvSink{w: export.NewCSV(d), d: d}
	case Camt053:
		sink = &camtSink{enc: xml.NewEncoder(d), d: d}
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

// Every sink counts its entries into the export.Digest it writes through
// and ends with the format's trailer, so a cut stream is detectable.

type jsonSink struct {
	w     *export.Digest
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
	b, err := json.Marshal(l)
	if err != nil {
		return err
	}
	if !s.first {
		b = append([]byte{','}, b...)
	}
	s.first = false
	s.w.Row()
	_, err = s.w.Write(b)
	return err
}

func (s *jsonSink) end(closing money.Amount) error {
	b, _ := json.Marshal(closing)
	if _, err := fmt.Fprintf(s.w, "],\"closing_balance\":%s", b); err != nil {
		return err
	}
	_, err := io.WriteString(s.w, s.w.JSONTrailer()+"}\n")
	return err
}

// csvSink writes RFC 4180 CSV (CRLF line ends), UTF-8 with a byte-order mark
// so spreadsheet software opens Chinese text correctly, ISO 8601 times, and
// an explicit debit/credit column.
type csvSink struct {
	w       export.CSV
	d       *export.Digest
	cur     string
	account string
	to      time.Time
}

var csvHeader = []string{"seq", "booked_at", "transfer_id", "kind", "code", "debit_credit", "amount", "currency", "balance_after",
	"pending_debits", "campaign_id", "commitment_id", "counterparty_account_id"}

func (s *csvSink) begin(a ledger.Account, from, to time.Time, opening, _ money.Amount) error {
	s.w.UseCRLF = true
	if _, err := io.WriteString(s.d, "\ufeff"); err != nil {
		return err
	}
	s.cur, s.account, s.to = a.Currency.Code(), a.ID.String(), to
	// The header first, so any CSV reader takes the file as it is; the
	// opening and closing balances are rows of their own kind, in the
	// balance_after column, at the period's bounds.
	if err := s.w.Write(csvHeader); err != nil {
		return err
	}
	return s.w.Write([]string{"", from.UTC().Format("2006-01-02T15:04:05.000000Z"), "", "opening_balance", string(a.Code), "", "", s.cur, opening.String(), "", "", "", s.account})
}

func (s *csvSink) line(l Line) error {
	dc := "C"
	if l.Side == "DBIT" {
		dc = "D"
	}
	s.d.Row()
	return s.w.Write([]string{fmt.Sprint(l.Seq), l.At.Format("2006-01-02T15:04:05.000000Z"), l.TransferID.String(), l.Kind, l.Code, dc, l.Amount.String(),
		s.cur, l.Balance.String(), l.Pending.String(), l.Campaign, l.Commitment, l.Counter.String()})
}

func (s *csvSink) end(closing money.Amount) error {
	if err := s.w.Write([]string{"", s.to.UTC().Format("2006-01-02T15:04:05.000000Z"), "", "closing_balance", "", "", "", s.cur, closing.String(), "", "", "", s.account}); err != nil {
		return err
	}
	s.w.Flush() // the trailer's digest covers every byte before it
	if err := s.w.Write(s.d.CSVTrailer()); err != nil {
		return err
	}
	s.w.Flush()
	return s.w.Error()
}
