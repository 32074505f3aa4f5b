package api

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/crowdledger/crowdledger/compliance"
	"github.com/crowdledger/crowdledger/internal/export"
	"github.com/crowdledger/crowdledger/internal/page"
	"github.com/crowdledger/crowdledger/registry"
)

// listImportHeader is the CSV format an external 失信 list is imported in
// (docs/security.md): one entry per row, documents matched by the keyed
// hash the registry computes, never stored or compared in the clear.
var listImportHeader = []string{"list", "document_type", "document_number", "reason", "authority", "effective_from"}

// importListEntries adds every row of an uploaded CSV list as a list entry,
// all or none (the rows run in the command's one transaction).
func (s *server) importListEntries(c echo.Context) error {
	if ct := c.Request().Header.Get(echo.HeaderContentType); !strings.HasPrefix(ct, "text/csv") {
		return problem(http.StatusUnsupportedMediaType, "unsupported_media_type", "", "send the list as text/csv")
	}
	r := csv.NewReader(http.MaxBytesReader(c.Response(), c.Request().Body, s.MaxBodyBytes))
	r.FieldsPerRecord = len(listImportHeader)
	head, err := r.Read()
	if err != nil || strings.Join(head, ",") != strings.Join(listImportHeader, ",") {
		return problem(http.StatusUnprocessableEntity, "validation_failed", "header", "the first row must be "+strings.Join(listImportHeader, ","))
	}
	var ids []string
	for row := 2; ; row++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return problem(http.StatusRequestEntityTooLarge, "body_too_large", "", fmt.Sprintf("body exceeds %d bytes", s.MaxBodyBytes))
		}
		if err != nil {
			return problem(http.StatusUnprocessableEntity, "validation_failed", fmt.Sprintf("row %d", row), "not a CSV row of "+strings.Join(listImportHeader, ","))
		}
		in := registry.NewListEntry{List: rec[0], DocType: compliance.DocumentType(rec[1]), DocNumber: rec[2], Reason: rec[3], Authority: rec[4]}
		if rec[5] != "" {
			if in.EffectiveFrom, err = time.Parse(time.DateOnly, rec[5]); err != nil {
				return problem(http.StatusUnprocessableEntity, "validation_failed", fmt.Sprintf("row %d: effective_from", row), "effective_from must be a date, YYYY-MM-DD")
			}
		}
		e, err := s.Registry.AddListEntry(c.Request().Context(), in)
		var fe *registry.FieldError
		if errors.As(err, &fe) {
			return problem(http.StatusUnprocessableEntity, "validation_failed", fmt.Sprintf("row %d: %s", row, fe.Field), fe.Error())
		}
		if err != nil {
			return err
		}
		ids = append(ids, e.ID.String())
	}
	if len(ids) == 0 {
		return problem(http.StatusUnprocessableEntity, "validation_failed", "body", "the list has no entries")
	}
	return c.JSON(http.StatusCreated, map[string]any{"imported": len(ids), "entry_ids": ids})
}

func (s *server) listReviewFlags(c echo.Context) error {
	q := newListQuery(c, "party_id")
	party := q.id("party_id")
	if err := q.Err(); err != nil {
		return err
	}
	p, err := s.Registry.ReviewFlags(c.Request().Context(), party, q.page())
	if err != nil {
		return err
	}
	return writePage(c, p, same)
}

// exportListEntries writes the entries in force, with their document
// numbers, in the import format (so another platform, or this one, imports
// them as they are), ending with the export trailer. Regulators only; the
// reveal is recorded in the audit trail.
func (s *server) exportListEntries(c echo.Context) error {
	ctx := c.Request().Context()
	return s.stream(c, "text/csv; charset=utf-8", func(w io.Writer) error {
		d := export.New(w)
		cw := export.NewCSV(d)
		cw.UseCRLF = true
		if err := cw.Write(listImportHeader); err != nil {
			return err
		}
		// Every page read with its documents is recorded as a reveal.
		err := page.Walk(func(r page.Request) (page.Of[registry.ListEntry], error) {
			return s.Registry.ListEntries(ctx, registry.ListFilter{InForce: true}, r, true)
		}, func(e registry.ListEntry) error {
			if e.DocType == nil || e.DocNumber == "" {
				return nil // against a party without a document: not portable
			}
			d.Row()
			return cw.Write([]string{e.List, *e.DocType, e.DocNumber, e.Reason, e.Authority, e.EffectiveFrom.UTC().Format(time.DateOnly)})
		})
		if err != nil {
			return err
		}
		cw.Flush() // the trailer's digest covers every byte before it
		if err := cw.Write(d.CSVTrailer()); err != nil {
			return err
		}
		cw.Flush()
		return cw.Error()
	})
}
