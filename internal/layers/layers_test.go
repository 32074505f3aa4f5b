package layers_test

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/crowdledger/crowdledger/"

// rank orders the module's packages from the inside out: a package may
// import only packages of a lower rank. Pure helpers first, then the
// rules and the mechanisms every domain uses, the ledger, the domains on
// top of it, the use cases that combine them, HTTP, and main.
var rank = map[string]int{
	"internal/money": 0, "internal/pg": 0, "internal/batch": 0, "internal/canonjson": 0, "internal/fault": 0, "internal/pii": 0, "internal/export": 0, "internal/page": 0, "client": 0, "console": 0,
	"internal/layers": 0, "migrations": 0,
	"compliance": 1, "audit": 1, "idempotency": 1, "internal/pgtest": 1,
	"auth": 2, "ledger": 2, "webhook": 2,
	"registry": 3, "supervision": 3, "report": 3,
	"campaign":        4,
	"api":             5,
	"cmd/crowdledger": 6,
}

// core packages hold the rules and the money: no HTTP, no logging.
var core = []string{"compliance", "ledger", "campaign", "registry", "supervision", "report", "audit", "idempotency", "auth", "internal/money", "internal/pg"}

// pure packages do not touch a database either.
var pure = []string{"compliance", "internal/money", "internal/batch", "internal/canonjson"}

func TestImportsPointInward(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}}:{{range .Imports}} {{.}}{{end}}", module+"...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, imps, _ := strings.Cut(line, ":")
		pkg = strings.TrimPrefix(pkg, module)
		seen[pkg] = true
		r, ok := rank[pkg]
		if !ok {
			t.Errorf("package %s has no rank: place it in layers_test.go", pkg)
			continue
		}
		for _, imp := range strings.Fields(imps) {
			if own, ok := strings.CutPrefix(imp, module); ok {
				if rank[own] >= r {
					t.Errorf("%s (rank %d) imports %s (rank %d): imports must point inward", pkg, r, own, rank[own])
				}
				continue
			}
			for _, c := range core {
				if pkg == c && (strings.Contains(imp, "labstack/echo") || imp == "net/http" || strings.HasPrefix(imp, "go.uber.org/zap")) {
					t.Errorf("core package %s imports %s", pkg, imp)
				}
			}
			for _, p := range pure {
				if pkg == p && (strings.Contains(imp, "jackc/") || strings.Contains(imp, "database/")) {
					t.Errorf("pure package %s imports %s", pkg, imp)
				}
			}
		}
	}
	for pkg := range rank {
		if !seen[pkg] {
			t.Errorf("ranked package %s does not exist any more: take it out", pkg)
		}
	}
}
