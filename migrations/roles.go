package migrations

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// DefaultServiceRole is the role `crowdledger serve` connects as.
const DefaultServiceRole = "crowdledger_app"

// GrantServiceRole creates the service's role if it is missing and gives
// it only what the service needs, after every migration: it reads and
// writes rows, and nothing else. It owns nothing, so it cannot drop a
// table, alter one or disable its triggers; and it may not UPDATE or DELETE
// the append-only tables at all (the tables whose triggers forbid it: the
// ledger's entries and transfers, the audit chain, qualifications,
// complaint events), so even a compromised service is stopped before the
// trigger is. password, when not empty, becomes the role's password.
func GrantServiceRole(ctx context.Context, conn *pgx.Conn, role, password string) error {
	id := pgx.Identifier{role}.Sanitize()
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)`, role).Scan(&exists); err != nil {
		return fmt.Errorf("service role: %w", err)
	}
	if !exists {
		// Roles are the cluster's, shared by its databases: another
		// migration may create it at the same moment.
		if _, err := conn.Exec(ctx, fmt.Sprintf(`DO $$ BEGIN CREATE ROLE %s LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT;
			EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$`, id)); err != nil {
			return fmt.Errorf("create service role %s (the migrating user needs CREATEROLE, or create it beforehand): %w", role, err)
		}
	}
	if password != "" {
		if _, err := conn.Exec(ctx, fmt.Sprintf(`ALTER ROLE %s PASSWORD %s`, id, quoteLiteral(password))); err != nil {
			return fmt.Errorf("set the service role's password: %w", err)
		}
	}
	var db string
	if err := conn.QueryRow(ctx, `SELECT current_database()`).Scan(&db); err != nil {
		return err
	}
	stmts := []string{
		fmt.Sprintf(`GRANT CONNECT, TEMPORARY ON DATABASE %s TO %s`, pgx.Identifier{db}.Sanitize(), id),
		fmt.Sprintf(`GRANT USAGE ON SCHEMA public TO %s`, id),
		fmt.Sprintf(`REVOKE ALL ON ALL TABLES IN SCHEMA public FROM %s`, id),
		fmt.Sprintf(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO %s`, id),
		fmt.Sprintf(`GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO %s`, id),
		fmt.Sprintf(`REVOKE INSERT, UPDATE, DELETE ON %s FROM %s`, VersionTable, id),
	}
	// What the triggers forbid, the grants withhold: a row trigger on
	// UPDATE (tgtype bit 16) or DELETE (bit 8) that runs forbid_change.
	rows, err := conn.Query(ctx, `SELECT DISTINCT c.relname, (t.tgtype & 16) <> 0, (t.tgtype & 8) <> 0
		FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_proc p ON p.oid = t.tgfoid
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'public' AND p.proname IN ('forbid_change', 'forbid_change_but_reseal') AND NOT t.tgisinternal`)
	if err != nil {
		return fmt.Errorf("append-only tables: %w", err)
	}
	for rows.Next() {
		var table string
		var upd, del bool
		if err := rows.Scan(&table, &upd, &del); err != nil {
			rows.Close()
			return err
		}
		t := pgx.Identifier{table}.Sanitize()
		if upd {
			stmts = append(stmts, fmt.Sprintf(`REVOKE UPDATE ON %s FROM %s`, t, id))
		}
		if del {
			stmts = append(stmts, fmt.Sprintf(`REVOKE DELETE ON %s FROM %s`, t, id))
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, s := range stmts {
		if _, err := conn.Exec(ctx, s); err != nil {
			return fmt.Errorf("grant the service role: %s: %w", s, err)
		}
	}
	return nil
}

func quoteLiteral(s string) string {
	out := []byte{'\''}
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' {
			out = append(out, '\'')
		}
		out = append(out, s[i])
	}
	return string(append(out, '\''))
}
