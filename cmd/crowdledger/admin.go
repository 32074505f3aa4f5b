package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/crowdledger/crowdledger/audit"
	"github.com/crowdledger/crowdledger/auth"
	"github.com/crowdledger/crowdledger/idempotency"
	"github.com/crowdledger/crowdledger/internal/export"
	"github.com/crowdledger/crowdledger/internal/page"
	"github.com/crowdledger/crowdledger/internal/pg"
	"github.com/crowdledger/crowdledger/internal/pii"
	"github.com/crowdledger/crowdledger/ledger"
	"github.com/crowdledger/crowdledger/migrations"
	"github.com/crowdledger/crowdledger/registry"
	"github.com/crowdledger/crowdledger/supervision"
)

func migrate(ctx context.Context, cfg config, stdout io.Writer) error {
	conn, err := pgx.Connect(ctx, cfg.DatabaseURL)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(ctx)
	if err := migrations.Migrate(ctx, conn); err != nil {
		return err
	}
	v, err := migrations.Current(ctx, conn)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "database at schema version %d\n", v)
	if cfg.AppRole == "" {
		return nil
	}
	if err := migrations.GrantServiceRole(ctx, conn, cfg.AppRole, cfg.AppPassword); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "service role %s granted what serve needs and no more: run serve with it in DATABASE_URL\n", cfg.AppRole)
	return nil
}

func keys(ctx context.Context, cfg config, args []string, stdout io.Writer) error {
	if len(args) > 0 && args[0] == "pii" {
		// Two lines, as PII_KEYS_FILE expects: the encryption key ring and the lookup key.
		if len(args) > 1 && args[1] == "--rotate" {
			// The configured ring with a new key in front; the lookup key
			// never changes (stored documents are found by it).
			if cfg.PIIKeys == "" || cfg.PIILookupKey == "" {
				return fmt.Errorf("keys pii --rotate: set PII_KEYS and PII_LOOKUP_KEY (or PII_KEYS_FILE) to the ring in use")
			}
			ring, err := pii.Rotated(cfg.PIIKeys)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%s\n%s\n", ring, cfg.PIILookupKey)
			return nil
		}
		if len(args) > 1 {
			return fmt.Errorf("usage: keys pii [--rotate]")
		}
		fmt.Fprintf(stdout, "k1:%s\n%s\n", pii.NewKey(), pii.NewKey())
		return nil
	}
	if len(args) == 0 {
		return fmt.Errorf("usage: keys create --role ROLE --subject ID [--name NAME] [--expires DURATION] | keys list | keys revoke KEY_ID")
	}
	pool, err := pg.Connect(ctx, cfg.DatabaseURL, 2)
	if err != nil {
		return err
	}
	defer pool.Close()
	store := auth.NewStore(pool)
	ctx = audit.WithActor(ctx, audit.System("cli"), "")
	switch args[0] {
	case "create":
		fs := flag.NewFlagSet("keys create", flag.ContinueOnError)
		fs.SetOutput(stdout)
		role := fs.String("role", "", "operator, compliance, issuer, investor or regulator")
		subject := fs.String("subject", "", "who holds the key: the party an issuer or investor key acts for, or the staff member's id (maker-checker compares these)")
		name := fs.String("name", "", "who holds the key")
		expires := fs.Duration("expires", 0, "lifetime, e.g. 720h (default: no expiry)")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		r, err := auth.ParseRole(*role)
		if err != nil {
			return err
		}
		if *subject == "" {
			return fmt.Errorf("keys create: --subject is required: the party an issuer or investor key acts for, or the id of the staff member who holds the key")
		}
		var exp *time.Time
		if *expires > 0 {
			t := time.Now().Add(*expires)
			exp = &t
		}
		if r.Scoped() {
			// A party key names a registered party of that role.
			id, perr := uuid.Parse(*subject)
			if perr != nil {
				return fmt.Errorf("keys create: --subject of an %s key is the party's id (a UUID)", r)
			}
			if ok, err := registry.New(pool, nil).Exists(ctx, id, string(r)); err != nil {
				return err
			} else if !ok {
				return fmt.Errorf("keys create: no registered %s with id %s", r, id)
			}
		}
		p, token, err := store.Create(ctx, r, *subject, *name, exp)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "key id:  %s\nrole:    %s\nsubject: %s\nkey:     %s\n\nThe key is shown once; only its hash is stored.\n", p.KeyID, p.Role, p.Subject, token)
		return nil
	case "list":
		return page.Walk(func(r page.Request) (page.Of[auth.Key], error) { return store.Keys(ctx, auth.KeyFilter{}, r) }, func(k auth.Key) error {
			state := "active"
			if k.RevokedAt != nil {
				state = "revoked " + k.RevokedAt.UTC().Format(time.RFC3339)
			} else if k.ExpiresAt != nil && k.ExpiresAt.Before(time.Now()) {
				state = "expired"
			}
			fmt.Fprintf(stdout, "%s  %-10s  %-20s  %-20s  %s\n", k.KeyID, k.Role, k.Subject, k.Name, state)
			return nil
		})
	case "revoke":
		if len(args) != 2 {
			return fmt.Errorf("usage: keys revoke KEY_ID")
		}
		id, err := uuid.Parse(args[1])
		if err != nil {
			return fmt.Errorf("key id: %w", err)
		}
		if err := store.Revoke(ctx, id); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "revoked %s\n", id)
		return nil
	}
	return fmt.Errorf("unknown keys command %q", args[0])
}

