package main

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/crowdledger/crowdledger/audit"
	"github.com/crowdledger/crowdledger/migrations"
)

// config is read from the environment, with defaults, and validated before
// anything starts. Secrets never appear in logs (see fields).
type config struct {
	DatabaseURL     string
	ListenAddr      string
	LogLevel        zapcore.Level
	DBMaxConns      int32
	LedgerWriters   int
	LedgerMaxBatch  int
	MaxBodyBytes    int64
	ShutdownTimeout time.Duration
	SweepInterval   time.Duration
	// RedListExpedite: a red-listed issuer's submitted campaign is marked
	// for expedited review (RED_LIST_EXPEDITED_REVIEW, on by default).
	RedListExpedite bool
	// PlatformCoolingOff is the cancellation window of packs whose rules
	// set none (the CN packs), a platform setting: 24h by default.
	PlatformCoolingOff time.Duration
	// AuditSigningKey is the base64 Ed25519 seed that signs audit
	// checkpoints (from AUDIT_SIGNING_KEY or the file AUDIT_SIGNING_KEY_FILE).
	AuditSigningKey string
	ChainInterval   time.Duration
	CheckpointEvery int64
	// PIIKeys ("id:base64,...", current first) encrypt personal data;
	// PIILookupKey keys the hash documents are looked up by.
	PIIKeys      string
	PIILookupKey string
	// RateRPS and RateBurst bound each API key's requests (0: unlimited).
	RateRPS   int64
	RateBurst int64
	// AnonRPS and AnonBurst bound each client address's requests without a
	// valid key: public routes and failed authentications (0: unlimited).
	AnonRPS   int64
	AnonBurst int64
	// AuthCacheTTL keeps authenticated keys in memory (0: query every request).
	AuthCacheTTL time.Duration
	// IdempotencyRetention is how long a command's Idempotency-Key and
	// stored response are kept; never less than minIdempotencyRetention.
	IdempotencyRetention time.Duration
	// RetiredAuditKeys are the public keys of earlier audit signing keys,
	// so checkpoints they signed still verify after a rotation.
	RetiredAuditKeys []audit.PublicKey
	// AppRole is the role `migrate` grants what serve needs ("" with
	// APP_DB_ROLE=-: none); AppPassword, when set, becomes its password.
	AppRole, AppPassword string
	// TracesEndpoint is the OTLP/HTTP endpoint traces go to ("": tracing
	// off); ServiceName names the service in them.
	TracesEndpoint    string
	ServiceName       string
	TraceBatchTimeout time.Duration
	// ExportTimeout bounds one streamed export (statements, campaign
	// reports, the audit trail) instead of the server's WriteTimeout.
	ExportTimeout time.Duration
	// WebhookWorkers deliver at once; WebhookTimeout bounds one attempt
	// (a delivery left running by a crash is retried after twice that).
	WebhookWorkers int
	WebhookTimeout time.Duration
	// ReadDatabaseURL, when set, is a streaming replica that serves
	// reports, exports and lists within ReadMaxLag of the primary;
	// ReadLagRefuse answers 503 beyond it instead of reading the primary.
	ReadDatabaseURL string
	ReadMaxLag      time.Duration
	ReadLagRefuse   bool
	// ExportBytesPerSecond paces all streamed exports together (0: unpaced).
	ExportBytesPerSecond int64
}

// minIdempotencyRetention is what the README promises clients: a retry
// within 30 days of the first request replays it.
const minIdempotencyRetention = 30 * 24 * time.Hour

const defaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/crowdledger?sslmode=disable"

