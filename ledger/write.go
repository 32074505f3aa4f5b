package ledger

import (
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/crowdledger/crowdledger/audit"
	"github.com/crowdledger/crowdledger/idempotency"
	"github.com/crowdledger/crowdledger/internal/pg"
)

// queueWrites queues the statements that store new entries (reqs), their
// transfers (out) with both sides' after-balances, the accounts' new
// balances, the entries' audit events (where the ledger records them) and
// the clients' answers. The plan cache is switched to cached plans for
// these set-based writes and back to custom plans after them.
func queueWrites(b *pgx.Batch, reqs []*request, out []row, accts map[uuid.UUID]*acct, now time.Time) error {
	pg.QueueCachedPlans(b) // inserts and updates only, from here on

	eIDs := make([]uuid.UUID, len(reqs))
	eKeys := make([]string, len(reqs))
	eHashes := make([][]byte, len(reqs))
	for i, r := range reqs {
		eIDs[i], eKeys[i], eHashes[i] = r.entry.ID, r.key, r.hash
	}
	b.Queue(`INSERT INTO entries (id, idempotency_key, request_hash, created_at)
		SELECT u.id, u.key, u.hash, $4 FROM unnest($1::uuid[], $2::text[], $3::bytea[]) AS u(id, key, hash)`,
		raw(eIDs), eKeys, eHashes, now)

	n := len(out)
	var (
		ids, entryIDs, debits, credits = make([]uuid.UUID, n), make([]uuid.UUID, n), make([]uuid.UUID, n), make([]uuid.UUID, n)
		seqs                           = make([]int64, n)
		idx                            = make([]int32, n)
		kinds, curs, codes, metas      = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		scales                         = make([]int16, n)
		amounts                        = make([]decimal.Decimal, n)
		pendings, reverses             = make([]*uuid.UUID, n), make([]*uuid.UUID, n)
		expires                        = make([]*time.Time, n)
	)
	m := 2 * n
	var (
		aeAcct, aeTransfer     = make([]uuid.UUID, 0, m), make([]uuid.UUID, 0, m)
		aeSeq                  = make([]int64, 0, m)
		aeSide                 = make([]string, 0, m)
		aeDP, aeCP, aeDQ, aeCQ = make([]decimal.Decimal, 0, m), make([]decimal.Decimal, 0, m), make([]decimal.Decimal, 0, m), make([]decimal.Decimal, 0, m)
	)
	for i, rw := range out {
		t := rw.t
		ids[i], entryIDs[i], debits[i], credits[i] = t.ID, t.EntryID, t.DebitAccountID, t.CreditAccountID
		seqs[i], idx[i] = t.Seq, int32(t.Index)
		kinds[i], curs[i], codes[i], metas[i] = string(t.Kind), t.Amount.Currency().Code(), t.Code, string(t.Metadata)
		scales[i] = int16(t.Amount.Currency().Scale())
		amounts[i] = t.Amount.Decimal()
		pendings[i], reverses[i], expires[i] = t.PendingID, t.ReversesID, t.ExpiresAt
		for _, side := range []struct {
			s string
			a acct
		}{{"D", rw.debitAfter}, {"C", rw.creditAfter}} {
			aeAcct = append(aeAcct, side.a.id)
			aeTransfer = append(aeTransfer, t.ID)
			aeSeq = append(aeSeq, t.Seq)
			aeSide = append(aeSide, side.s)
			aeDP, aeCP, aeDQ, aeCQ = append(aeDP, side.a.dp), append(aeCP, side.a.cp), append(aeDQ, side.a.dq), append(aeCQ, side.a.cq)
		}
	}
	b.Queue(`INSERT INTO transfers (id, seq, entry_id, entry_index, kind, debit_account_id, credit_account_id,
			currency, minor_units, amount, code, metadata, pending_id, reverses_id, expires_at, created_at)
		SELECT u.id, u.seq, u.entry_id, u.idx, u.kind, u.debit, u.credit, u.cur, u.scale, u.amount, u.code,
			u.meta::jsonb, u.pending, u.reverses, u.expires, $16
		FROM unnest($1::uuid[], $2::int8[], $3::uuid[], $4::int4[], $5::text[], $6::uuid[], $7::uuid[], $8::text[],
			$9::int2[], $10::text[]::numeric[], $11::text[], $12::text[], $13::uuid[], $14::uuid[], $15::timestamptz[])
			AS u(id, seq, entry_id, idx, kind, debit, credit, cur, scale, amount, code, meta, pending, reverses, expires)`,
		raw(ids), seqs, raw(entryIDs), idx, kinds, raw(debits), raw(credits), curs, scales, pg.NumericText(amounts), codes, metas, pg.NullableUUIDs(pendings), pg.NullableUUIDs(reverses), expires, now)
	b.Queue(`INSERT INTO account_entries (account_id, seq, transfer_id, side, created_at,
			debits_posted, credits_posted, debits_pending, credits_pending)
		SELECT u.acct, u.seq, u.tid, u.side::"char", $9, u.dp, u.cp, u.dq, u.cq
		FROM unnest($1::uuid[], $2::int8[], $3::uuid[], $4::text[], $5::text[]::numeric[], $6::text[]::numeric[], $7::text[]::numeric[], $8::text[]::numeric[])
			AS u(acct, seq, tid, side, dp, cp, dq, cq)`,
		raw(aeAcct), aeSeq, raw(aeTransfer), aeSide, pg.NumericText(aeDP), pg.NumericText(aeCP), pg.NumericText(aeDQ), pg.NumericText(aeCQ), now)

	var uID []uuid.UUID
	var uDP, uCP, uDQ, uCQ []decimal.Decimal
	for _, a := range accts {
		if a.touched {
			uID = append(uID, a.id)
			uDP, uCP, uDQ, uCQ = append(uDP, a.dp), append(uCP, a.cp), append(uDQ, a.dq), append(uCQ, a.cq)
		}
	}
	b.Queue(`UPDATE accounts a SET debits_posted = u.dp, credits_posted = u.cp, debits_pending = u.dq, credits_pending = u.cq
		FROM unnest($1::uuid[], $2::text[]::numeric[], $3::text[]::numeric[], $4::text[]::numeric[], $5::text[]::numeric[]) AS u(id, dp, cp, dq, cq)
		WHERE a.id = u.id`, raw(uID), pg.NumericText(uDP), pg.NumericText(uCP), pg.NumericText(uDQ), pg.NumericText(uCQ))
	events := make([]audit.Event, 0, len(reqs))
	for _, r := range reqs {
		if r.recording == CallerRecords {
			continue
		}
		e, err := entryEvent(r)
		if err != nil {
			return err
		}
		events = append(events, e)
	}
	audit.QueueAppend(b, events)
	if err := queueReceipts(b, reqs); err != nil {
		return err
	}
	pg.QueueCustomPlans(b)
	return nil
}

// queueReceipts stores the answers of the new entries' commands with them.
func queueReceipts(b *pgx.Batch, reqs []*request) error {
	receipts, results := make([]*idempotency.Receipt[Entry], len(reqs)), make([]Entry, len(reqs))
	for i, r := range reqs {
		receipts[i], results[i] = r.receipt, r.entry
	}
	return idempotency.QueueAnswers(b, receipts, results)
}
