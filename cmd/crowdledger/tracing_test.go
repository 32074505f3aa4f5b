package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	collector "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/crowdledger/crowdledger/audit"
	"github.com/crowdledger/crowdledger/internal/pgtest"
	"github.com/crowdledger/crowdledger/internal/pii"
)

// otlpReceiver is the smallest OTLP/HTTP traces endpoint: it keeps the
// spans it is sent.
type otlpReceiver struct {
	mu    sync.Mutex
	spans []*tracepb.Span
}

func (o *otlpReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var req collector.ExportTraceServiceRequest
	if err := proto.Unmarshal(body, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	o.mu.Lock()
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			o.spans = append(o.spans, ss.Spans...)
		}
	}
	o.mu.Unlock()
	out, _ := proto.Marshal(&collector.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Write(out)
}

// TestTraceOfACommitmentShowsItsSQL: with an OTLP endpoint configured,
// serve exports a trace per request, and the trace of one commitment holds
// its HTTP span, the batch that carried it and the SQL statements the
// batch ran; the request's log line names the trace.
func TestTraceOfACommitmentShowsItsSQL(t *testing.T) {
	db := pgtest.NewDB(t)
	recv := &otlpReceiver{}
	collectorSrv := httptest.NewServer(recv)
	defer collectorSrv.Close()
	addr := freeAddr(t)
	seed, _ := audit.GenerateSeed()
	env := map[string]string{"DATABASE_URL": db.URL, "LISTEN_ADDR": addr, "LOG_LEVEL": "info", "AUDIT_SIGNING_KEY": seed,
		"PII_KEYS": "k1:" + pii.NewKey(), "PII_LOOKUP_KEY": pii.NewKey(), "RATE_LIMIT_RPS": "0",
		"OTEL_EXPORTER_OTLP_ENDPOINT": collectorSrv.URL, "OTEL_BSP_SCHEDULE_DELAY": "100"}
	getenv := func(k string) string { return env[k] }
	ctx := context.Background()
	var out bytes.Buffer
	for _, args := range [][]string{{"migrate"}, {"keys", "create", "--role", "operator", "--subject", "ops-1"}, {"keys", "create", "--role", "compliance", "--subject", "co-1"}} {
		if err := run(ctx, append([]string{"crowdledger"}, args...), getenv, &out); err != nil {
			t.Fatal(err)
		}
	}
	keys := regexp.MustCompile(`key:\s+(cl_\S+)`).FindAllStringSubmatch(out.String(), -1)
	srvCtx, stop := context.WithCancel(ctx)
	var logs syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(srvCtx, []string{"crowdledger", "serve"}, asService(getenv, db.AppURL), &logs) }()
	base := "http://" + addr
	for i := 0; ; i++ {
		if r, err := http.Get(base + "/readyz"); err == nil && r.StatusCode == 200 {
			r.Body.Close()
			break
		}
		if i > 200 {
			select {
			case err := <-done:
				t.Fatalf("serve stopped: %v\n%s", err, logs.String())
			default:
			}
			t.Fatalf("service did not become ready\n%s", logs.String())
		}
		time.Sleep(25 * time.Millisecond)
	}
	b := &bencher{demoClient: &demoClient{ctx: ctx, base: base, op: keys[0][1], co: keys[1][1], out: io.Discard, wait: time.Hour,
		http: &http.Client{Timeout: 10 * time.Second}}}
	if err := b.setup("hot", 1, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := b.call("POST", "/v1/campaigns/"+b.campaigns[0]+"/commitments", b.invs[0].key, obj{"tier": "unit", "quantity": 1}, 201); err != nil {
		t.Fatal(err)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}

	recv.mu.Lock()
	defer recv.mu.Unlock()
	var request *tracepb.Span
	for _, s := range recv.spans {
		if s.Kind == tracepb.Span_SPAN_KIND_SERVER && strings.Contains(s.Name, "/commitments") {
			request = s
		}
	}
	if request == nil {
		t.Fatalf("no server span for the commitment among %d spans", len(recv.spans))
	}
	var sql, batch int
	for _, s := range recv.spans {
		if !bytes.Equal(s.TraceId, request.TraceId) {
			continue
		}
		if s.Name == "commitment batch" {
			batch++
		}
		for _, a := range s.Attributes {
			if strings.HasPrefix(a.Key, "db.") && strings.Contains(a.Value.GetStringValue(), "commitments") {
				sql++
				break
			}
		}
	}
	if batch != 1 || sql == 0 {
		t.Errorf("the commitment's trace has %d batch spans and %d statements on commitments, want 1 and some", batch, sql)
	}
	traceID := hexString(request.TraceId)
	if !strings.Contains(logs.String(), `"trace_id":"`+traceID+`"`) {
		t.Errorf("no log line names trace %s", traceID)
	}
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

// syncBuffer is a bytes.Buffer safe for the logger's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
