package batch

import (
	"context"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"
)

// Traced starts the span a batch runs under. A batch runs in a context of
// its own, not a caller's (it outlives any one caller, and must not join a
// caller's transaction nor act as its actor), but it belongs in the
// callers' traces: its span is a child of the first job's span, so that
// request's trace shows the SQL that carried it, and links to the other
// jobs' spans. With tracing off (OpenTelemetry's no-op provider) it costs
// next to nothing.
func Traced(ctx context.Context, name string, jobs []context.Context) (context.Context, func()) {
	if len(jobs) == 0 {
		return ctx, func() {}
	}
	first := trace.SpanContextFromContext(jobs[0])
	if !first.IsValid() {
		return ctx, func() {}
	}
	links := make([]trace.Link, 0, len(jobs)-1)
	for _, j := range jobs[1:] {
		if sc := trace.SpanContextFromContext(j); sc.IsValid() {
			links = append(links, trace.Link{SpanContext: sc})
		}
	}
	ctx, span := otel.Tracer("github.com/crowdledger/crowdledger/internal/batch").Start(trace.ContextWithSpanContext(ctx, first), name,
		trace.WithLinks(links...), trace.WithSpanKind(trace.SpanKindInternal))
	return ctx, func() { span.End() }
}
