// Command crowdledger runs the crowdledger service and its operator tools.
//
//	crowdledger serve                          run the HTTP service
//	crowdledger migrate                        apply database migrations
//	crowdledger keys create --role R --subject ID [--name N] [--expires 720h]
//	crowdledger keys list | keys revoke KEY_ID
//	crowdledger check                          verify the ledger's invariants (exit 1 if broken)
//	crowdledger audit keygen | pubkey | export | verify FILE --public-key KEY
//	crowdledger demo [--url URL] [--key OPERATOR_KEY] [--wait 6s]   play the demo stories
//	crowdledger bench --scenario hot|spread|mixed|ledger [--clients 64] [--duration 30s] [--pgbench-url URL]
//
// Configuration comes from the environment; see config.go and the README.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdout); err != nil {
		fatal(os.Stderr, err)
		os.Exit(1)
	}
}

var errUsage = errors.New(`usage: crowdledger serve | migrate | keys create|list|revoke | check | audit keygen|pubkey|export|verify | pii reencrypt | export-check FILE | demo | bench | testdata ids | version (CMD --help for each)`)

func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) < 2 {
		return errUsage
	}
	// Help runs nothing: no migration, no secret printed, exit 0.
	if wantsHelp(args[1:2]) {
		printUsages(stdout)
		return nil
	}
	if wantsHelp(args[2:]) {
		u, ok := usages[args[1]]
		if !ok {
			return errUsage
		}
		fmt.Fprintln(stdout, u)
		return nil
	}
	switch args[1] {
	case "version":
		return versionCmd(stdout)
	case "testdata":
		return testdataCmd(args[2:], stdout)
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	switch args[1] {
	case "serve":
		return serve(ctx, cfg, stdout)
	case "migrate":
		return migrate(ctx, cfg, stdout)
	case "keys":
		return keys(ctx, cfg, args[2:], stdout)
	case "check":
		return check(ctx, cfg, stdout)
	case "audit":
		return auditCmd(ctx, cfg, args[2:], stdout)
	case "pii":
		return piiCmd(ctx, cfg, args[2:], stdout)
	case "export-check":
		return exportCheck(args[2:], stdout)
	case "demo":
		return demo(ctx, args[2:], getenv, stdout)
	case "bench":
		return bench(ctx, args[2:], getenv, stdout)
	default:
		return errUsage
	}
}

// fatal writes the error that stops the process as one JSON line, like
// every other line the service logs, so a log pipeline does not drop it.
func fatal(w io.Writer, err error) {
	line, _ := json.Marshal(map[string]string{"level": "fatal", "time": time.Now().UTC().Format(time.RFC3339Nano), "msg": "crowdledger stopped", "error": err.Error()})
	fmt.Fprintf(w, "%s\n", line)
}