// check verifies the ledger's invariants; a broken one is an error (exit 1).
func check(ctx context.Context, cfg config, stdout io.Writer) error {
	pool, err := pg.Connect(ctx, cfg.DatabaseURL, 2)
	if err != nil {
		return err
	}
	defer pool.Close()
	lg := ledger.New(pool, ledger.Options{Freezes: supervision.New(pool)})
	defer lg.Close()
	vs, err := lg.Check(ctx)
	if err != nil {
		return err
	}
	for _, v := range vs {
		fmt.Fprintln(stdout, "BROKEN", v)
	}
	if len(vs) > 0 {
		return fmt.Errorf("%d ledger invariant violations", len(vs))
	}
	fmt.Fprintln(stdout, "ledger invariants hold")
	return nil
}

// auditCmd: keygen | pubkey | export [--from N] [--to M] | verify FILE --public-key KEY...
func auditCmd(ctx context.Context, cfg config, args []string, stdout io.Writer) error {
	usage := fmt.Errorf("usage: audit keygen | audit pubkey | audit export [--from N] [--to M] | audit verify FILE --public-key BASE64 [...]")
	if len(args) == 0 {
		return usage
	}
	switch args[0] {
	case "keygen":
		seed, err := audit.GenerateSeed()
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, seed)
		return nil
	case "pubkey":
		s, err := audit.ParseSigner(cfg.AuditSigningKey)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s %s\n", s.Public().ID, s.Public().Encoded())
		return nil
	case "export":
		fs := flag.NewFlagSet("audit export", flag.ContinueOnError)
		from := fs.Int64("from", 1, "first position")
		to := fs.Int64("to", 0, "last position (0: the head)")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		s, err := audit.ParseSigner(cfg.AuditSigningKey)
		if err != nil {
			return err
		}
		pool, err := pg.Connect(ctx, cfg.DatabaseURL, 2)
		if err != nil {
			return err
		}
		defer pool.Close()
		return audit.NewTrail(pool, s).Export(ctx, stdout, *from, *to)
	case "verify":
		fs := flag.NewFlagSet("audit verify", flag.ContinueOnError)
		var keys multiFlag
		fs.Var(&keys, "public-key", "base64 Ed25519 public key (repeat for retired keys)")
		files, err := parseAnyOrder(fs, args[1:])
		if err != nil {
			return err
		}
		if len(files) != 1 {
			return usage
		}
		file := files[0]
		if len(keys) == 0 {
			return fmt.Errorf("audit verify: give at least one --public-key (GET /v1/audit/public-keys publishes them)")
		}
		var pubs []audit.PublicKey
		for _, k := range keys {
			p, err := audit.ParsePublicKey(k)
			if err != nil {
				return err
			}
			pubs = append(pubs, p)
		}
		f, err := os.Open(file)
		if err != nil {
			return err
		}
		defer f.Close()
		rep, err := audit.VerifyExport(f, pubs)
		if err != nil {
			return fmt.Errorf("read %s: %w", file, err)
		}
		fmt.Fprintf(stdout, "positions %d-%d: %d links, %d signed checkpoints checked\n", rep.From, rep.To, rep.Links, rep.Checkpoints)
		for _, p := range rep.Problems {
			fmt.Fprintf(stdout, "PROBLEM %s at position %d (event %d): %s\n", p.Kind, p.Pos, p.Seq, p.Detail)
		}
		if !rep.OK {
			return fmt.Errorf("audit chain verification failed: %d problems", len(rep.Problems))
		}
		fmt.Fprintln(stdout, "audit chain verified")
		return nil
	}
	return usage
}

type multiFlag []string

func (m *multiFlag) String() string     { return fmt.Sprint(*m) }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// exportCheck verifies a downloaded statement, campaign report or audit
// export against its trailer: a file cut short or changed fails.
func exportCheck(args []string, stdout io.Writer) error {
	if len(args) != 1 {
		return fmt.Errorf("usage: export-check FILE")
	}
	b, err := os.ReadFile(args[0])
	if err != nil {
		return err
	}
	rows, err := export.Check(b)
	if err != nil {
		return fmt.Errorf("%s: %w", args[0], err)
	}
	fmt.Fprintf(stdout, "%s: whole, %d rows\n", args[0], rows)
	return nil
}

// piiCmd re-encrypts stored personal data under the key ring's newest key
// after `keys pii --rotate`: page by page, resumable, beside a running
// service. When it reports nothing left, older keys may leave the ring.
func piiCmd(ctx context.Context, cfg config, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("pii reencrypt", flag.ContinueOnError)
	fs.SetOutput(stdout)
	batch := fs.Int("batch", 500, "rows per transaction")
	if len(args) == 0 || args[0] != "reencrypt" {
		return fmt.Errorf("usage: pii reencrypt [--batch 500]")
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	keys, err := pii.ParseKeyring(cfg.PIIKeys, cfg.PIILookupKey)
	if err != nil {
		return err
	}
	pool, err := pg.Connect(ctx, cfg.DatabaseURL, 2)
	if err != nil {
		return err
	}
	defer pool.Close()
	ctx = audit.WithActor(ctx, audit.System("pii-reencrypt"), "")
	reg, answers := registry.New(pool, keys), idempotency.New(pool, keys)
	var total int
	for _, step := range []func(context.Context, int) (int, error){reg.Reseal, answers.Reseal} {
		for {
			n, err := step(ctx, *batch)
			total += n
			if err != nil {
				return fmt.Errorf("after %d rows: %w (run it again to resume)", total, err)
			}
			if n == 0 {
				break
			}
		}
	}
	fmt.Fprintf(stdout, "re-encrypted %d values under key %s; nothing is sealed under another key now\n", total, keys.CurrentKeyID())
	return nil
}

// parseAnyOrder parses flags wherever they stand among the arguments
// (`verify FILE --public-key K` and `verify --public-key K FILE` alike),
// returning the rest in order.
func parseAnyOrder(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return rest, nil
		}
		rest = append(rest, fs.Arg(0))
		args = fs.Args()[1:]
	}
}
