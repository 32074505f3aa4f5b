# crowdledger: `make run` starts the service, `make test` runs the whole suite.
# Both find (or start) a PostgreSQL through scripts/db.sh.
SHELL := /bin/bash
GO    ?= go
BIN   := bin/crowdledger
PKGS  := ./...

.PHONY: build run test lint lint-openapi lint-console console generate tools bench fuzz pgbench clean

build:
	$(GO) build -o $(BIN) ./cmd/crowdledger

run: build
	@set -e; url=$$(scripts/db.sh crowdledger); \
	if [[ -z "$${AUDIT_SIGNING_KEY:-}$${AUDIT_SIGNING_KEY_FILE:-}" ]]; then \
	  mkdir -p .secrets; chmod 700 .secrets; \
	  [[ -s .secrets/audit-signing.key ]] || { $(BIN) audit keygen > .secrets/audit-signing.key; chmod 600 .secrets/audit-signing.key; \
	    echo "generated a development audit signing key in .secrets/audit-signing.key"; }; \
	  export AUDIT_SIGNING_KEY_FILE=$$PWD/.secrets/audit-signing.key; \
	fi; \
	if [[ -z "$${PII_KEYS:-}$${PII_KEYS_FILE:-}" ]]; then \
	  mkdir -p .secrets; chmod 700 .secrets; \
	  [[ -s .secrets/pii.keys ]] || { $(BIN) keys pii > .secrets/pii.keys; chmod 600 .secrets/pii.keys; \
	    echo "generated development personal-data keys in .secrets/pii.keys"; }; \
	  export PII_KEYS_FILE=$$PWD/.secrets/pii.keys; \
	fi; \
	DATABASE_URL="$$url" $(BIN) migrate; \
	app_url="$${SERVICE_DATABASE_URL:-$$(echo "$$url" | sed -E 's#^(postgres(ql)?://)[^@/]*@#\1crowdledger_app@#')}"; \
	echo; \
	echo "crowdledger is starting on $${LISTEN_ADDR:-:8080} against $$app_url (the service role; migrations and keys use $$url)"; \
	echo "Create an operator key (in another terminal):"; \
	echo "  DATABASE_URL='$$url' $(BIN) keys create --role operator --subject me --name me"; \
	echo "Then open an account:"; \
	echo "  curl -s localhost:8080/v1/accounts -H \"Authorization: Bearer \$$KEY\" -H 'Idempotency-Key: first' \\"; \
	echo "       -H 'Content-Type: application/json' -d '{\"currency\":\"CNY\",\"code\":\"custody_bank\"}'"; \
	echo; \
	DATABASE_URL="$$app_url" exec $(BIN) serve

lint:
	@out=$$(gofmt -l .); if [[ -n "$$out" ]]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	@$(GO) mod tidy -diff || { echo "go.mod/go.sum are not tidy: run go mod tidy"; exit 1; }
	@tmp=$$(mktemp -d); sed "s#^output:.*#output: $$tmp/client.gen.go#" client/oapi-codegen.yaml > $$tmp/config.yaml; \
	$(GO) tool oapi-codegen -config $$tmp/config.yaml api/openapi.yaml && cmp -s $$tmp/client.gen.go client/client.gen.go; status=$$?; rm -rf $$tmp; \
	[[ $$status -eq 0 ]] || { echo "client/client.gen.go is not what api/openapi.yaml generates: run make generate"; exit 1; }
	@$(MAKE) --no-print-directory lint-openapi
	@$(MAKE) --no-print-directory lint-console

# The OpenAPI document passes Redocly's recommended rules with no error.
# The warnings kept (operation-4xx-response on /healthz, /readyz,
# /openapi.yaml and /metrics; the localhost server) are explained in
# docs/api.md. Redocly CLI comes from the npm registry, pinned.
REDOCLY := @redocly/cli@2.77.0
lint-openapi:
	@out=$$(npx --yes $(REDOCLY) lint api/openapi.yaml --format=summary 2>&1); status=$$?; \
	echo "$$out" | grep -E '^(error|warning) |valid|errors?\.' ; exit $$status

# The console's chart bundle: Apache ECharts (only the Sankey series, the
# canvas renderer) bundled by esbuild from console/package.json and
# console/src, and committed, so building the service never needs Node.
console:
	cd console && npm ci --no-audit --no-fund && npm run build

