package main

import (
	"fmt"
	"io"
	"runtime/debug"
	"sort"
	"strings"

	"github.com/crowdledger/crowdledger/compliance"
)

// usages say what each command does and takes; `crowdledger CMD --help`
// prints one and runs nothing.
var usages = map[string]string{
	"serve":        "crowdledger serve\n  run the HTTP service; configuration comes from the environment (README: Configuration)",
	"migrate":      "crowdledger migrate\n  apply the embedded migrations with the owner's DATABASE_URL and grant the service role (APP_DB_ROLE)",
	"keys":         "crowdledger keys create --role ROLE --subject ID [--name NAME] [--expires 720h]\ncrowdledger keys list | keys revoke KEY_ID\ncrowdledger keys pii [--rotate]\n  issue, list and revoke API keys (an issuer or investor key names a registered party); print a personal-data key ring",
	"check":        "crowdledger check\n  verify the ledger's invariants; exit 1 if any is broken",
	"audit":        "crowdledger audit keygen | pubkey | export [--from N --to M] | verify FILE --public-key KEY [--public-key OLD]\n  the audit trail's signing key, an export, and its offline verification",
	"pii":          "crowdledger pii reencrypt [--batch 500]\n  re-encrypt stored personal data under the key ring's newest key (resumable)",
	"export-check": "crowdledger export-check FILE\n  check a downloaded export against its trailer (row count and SHA-256)",
	"demo":         "crowdledger demo --key OPERATOR_KEY --compliance-key COMPLIANCE_KEY [--url URL] [--wait 6s]\n  play the demo stories against a running service",
	"bench":        "crowdledger bench --key OPERATOR_KEY --compliance-key COMPLIANCE_KEY --scenario hot|spread|mixed|ledger|equity [--clients 64] [--duration 30s] [--prefill N] [--settle D] [--postmaster-pid PID]\n  load a running service like real clients",
	"version":      "crowdledger version\n  print the build's version, revision and Go version",
	"testdata":     "crowdledger testdata ids [--n 5]\n  print valid test identity numbers (GB 11643) and unified social credit codes (GB 32100)",
}

// wantsHelp reports whether the arguments ask for help.
func wantsHelp(args []string) bool {
	for _, a := range args {
		if a == "-h" || a == "-help" || a == "--help" || a == "help" {
			return true
		}
	}
	return false
}

func printUsages(w io.Writer) {
	names := make([]string, 0, len(usages))
	for n := range usages {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "%s\n\n", usages[n])
	}
}

// buildInfo is the module version, VCS revision and Go version of this
// binary, as the Go toolchain recorded them.
func buildInfo() (version, revision, goVersion string) {
	version, revision, goVersion = "(devel)", "unknown", "unknown"
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return
	}
	goVersion = bi.GoVersion
	if bi.Main.Version != "" {
		version = bi.Main.Version
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" {
			revision = s.Value
		}
	}
	return
}

func versionCmd(w io.Writer) error {
	v, r, g := buildInfo()
	fmt.Fprintf(w, "crowdledger %s (revision %s, %s)\n", v, r, g)
	return nil
}

// testdataCmd prints identity numbers and credit codes that pass their
// check digits, for trying the API: a first investor needs one.
func testdataCmd(args []string, w io.Writer) error {
	if len(args) == 0 || args[0] != "ids" {
		return fmt.Errorf("usage: %s", usages["testdata"])
	}
	fmt.Fprintln(w, "# PRC resident identity numbers (prc_resident_id), born 1990-01-01 in 630102 (Xining), valid check digits")
	for i := 1; i <= 5; i++ {
		first := fmt.Sprintf("63010219900101%03d", i)
		fmt.Fprintln(w, first+string(compliance.ResidentIDCheck(first)))
	}
	fmt.Fprintln(w, "# unified social credit codes (prc_uscc), valid check characters")
	for i := 1; i <= 5; i++ {
		first := fmt.Sprintf("91630100MA%07d", i)
		c, _ := compliance.USCCCheck(strings.ToUpper(first))
		fmt.Fprintln(w, first+string(c))
	}
	return nil
}
