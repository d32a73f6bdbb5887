// Command testreport reads `go test -json` on stdin and prints what a person needs from a
// whole run: one line per package as it finishes, the full output of every failed test, and at
// the end every skipped test grouped by the reason it gave, with the counts. ./test.sh pipes
// the suite through it so that a skipped case is always listed as skipped, never folded into
// "ok".
//
// Usage:
//
//	go test -json ./... | go run ./internal/cmd/testreport
//
// It exits 1 when any test or package failed (or the input had no test events at all), so a
// pipeline with pipefail fails exactly when the run failed.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"
)

func main() {
	r := newReport(os.Stdout)
	if err := r.read(os.Stdin); err != nil {
		fmt.Fprintln(os.Stderr, "testreport:", err)
		os.Exit(2)
	}
	if !r.summary() {
		os.Exit(1)
	}
}

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action     string
	Package    string
	Test       string
	Output     string
	ImportPath string // build-output and build-fail events
}

// maxKept bounds the output kept per test: a failing interop test prints a server log of at
// most 256 KiB, and a runaway test must not grow memory without end. The tail is kept.
const maxKept = 1 << 20

type key struct{ pkg, test string }

// skip is one skipped test and the last thing it logged, which is its t.Skip message.
type skip struct {
	key
	reason string
}

type report struct {
	w       io.Writer
	output  map[key][]string // output of tests (and packages) still running
	kept    map[key]int      // bytes in output[k]
	skips   []skip
	counts  map[string]int // "pass", "fail", "skip" of tests
	failed  []key          // failed tests and packages, in order
	events  int
	pkgFail int
}

func newReport(w io.Writer) *report {
	return &report{w: w, output: map[key][]string{}, kept: map[key]int{}, counts: map[string]int{}}
}

func (r *report) read(in io.Reader) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var ev event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &ev) != nil {
			// Not from test2json (go vet or the linker writing directly): show it.
			fmt.Fprintf(r.w, "%s\n", line)
			continue
		}
		r.event(ev)
	}
	return sc.Err()
}

func (r *report) event(ev event) {
	r.events++
	k := key{ev.Package, ev.Test}
	switch ev.Action {
	case "build-output":
		fmt.Fprint(r.w, ev.Output)
	case "build-fail":
		r.failed = append(r.failed, key{ev.ImportPath, "[build failed]"})
	case "output":
		if ev.Test == "" && isPackageLine(ev.Output) {
			fmt.Fprint(r.w, ev.Output)
			return
		}
		r.keep(k, ev.Output)
	case "pass", "fail", "skip":
		out := r.output[k]
		delete(r.output, k)
		delete(r.kept, k)
		if ev.Test == "" { // the package's own result
			if ev.Action == "fail" {
				r.pkgFail++
				r.failed = append(r.failed, k)
				r.print(k, out)
			}
			return
		}
		r.counts[ev.Action]++
		switch ev.Action {
		case "fail":
			r.failed = append(r.failed, k)
			r.print(k, out)
		case "skip":
			r.skips = append(r.skips, skip{k, skipReason(out)})
		}
	}
}

// keep appends output to k's, dropping the oldest lines past maxKept.
func (r *report) keep(k key, s string) {
	r.output[k] = append(r.output[k], s)
	r.kept[k] += len(s)
	for r.kept[k] > maxKept && len(r.output[k]) > 1 {
		r.kept[k] -= len(r.output[k][0])
		r.output[k] = r.output[k][1:]
	}
}

func (r *report) print(k key, out []string) {
	name := k.pkg
	if k.test != "" {
		name += " " + k.test
	}
	fmt.Fprintf(r.w, "\n--- FAIL output of %s:\n%s", name, strings.Join(out, ""))
}

// isPackageLine reports whether s is go test's per-package result line.
func isPackageLine(s string) bool {
	return strings.HasPrefix(s, "ok  \t") || strings.HasPrefix(s, "FAIL\t") || strings.HasPrefix(s, "?   \t")
}

// logStart matches the first line of a t.Log entry: "    file_test.go:12: text".
var logStart = regexp.MustCompile(`^\s+[\w.-]+\.go:\d+: `)

// skipReason returns the last log entry of a skipped test's output without its file:line
// prefix: t.Skip logs its message last. Continuation lines are joined with spaces.
func skipReason(out []string) string {
	var entries [][]string
	for _, chunk := range out {
		for _, line := range strings.Split(strings.TrimRight(chunk, "\n"), "\n") {
			switch {
			case strings.HasPrefix(line, "=== "), strings.HasPrefix(line, "--- "):
			case logStart.MatchString(line):
				entries = append(entries, []string{logStart.ReplaceAllString(line, "")})
			case len(entries) > 0 && strings.TrimSpace(line) != "":
				last := &entries[len(entries)-1]
				*last = append(*last, strings.TrimSpace(line))
			}
		}
	}
	if len(entries) == 0 {
		return "(no reason given)"
	}
	return strings.Join(entries[len(entries)-1], " ")
}

// summary prints the skipped tests by reason, the failures and the counts, and reports whether
// the run passed.
func (r *report) summary() bool {
	byReason := map[string][]key{}
	for _, s := range r.skips {
		byReason[s.reason] = append(byReason[s.reason], s.key)
	}
	reasons := make([]string, 0, len(byReason))
	for reason := range byReason {
		reasons = append(reasons, reason)
	}
	sort.Slice(reasons, func(i, j int) bool {
		if a, b := len(byReason[reasons[i]]), len(byReason[reasons[j]]); a != b {
			return a > b
		}
		return reasons[i] < reasons[j]
	})
	if len(reasons) > 0 {
		fmt.Fprintf(r.w, "\nSkipped %d tests (not run, not passed), by reason:\n", len(r.skips))
		for _, reason := range reasons {
			keys := byReason[reason]
			fmt.Fprintf(r.w, "\n  %d × %s\n", len(keys), reason)
			for _, k := range keys {
				fmt.Fprintf(r.w, "      %s %s\n", shortPkg(k.pkg), k.test)
			}
		}
	}
	if len(r.failed) > 0 {
		fmt.Fprintf(r.w, "\nFailed:\n")
		for _, k := range r.failed {
			test := k.test
			if test == "" {
				test = "(the package: see its output above)"
			}
			fmt.Fprintf(r.w, "      %s %s\n", shortPkg(k.pkg), test)
		}
	}
	// The counts line has the plain "N passed, N failed, N skipped" form
	// that CI reads as a test runner's closing line: nothing after it.
	fmt.Fprintf(r.w, "\nPackages failed: %d\n", r.pkgFail)
	fmt.Fprintf(r.w, "Tests: %d passed, %d failed, %d skipped\n",
		r.counts["pass"], r.counts["fail"], r.counts["skip"])
	if r.events == 0 {
		fmt.Fprintln(r.w, "No test events were read: go test did not run.")
		return false
	}
	return len(r.failed) == 0
}

// shortPkg drops the module path from a package path.
func shortPkg(p string) string {
	if s, ok := strings.CutPrefix(p, "github.com/libssh-go/libssh/"); ok {
		return s
	}
	return p
}