# The committed bundle is byte for byte what its sources build, and every
# console script parses.
lint-console:
	@tmp=$$(mktemp -d); cp -r console/package.json console/package-lock.json console/src $$tmp/; \
	(cd $$tmp && npm ci --no-audit --no-fund --silent && npm run --silent build) >$$tmp/log 2>&1 || { cat $$tmp/log; rm -rf $$tmp; exit 1; }; \
	cmp -s $$tmp/static/vendor/charts.js console/static/vendor/charts.js; status=$$?; rm -rf $$tmp; \
	[[ $$status -eq 0 ]] || { echo "console/static/vendor/charts.js is not what console/src builds: run make console"; exit 1; }
	@for f in console/static/*.js console/static/pages/*.js; do node --input-type=module --check < $$f || { echo "$$f does not parse"; exit 1; }; done

# The Go client is generated from the contract by oapi-codegen (a tool
# dependency in go.mod, so its version is the module's).
generate:
	$(GO) tool oapi-codegen -config client/oapi-codegen.yaml api/openapi.yaml

test: lint tools
	@set -e; url=$$(scripts/db.sh postgres); \
	TEST_DATABASE_URL="$$url" REQUIRE_DB=1 $(GO) test -race -count=1 $(PKGS)

# xmllint (Debian's libxml2-utils) validates camt.053 statements in the
# tests; promtool (Debian's prometheus) checks the example alerting rules;
# jq and curl run the README's quick start (TestReadmeQuickStart); Chromium
# runs the console's browser tests, with a Chinese font for its screenshots;
# haproxy checks deploy/haproxy/haproxy.cfg routes by campaign.
tools:
	@missing=""; command -v xmllint >/dev/null || missing="$$missing libxml2-utils"; \
	command -v promtool >/dev/null || missing="$$missing prometheus"; \
	command -v jq >/dev/null || missing="$$missing jq"; command -v curl >/dev/null || missing="$$missing curl"; \
	[[ -x /usr/bin/chromium ]] || missing="$$missing chromium"; \
	[[ -d /usr/share/fonts/truetype/wqy ]] || missing="$$missing fonts-wqy-microhei"; \
	command -v haproxy >/dev/null || missing="$$missing haproxy"; \
	if [[ -n "$$missing" ]]; then sudo=""; [[ $$(id -u) -ne 0 ]] && sudo=sudo; \
	  $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$missing; fi

# Benchmarks: the ledger's group-commit writer, then pgbench for scale.
# GOGC/GOMEMLIMIT as `crowdledger serve` sets them (cmd/crowdledger/gc.go).
bench:
	@set -e; url=$$(scripts/db.sh postgres); export GOGC=400 GOMEMLIMIT=200MiB; \
	TEST_DATABASE_URL="$$url" REQUIRE_DB=1 $(GO) test ./ledger -run '^$$' -bench 'BenchmarkPost/(distinct|hot)' -benchtime 40000x -count 3; \
	TEST_DATABASE_URL="$$url" REQUIRE_DB=1 $(GO) test ./ledger -run '^$$' -bench 'BenchmarkPost/batch100' -benchtime 1000x -count 2

pgbench:
	@set -e; url=$$(scripts/db.sh pgbench); \
	pgbench -i -s 10 -q "$$url" && pgbench -c 16 -j 2 -T 30 -M prepared "$$url"

# Runs each fuzz target for a while; the corpus it finds goes to testdata/fuzz.
FUZZTIME ?= 30s
fuzz:
	$(GO) test ./internal/money -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME)
	$(GO) test ./internal/money -run '^$$' -fuzz FuzzAllocate -fuzztime $(FUZZTIME)
	$(GO) test ./internal/canonjson -run '^$$' -fuzz FuzzObject -fuzztime $(FUZZTIME)
	$(GO) test ./internal/canonjson -run '^$$' -fuzz FuzzJCS -fuzztime $(FUZZTIME)
	$(GO) test ./api -run '^$$' -fuzz FuzzDecodeTransfer -fuzztime $(FUZZTIME)
	$(GO) test ./ledger -run '^$$' -fuzz FuzzValidate -fuzztime $(FUZZTIME)
	$(GO) test ./ledger -run '^$$' -fuzz FuzzSimulator -fuzztime $(FUZZTIME)
	$(GO) test ./api -run '^$$' -fuzz FuzzDecodeBodies -fuzztime $(FUZZTIME)
	$(GO) test ./audit -run '^$$' -fuzz FuzzVerifyExport -fuzztime $(FUZZTIME)
	$(GO) test ./compliance -run '^$$' -fuzz FuzzNormalizeDocument -fuzztime $(FUZZTIME)
	$(GO) test ./internal/pg -run '^$$' -fuzz FuzzNumericText -fuzztime $(FUZZTIME)

clean:
	rm -rf bin
	@if [[ -f .pgdata/PG_VERSION ]]; then pg_ctl -D .pgdata stop -m fast 2>/dev/null || runuser -u postgres -- $$(ls -d /usr/lib/postgresql/*/bin | tail -1)/pg_ctl -D .pgdata stop -m fast || true; fi
