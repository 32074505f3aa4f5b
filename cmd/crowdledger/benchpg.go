package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// The database's share of a run, when PostgreSQL runs on the same box:
// the CPU of the postmaster's processes, read from /proc at the start and
// the end of the run, so that what the database spends per operation is
// read directly rather than as the machine less the service less the
// bench. On a box whose speed drifts, this is what stays comparable
// between two runs of one pair (a grown campaign against a fresh one).
//
// Processes that start and exit within the run (an autovacuum worker that
// finished) are not seen; those that start during it count whole.

// pgKinds are the kinds a PostgreSQL process is counted under, by the
// title it sets (`postgres: checkpointer`, `postgres: user db host ...`).
const (
	pgBackends   = "backends"
	pgAutovacuum = "autovacuum"
	pgBackground = "background"
)

var pgBackgroundTitles = []string{"checkpointer", "background writer", "walwriter", "autovacuum launcher",
	"logical replication launcher", "stats collector", "archiver", "walsender", "walreceiver", "startup"}

// pgProcs is each process's kind and CPU seconds so far.
type pgProcs map[int]pgProc

type pgProc struct {
	kind string
	cpu  float64
}

// readPGProcs reads the postmaster's and its children's CPU from procfs
// (root, usually /proc); nil when the postmaster is not there.
func readPGProcs(procfs string, postmaster int) pgProcs {
	if postmaster <= 0 {
		return nil
	}
	entries, err := os.ReadDir(procfs)
	if err != nil {
		return nil
	}
	out := pgProcs{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join(procfs, e.Name(), "stat"))
		if err != nil {
			continue
		}
		ppid, cpu, ok := parseProcStat(string(stat))
		if !ok || (pid != postmaster && ppid != postmaster) {
			continue
		}
		title, _ := os.ReadFile(filepath.Join(procfs, e.Name(), "cmdline"))
		out[pid] = pgProc{kind: pgKind(pid == postmaster, string(title)), cpu: cpu}
	}
	if _, ok := out[postmaster]; !ok {
		return nil
	}
	return out
}

// parseProcStat reads the parent pid and user plus system CPU seconds from
// a /proc/PID/stat line. The command name (field 2) may hold spaces and
// parentheses, so fields are counted from its last ')'.
func parseProcStat(line string) (ppid int, cpu float64, ok bool) {
	i := strings.LastIndexByte(line, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(line[i+1:]) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0, 0, false
	}
	ppid, err1 := strconv.Atoi(f[1])
	utime, err2 := strconv.ParseFloat(f[11], 64)
	stime, err3 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return 0, 0, false
	}
	return ppid, (utime + stime) / 100, true // clock ticks: USER_HZ is 100 on Linux
}

func pgKind(isPostmaster bool, title string) string {
	title = strings.TrimSpace(strings.ReplaceAll(title, "\x00", " "))
	if isPostmaster {
		return pgBackground
	}
	rest, ok := strings.CutPrefix(title, "postgres: ")
	if !ok {
		return pgBackends
	}
	if strings.HasPrefix(rest, "autovacuum worker") {
		return pgAutovacuum
	}
	for _, t := range pgBackgroundTitles {
		if strings.HasPrefix(rest, t) {
			return pgBackground
		}
	}
	return pgBackends
}

// since is the CPU seconds each kind spent between before and p.
func (p pgProcs) since(before pgProcs) map[string]float64 {
	out := map[string]float64{}
	for pid, now := range p {
		out[now.kind] += now.cpu - before[pid].cpu // a process new since before counts whole
	}
	return out
}
