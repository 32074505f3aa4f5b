package report

import (
	"encoding/xml"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/crowdledger/crowdledger/internal/export"
	"github.com/crowdledger/crowdledger/internal/money"
	"github.com/crowdledger/crowdledger/ledger"
)

// camtSink writes an ISO 20022 camt.053.001.08 bank-to-customer statement
// with encoding/xml, element by element, so nothing accumulates in memory
// and every text a client could have written (a transfer's code, the
// commitment and campaign named in its metadata) is escaped by the encoder,
// which also replaces characters XML cannot carry. Text fields are cut to
// the schema's lengths in characters, never inside one.
type camtSink struct {
	enc *xml.Encoder
	d   *export.Digest
	cur string
}

const camtNS = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"

type camtAmt struct {
	Ccy   string `xml:"Ccy,attr"`
	Value string `xml:",chardata"`
}

type camtBal struct {
	XMLName   xml.Name `xml:"Bal"`
	Code      string   `xml:"Tp>CdOrPrtry>Cd"`
	Amt       camtAmt  `xml:"Amt"`
	CdtDbtInd string   `xml:"CdtDbtInd"`
	DtTm      string   `xml:"Dt>DtTm"`
}

type camtPeriod struct {
	FrDtTm string `xml:"FrDtTm"`
	ToDtTm string `xml:"ToDtTm"`
}

type camtAcct struct {
	ID     string `xml:"Id>Othr>Id"`
	Scheme string `xml:"Id>Othr>SchmeNm>Prtry"`
	Ccy    string `xml:"Ccy"`
	Name   string `xml:"Nm"`
}

type camtEntry struct {
	XMLName     xml.Name `xml:"Ntry"`
	NtryRef     string   `xml:"NtryRef"`
	Amt         camtAmt  `xml:"Amt"`
	CdtDbtInd   string   `xml:"CdtDbtInd"`
	Status      string   `xml:"Sts>Cd"`
	BookgDtTm   string   `xml:"BookgDt>DtTm"`
	AcctSvcrRef string   `xml:"AcctSvcrRef"`
	TxCode      string   `xml:"BkTxCd>Prtry>Cd"`
	TxCodeIssr  string   `xml:"BkTxCd>Prtry>Issr"`
	TxRef       string   `xml:"NtryDtls>TxDtls>Refs>AcctSvcrRef"`
	EndToEndID  string   `xml:"NtryDtls>TxDtls>Refs>EndToEndId"`
	AddtlTxInf  string   `xml:"NtryDtls>TxDtls>AddtlTxInf"`
}

func camtTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func camtBalance(code string, amt money.Amount, at time.Time) camtBal {
	ind := "CRDT"
	if amt.Sign() < 0 {
		ind, amt = "DBIT", amt.Neg()
	}
	return camtBal{Code: code, Amt: camtAmt{Ccy: amt.Currency().Code(), Value: amt.String()}, CdtDbtInd: ind, DtTm: camtTime(at)}
}

func start(name string, attr ...xml.Attr) xml.StartElement {
	return xml.StartElement{Name: xml.Name{Local: name}, Attr: attr}
}

func (s *camtSink) begin(a ledger.Account, from, to time.Time, opening, closing money.Amount) error {
	s.cur = a.Currency.Code()
	now := time.Now()
	id := "CL" + now.UTC().Format("20060102150405") + a.ID.String()[:8]
	if _, err := io.WriteString(s.d, xml.Header); err != nil {
		return err
	}
	for _, t := range []xml.Token{
		start("Document", xml.Attr{Name: xml.Name{Local: "xmlns"}, Value: camtNS}), start("BkToCstmrStmt"),
	} {
		if err := s.enc.EncodeToken(t); err != nil {
			return err
		}
	}
	grpHdr := struct {
		MsgID   string `xml:"MsgId"`
		CreDtTm string `xml:"CreDtTm"`
	}{id, camtTime(now)}
	if err := s.enc.EncodeElement(grpHdr, start("GrpHdr")); err != nil {
		return err
	}
	if err := s.enc.EncodeToken(start("Stmt")); err != nil {
		return err
	}
	// The statement's own fields, then its balances, then (streamed) its
	// entries: the order camt.053.001.08 prescribes.
	for _, f := range []struct {
		name string
		v    any
	}{
		{"Id", id}, {"CreDtTm", camtTime(now)}, {"FrToDt", camtPeriod{camtTime(from), camtTime(to)}},
		{"Acct", camtAcct{ID: hexID(a.ID.String()), Scheme: "crowdledger", Ccy: s.cur, Name: cut(string(a.Code), 140)}},
	} {
		if err := s.enc.EncodeElement(f.v, start(f.name)); err != nil {
			return err
		}
	}
	for _, b := range []camtBal{camtBalance("OPBD", opening, from), camtBalance("CLBD", closing, to)} {
		if err := s.enc.Encode(b); err != nil {
			return err
		}
	}
	return nil
}

func (s *camtSink) line(l Line) error {
	status := "BOOK"
	if l.Kind == string(ledger.KindPending) || l.Kind == string(ledger.KindVoidPending) {
		status = "PDNG"
	}
	s.d.Row()
	return s.enc.Encode(camtEntry{
		NtryRef: cut(itoa(l.Seq), 35), Amt: camtAmt{Ccy: s.cur, Value: l.Amount.String()}, CdtDbtInd: l.Side, Status: status,
		BookgDtTm: camtTime(l.At), AcctSvcrRef: hexID(l.TransferID.String()), TxCode: cut(l.Code+"/"+l.Kind, 35), TxCodeIssr: "crowdledger",
		TxRef: hexID(l.TransferID.String()), EndToEndID: orNA(cut(hexID(l.Commitment), 35)), AddtlTxInf: cut("campaign "+orNA(l.Campaign), 500),
	})
}

func (s *camtSink) end(money.Amount) error {
	for _, name := range []string{"Stmt", "BkToCstmrStmt", "Document"} {
		if err := s.enc.EncodeToken(xml.EndElement{Name: xml.Name{Local: name}}); err != nil {
			return err
		}
	}
	if err := s.enc.Flush(); err != nil {
		return err
	}
	if _, err := io.WriteString(s.d, "\n"); err != nil {
		return err
	}
	_, err := io.WriteString(s.d, s.d.XMLTrailer())
	return err
}

// hexID is a UUID without its dashes: 32 characters, inside ISO 20022's Max35Text.
func hexID(s string) string { return strings.ReplaceAll(s, "-", "") }

func orNA(s string) string {
	if s == "" {
		return "NOTPROVIDED"
	}
	return s
}

// cut shortens s to at most n characters (the schema's MaxNText counts
// characters), never splitting one, and drops bytes that are not UTF-8.
func cut(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n])
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