func loadConfig(getenv func(string) string) (config, error) {
	c := config{DatabaseURL: defaultDatabaseURL, ListenAddr: ":8080", LogLevel: zapcore.InfoLevel, DBMaxConns: 16,
		LedgerWriters: 1, LedgerMaxBatch: 256, MaxBodyBytes: 1 << 20, ShutdownTimeout: 20 * time.Second, SweepInterval: time.Second,
		ChainInterval: 500 * time.Millisecond, CheckpointEvery: 1000, RateRPS: 500, RateBurst: 1000, AnonRPS: 20, AnonBurst: 100, AuthCacheTTL: 2 * time.Second,
		IdempotencyRetention: minIdempotencyRetention, ExportTimeout: 10 * time.Minute, WebhookWorkers: 8, WebhookTimeout: 15 * time.Second,
		ReadMaxLag: 5 * time.Second}
	var errs []error
	str := func(name string, dst *string) {
		if v := getenv(name); v != "" {
			*dst = v
		}
	}
	num := func(name string, lo, hi int64, set func(int64)) {
		v := getenv(name)
		if v == "" {
			return
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < lo || n > hi {
			errs = append(errs, fmt.Errorf("%s=%q: want an integer from %d to %d", name, v, lo, hi))
			return
		}
		set(n)
	}
	dur := func(name string, dst *time.Duration) {
		v := getenv(name)
		if v == "" {
			return
		}
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("%s=%q: want a positive duration such as 20s", name, v))
			return
		}
		*dst = d
	}
	str("DATABASE_URL", &c.DatabaseURL)
	str("READ_DATABASE_URL", &c.ReadDatabaseURL)
	dur("READ_MAX_LAG", &c.ReadMaxLag)
	num("EXPORT_BYTES_PER_SECOND", 0, 1<<40, func(n int64) { c.ExportBytesPerSecond = n })
	switch v := getenv("READ_LAG_POLICY"); v {
	case "", "primary":
	case "refuse":
		c.ReadLagRefuse = true
	default:
		errs = append(errs, fmt.Errorf("READ_LAG_POLICY=%q: want primary (read the primary when the replica is too far behind) or refuse (503)", v))
	}
	c.AppRole = migrations.DefaultServiceRole
	str("APP_DB_ROLE", &c.AppRole)
	if c.AppRole == "-" {
		c.AppRole = ""
	}
	str("APP_DB_PASSWORD", &c.AppPassword)
	str("LISTEN_ADDR", &c.ListenAddr)
	if v := getenv("LOG_LEVEL"); v != "" {
		if err := c.LogLevel.UnmarshalText([]byte(v)); err != nil {
			errs = append(errs, fmt.Errorf("LOG_LEVEL=%q: want debug, info, warn or error", v))
		}
	}
	num("DB_MAX_CONNS", 2, 1000, func(n int64) { c.DBMaxConns = int32(n) })
	num("LEDGER_WRITERS", 1, 64, func(n int64) { c.LedgerWriters = int(n) })
	num("LEDGER_MAX_BATCH", 1, 10000, func(n int64) { c.LedgerMaxBatch = int(n) })
	num("MAX_BODY_BYTES", 1024, 64<<20, func(n int64) { c.MaxBodyBytes = n })
	dur("SHUTDOWN_TIMEOUT", &c.ShutdownTimeout)
	dur("PENDING_SWEEP_INTERVAL", &c.SweepInterval)
	dur("PLATFORM_COOLING_OFF", &c.PlatformCoolingOff)
	c.RedListExpedite = true
	if v := getenv("RED_LIST_EXPEDITED_REVIEW"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("RED_LIST_EXPEDITED_REVIEW=%q: want true or false", v))
		}
		c.RedListExpedite = b
	}
	dur("AUDIT_CHAIN_INTERVAL", &c.ChainInterval)
	if v := getenv("AUTH_CACHE_TTL"); v == "0" {
		c.AuthCacheTTL = 0
	} else {
		dur("AUTH_CACHE_TTL", &c.AuthCacheTTL)
	}
	dur("IDEMPOTENCY_RETENTION", &c.IdempotencyRetention)
	dur("EXPORT_TIMEOUT", &c.ExportTimeout)
	dur("WEBHOOK_TIMEOUT", &c.WebhookTimeout)
	num("WEBHOOK_WORKERS", 1, 1000, func(n int64) { c.WebhookWorkers = int(n) })
	c.TracesEndpoint, c.ServiceName, c.TraceBatchTimeout = tracesEndpoint(getenv), "crowdledger", defaultTraceBatchTimeout
	str("OTEL_SERVICE_NAME", &c.ServiceName)
	if v := getenv("OTEL_BSP_SCHEDULE_DELAY"); v != "" { // milliseconds, as the specification has it
		if ms, err := strconv.Atoi(v); err != nil || ms <= 0 {
			errs = append(errs, fmt.Errorf("OTEL_BSP_SCHEDULE_DELAY=%q: want milliseconds", v))
		} else {
			c.TraceBatchTimeout = time.Duration(ms) * time.Millisecond
		}
	}
	if c.TracesEndpoint != "" {
		if u, err := url.Parse(c.TracesEndpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT=%q: want an http(s) URL", c.TracesEndpoint))
		}
	}
	if c.IdempotencyRetention < minIdempotencyRetention {
		errs = append(errs, fmt.Errorf("IDEMPOTENCY_RETENTION=%s: keys are kept at least %s", c.IdempotencyRetention, minIdempotencyRetention))
	}
	num("AUDIT_CHECKPOINT_EVERY", 1, 1_000_000, func(n int64) { c.CheckpointEvery = n })
	str("AUDIT_SIGNING_KEY", &c.AuditSigningKey)
	num("RATE_LIMIT_RPS", 0, 1_000_000, func(n int64) { c.RateRPS = n })
	num("RATE_LIMIT_BURST", 1, 10_000_000, func(n int64) { c.RateBurst = n })
	num("ANON_RATE_LIMIT_RPS", 0, 1_000_000, func(n int64) { c.AnonRPS = n })
	num("ANON_RATE_LIMIT_BURST", 1, 10_000_000, func(n int64) { c.AnonBurst = n })
	str("PII_KEYS", &c.PIIKeys)
	str("PII_LOOKUP_KEY", &c.PIILookupKey)
	// A secret comes from the environment or a file, never both: which
	// would win is a guess nobody should have to make.
	for _, name := range []string{"AUDIT_SIGNING_KEY", "PII_KEYS", "AUDIT_RETIRED_PUBLIC_KEYS"} {
		if getenv(name) != "" && getenv(name+"_FILE") != "" {
			errs = append(errs, fmt.Errorf("%s and %s_FILE are both set: set one", name, name))
		}
	}
	if getenv("PII_LOOKUP_KEY") != "" && getenv("PII_KEYS_FILE") != "" {
		errs = append(errs, errors.New("PII_LOOKUP_KEY and PII_KEYS_FILE are both set: the file holds the lookup key on its second line"))
	}
	if f := getenv("PII_KEYS_FILE"); f != "" && c.PIIKeys == "" {
		b, err := os.ReadFile(f)
		if err != nil {
			errs = append(errs, fmt.Errorf("PII_KEYS_FILE: %w", err))
		}
		// The file holds PII_KEYS on its first line and PII_LOOKUP_KEY on its second.
		keys, lookup, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
		c.PIIKeys, c.PIILookupKey = strings.TrimSpace(keys), strings.TrimSpace(lookup)
	}
	if f := getenv("AUDIT_SIGNING_KEY_FILE"); f != "" && c.AuditSigningKey == "" {
		b, err := os.ReadFile(f)
		if err != nil {
			errs = append(errs, fmt.Errorf("AUDIT_SIGNING_KEY_FILE: %w", err))
		}
		c.AuditSigningKey = string(b)
	}
	retired := getenv("AUDIT_RETIRED_PUBLIC_KEYS")
	if f := getenv("AUDIT_RETIRED_PUBLIC_KEYS_FILE"); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			errs = append(errs, fmt.Errorf("AUDIT_RETIRED_PUBLIC_KEYS_FILE: %w", err))
		}
		retired += "," + strings.ReplaceAll(string(b), "\n", ",")
	}
	for _, k := range strings.Split(retired, ",") {
		if k = strings.TrimSpace(k); k == "" {
			continue
		}
		pub, err := audit.ParsePublicKey(k)
		if err != nil {
			errs = append(errs, fmt.Errorf("AUDIT_RETIRED_PUBLIC_KEYS: %q: %w", k, err))
			continue
		}
		c.RetiredAuditKeys = append(c.RetiredAuditKeys, pub)
	}
	// A URL or a key=value connection string, as libpq and pgx take them.
	if _, err := pgx.ParseConfig(c.DatabaseURL); err != nil || strings.HasPrefix(c.DatabaseURL, "mysql:") {
		errs = append(errs, errors.New("DATABASE_URL: want a postgres:// URL or a key=value connection string (host=... dbname=...)"))
	}
	if _, err := pgx.ParseConfig(c.ReadDatabaseURL); c.ReadDatabaseURL != "" && (err != nil || strings.HasPrefix(c.ReadDatabaseURL, "mysql:")) {
		errs = append(errs, errors.New("READ_DATABASE_URL: want a postgres:// URL or a key=value connection string of a streaming replica"))
	}
	if host, port, err := net.SplitHostPort(c.ListenAddr); err != nil {
		errs = append(errs, fmt.Errorf("LISTEN_ADDR=%q: want host:port or :port", c.ListenAddr))
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 || strings.ContainsAny(host, "/ ") {
		errs = append(errs, fmt.Errorf("LISTEN_ADDR=%q: want host:port or :port with a port from 0 to 65535", c.ListenAddr))
	}
	return c, errors.Join(errs...)
}

