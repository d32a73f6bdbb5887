package main

import (
	"strings"
	"testing"
)

// A run as go test -json prints it (cmd/test2json), with a skipped test and subtest, a failed
// test, a failed package and a build failure.
const sample = `{"Action":"start","Package":"m/a"}
{"Action":"run","Package":"m/a","Test":"TestSkip"}
{"Action":"output","Package":"m/a","Test":"TestSkip","Output":"=== RUN   TestSkip\n"}
{"Action":"output","Package":"m/a","Test":"TestSkip","Output":"    a_test.go:3: setting up\n"}
{"Action":"output","Package":"m/a","Test":"TestSkip","Output":"    interop.go:97: interop: needs root: no PAM\n"}
{"Action":"output","Package":"m/a","Test":"TestSkip","Output":"        second line\n"}
{"Action":"output","Package":"m/a","Test":"TestSkip","Output":"--- SKIP: TestSkip (0.00s)\n"}
{"Action":"skip","Package":"m/a","Test":"TestSkip"}
{"Action":"run","Package":"m/a","Test":"TestParent/sub"}
{"Action":"output","Package":"m/a","Test":"TestParent/sub","Output":"    b_test.go:9: interop: needs root: no PAM\n"}
{"Action":"output","Package":"m/a","Test":"TestParent/sub","Output":"        second line\n"}
{"Action":"skip","Package":"m/a","Test":"TestParent/sub"}
{"Action":"output","Package":"m/a","Test":"TestParent","Output":"--- PASS: TestParent (0.00s)\n"}
{"Action":"pass","Package":"m/a","Test":"TestParent"}
{"Action":"output","Package":"m/a","Test":"TestNoReason","Output":"--- SKIP: TestNoReason (0.00s)\n"}
{"Action":"skip","Package":"m/a","Test":"TestNoReason"}
{"Action":"output","Package":"m/a","Output":"ok  \tm/a\t0.1s\n"}
{"Action":"pass","Package":"m/a"}
{"Action":"output","Package":"m/b","Test":"TestBad","Output":"    b_test.go:5: got 1, want 2\n"}
{"Action":"fail","Package":"m/b","Test":"TestBad"}
{"Action":"output","Package":"m/b","Output":"goleak: found unexpected goroutines\n"}
{"Action":"output","Package":"m/b","Output":"FAIL\tm/b\t0.2s\n"}
{"Action":"fail","Package":"m/b"}
{"ImportPath":"m/c [m/c.test]","Action":"build-output","Output":"c.go:1: syntax error\n"}
{"ImportPath":"m/c [m/c.test]","Action":"build-fail"}
not json: printed as is
`

func TestReport(t *testing.T) {
	var out strings.Builder
	r := newReport(&out)
	if err := r.read(strings.NewReader(sample)); err != nil {
		t.Fatal(err)
	}
	if r.summary() {
		t.Error("summary reports a pass for a run with failures")
	}
	got := out.String()
	for _, want := range []string{
		"ok  \tm/a\t0.1s\n",
		"FAIL\tm/b\t0.2s\n",
		"c.go:1: syntax error\n",
		"not json: printed as is\n",
		"--- FAIL output of m/b TestBad:\n    b_test.go:5: got 1, want 2\n",
		"goleak: found unexpected goroutines",
		"Skipped 3 tests (not run, not passed), by reason:",
		"  2 × interop: needs root: no PAM second line\n      m/a TestSkip\n      m/a TestParent/sub\n",
		"  1 × (no reason given)\n      m/a TestNoReason\n",
		"m/c [m/c.test] [build failed]",
		"Packages failed: 1",
		"Tests: 1 passed, 1 failed, 3 skipped",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "setting up") {
		t.Errorf("report shows the output of a test that did not fail:\n%s", got)
	}
}

func TestReportPassesOnlyAClean(t *testing.T) {
	for _, c := range []struct {
		in   string
		pass bool
	}{
		{"", false}, // go test never ran
		{`{"Action":"pass","Package":"m/a","Test":"TestA"}` + "\n" + `{"Action":"pass","Package":"m/a"}` + "\n", true},
		{`{"Action":"skip","Package":"m/a","Test":"TestA"}` + "\n", true},
	} {
		var out strings.Builder
		r := newReport(&out)
		if err := r.read(strings.NewReader(c.in)); err != nil {
			t.Fatal(err)
		}
		if got := r.summary(); got != c.pass {
			t.Errorf("%q: summary = %v, want %v\n%s", c.in, got, c.pass, out.String())
		}
	}
}

func TestKeepIsBounded(t *testing.T) {
	r := newReport(&strings.Builder{})
	k := key{"p", "T"}
	line := strings.Repeat("x", 1000) + "\n"
	for range 5000 {
		r.keep(k, line)
	}
	if r.kept[k] > maxKept {
		t.Errorf("kept %d bytes, limit %d", r.kept[k], maxKept)
	}
}
