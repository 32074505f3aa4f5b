// Package report produces regulators' fund-flow reports from the ledger and
// the campaign records: account statements (JSON, CSV, ISO 20022
// camt.053.001.08), per-campaign and per-investor reports, platform totals
// with exceptions, and the provenance of issuer payouts.
//
// Statements stream: rows are read from a server-side cursor and written
// as they arrive, so memory does not grow with the number of entries
// (BenchmarkStatement reports bytes allocated per entry).
package report