// fields describes the configuration for the start-up log line, with the
// database password masked.
func (c config) fields() []zap.Field {
	return []zap.Field{
		zap.String("database_url", redactURL(c.DatabaseURL)), zap.String("listen_addr", c.ListenAddr),
		zap.Stringer("log_level", c.LogLevel), zap.Int32("db_max_conns", c.DBMaxConns),
		zap.Int("ledger_writers", c.LedgerWriters), zap.Int("ledger_max_batch", c.LedgerMaxBatch),
		zap.Int64("max_body_bytes", c.MaxBodyBytes), zap.Duration("shutdown_timeout", c.ShutdownTimeout), zap.Duration("export_timeout", c.ExportTimeout),
		zap.Bool("audit_signing_key_set", c.AuditSigningKey != ""), zap.Bool("pii_keys_set", c.PIIKeys != ""), zap.Int64("audit_checkpoint_every", c.CheckpointEvery),
		zap.Duration("idempotency_retention", c.IdempotencyRetention), zap.Int("audit_retired_public_keys", len(c.RetiredAuditKeys)),
		zap.String("traces_endpoint", redactURL(c.TracesEndpoint)),
		zap.String("read_database_url", redactURL(c.ReadDatabaseURL)), zap.Duration("read_max_lag", c.ReadMaxLag), zap.Bool("read_lag_refuse", c.ReadLagRefuse),
		zap.Int64("export_bytes_per_second", c.ExportBytesPerSecond),
	}
}

// redactURL hides the password of a URL or of a key=value connection string.
func redactURL(raw string) string {
	if !strings.Contains(raw, "://") {
		return passwordKV.ReplaceAllString(raw, "${1}xxxxx")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable)"
	}
	return u.Redacted()
}

var passwordKV = regexp.MustCompile(`(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)`)
