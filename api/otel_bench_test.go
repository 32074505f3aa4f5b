package api_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/contrib/instrumentation/github.com/labstack/echo/otelecho"
)

// BenchmarkOtelechoNoop: what the request middleware costs with
// OpenTelemetry's no-op provider (why it is installed only when tracing
// is on).
func BenchmarkOtelechoNoop(b *testing.B) {
	for _, traced := range []bool{false, true} {
		e := echo.New()
		if traced {
			e.Use(otelecho.Middleware("crowdledger"))
		}
		e.GET("/v1/campaigns/:id", func(c echo.Context) error { return c.NoContent(http.StatusOK) })
		name := map[bool]string{false: "without", true: "with"}[traced]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			req := httptest.NewRequest("GET", "/v1/campaigns/0b6a4c3e-6a43-4fd1-9c35-2f3f0c1e8a11", nil)
			for b.Loop() {
				e.ServeHTTP(httptest.NewRecorder(), req)
			}
		})
	}
}
