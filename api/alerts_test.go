package api_test

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// TestAlertRules: the example alerting rules pass promtool (syntax, and
// unit tests that the chain-lag and failed-close alerts fire), and every
// metric they name is one this package defines and docs/operations.md
// explains, so rules, code and docs cannot drift apart.
func TestAlertRules(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("REQUIRE_DB") == "1" { // make test installs it (Debian's prometheus package)
			t.Fatal("promtool not found: run `make tools`")
		}
		t.Skip("promtool not found")
	}
	for _, args := range [][]string{{"check", "rules", "alerts.yml"}, {"test", "rules", "alerts_test.yml"}} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = "../deploy/prometheus"
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	rules, _ := os.ReadFile("../deploy/prometheus/alerts.yml")
	source, _ := os.ReadFile("metrics.go")
	docs, _ := os.ReadFile("../docs/operations.md")
	suffix := regexp.MustCompile(`_(bucket|count|sum)$`)
	for _, name := range regexp.MustCompile(`crowdledger_[a-z_]+`).FindAllString(string(rules), -1) {
		name = suffix.ReplaceAllString(name, "")
		if !strings.Contains(string(source), `"`+name+`"`) {
			t.Errorf("alerts.yml names %s, which metrics.go does not define", name)
		}
		if !strings.Contains(string(docs), name) {
			t.Errorf("docs/operations.md does not explain %s", name)
		}
	}
}
