package main

import (
	"context"
	"fmt"
	"time"

	"github.com/exaring/otelpgx"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/crowdledger/crowdledger/internal/pg"
)

// startTracing exports traces by OTLP over HTTP when an endpoint is
// configured (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT,
// the standard variables; the exporter reads the others, such as headers,
// itself). Off by default: the global provider stays OpenTelemetry's no-op
// and nothing is recorded. It returns the pool option that traces every
// statement and the function that flushes what is buffered at shutdown.
func startTracing(ctx context.Context, cfg config) ([]pg.Option, func(context.Context) error, error) {
	if cfg.TracesEndpoint == "" {
		return nil, func(context.Context) error { return nil }, nil
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(cfg.TracesEndpoint))
	if err != nil {
		return nil, nil, fmt.Errorf("OTLP trace exporter: %w", err)
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(attribute.String("service.name", cfg.ServiceName)))
	if err != nil {
		return nil, nil, fmt.Errorf("trace resource: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(cfg.TraceBatchTimeout)), sdktrace.WithResource(res))
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	// Statements are named by their SQL, never their arguments: those can
	// carry personal data.
	return []pg.Option{pg.WithTracer(otelpgx.NewTracer(otelpgx.WithTrimSQLInSpanName()))}, tp.Shutdown, nil
}

// tracesEndpoint is where spans go ("" for nowhere), from the standard
// OpenTelemetry variables: the traces endpoint as given, or the base
// endpoint with the OTLP/HTTP traces path.
func tracesEndpoint(getenv func(string) string) string {
	if v := getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"); v != "" {
		return v
	}
	if v := getenv("OTEL_EXPORTER_OTLP_ENDPOINT"); v != "" {
		return v + "/v1/traces"
	}
	return ""
}

const defaultTraceBatchTimeout = 5 * time.Second
