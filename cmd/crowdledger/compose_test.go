package main

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/crowdledger/crowdledger/audit"
	"github.com/crowdledger/crowdledger/internal/pii"
)

// TestComposeFile keeps docker-compose.yml correct without a Docker engine:
// PostgreSQL, then migrate as the owner, then serve as the service role
// once migrate has finished, from this repository's Dockerfile; and the
// environment serve gets, with sample secrets, passes the service's own
// configuration check.
func TestComposeFile(t *testing.T) {
	raw, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Services map[string]struct {
			Image       string            `yaml:"image"`
			Build       string            `yaml:"build"`
			Command     []string          `yaml:"command"`
			Environment map[string]string `yaml:"environment"`
			DependsOn   map[string]struct {
				Condition string `yaml:"condition"`
			} `yaml:"depends_on"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	db, migrate, serve := f.Services["db"], f.Services["migrate"], f.Services["serve"]
	if !strings.HasPrefix(db.Image, "postgres:") {
		t.Errorf("db image %q", db.Image)
	}
	if migrate.Build != "." || serve.Build != "." {
		t.Error("migrate and serve are built from this repository")
	}
	if _, err := os.Stat("../../Dockerfile"); err != nil {
		t.Error(err)
	}
	if strings.Join(migrate.Command, " ") != "migrate" || strings.Join(serve.Command, " ") != "serve" {
		t.Errorf("commands %v, %v", migrate.Command, serve.Command)
	}
	if migrate.DependsOn["db"].Condition != "service_healthy" || serve.DependsOn["migrate"].Condition != "service_completed_successfully" {
		t.Error("serve must start after migrate finished, migrate after the database is healthy")
	}
	if !strings.Contains(migrate.Environment["DATABASE_URL"], "//postgres:") || !strings.Contains(serve.Environment["DATABASE_URL"], "//crowdledger_app:") {
		t.Error("migrate runs as the owner, serve as crowdledger_app")
	}
	seed, _ := audit.GenerateSeed()
	samples := map[string]string{"POSTGRES_PASSWORD": "pw", "APP_DB_PASSWORD": "app", "AUDIT_SIGNING_KEY": seed,
		"PII_KEYS": "k1:" + pii.NewKey(), "PII_LOOKUP_KEY": pii.NewKey()}
	subst := regexp.MustCompile(`\$\{([A-Z_]+)(:\?[^}]*)?\}`)
	env := map[string]string{}
	for k, v := range serve.Environment {
		env[k] = subst.ReplaceAllStringFunc(v, func(m string) string { return samples[subst.FindStringSubmatch(m)[1]] })
	}
	if _, err := loadConfig(func(k string) string { return env[k] }); err != nil {
		t.Errorf("serve's environment does not pass the configuration check: %v", err)
	}
}
