package main

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeReport is a report built from made-up samples, as the bench builds it.
func fakeReport() report {
	var set seriesSet
	down := set.get("download aes128-gcm@openssh.com", unitMBps)
	for _, v := range []float64{900, 1000, 1100} {
		down.add(clientLib, v)
	}
	down.add(clientXCrypto, 800)
	down.add(clientOpenSSH, 500)
	down.add(clientOpenSSH, 300) // median of two: 400

	lat := set.get(connectRow, unitMs)
	lat.add(clientLib, 12)
	lat.add(clientXCrypto, 10)
	lat.fail(clientOpenSSH)

	ch := set.get(channelRow, unitMs)
	ch.add(clientLib, 0.5)
	ch.add(clientXCrypto, 0.25)
	ch.Missing[clientOpenSSH] = notApplicable

	if again := set.get("download aes128-gcm@openssh.com", unitMBps); again != down {
		panic("get made a second series for one row")
	}
	return report{
		Title: "sshbench: 64 MiB per transfer",
		Facts: []string{"machine: test"},
		Rows:  set.rows(),
		Notes: []string{"a | note"},
	}
}

func TestRowsAndRatios(t *testing.T) {
	rows := fakeReport().Rows
	if len(rows) != 3 {
		t.Fatalf("%d rows, want 3", len(rows))
	}
	down := rows[0]
	for c, want := range []float64{1000, 800, 400} {
		if got := down.Cells[c]; got.Missing != "" || got.Value != want {
			t.Errorf("%s: %+v, want %v", clientName(c), got, want)
		}
	}
	if q, ok := down.ratio(clientLib, clientXCrypto); !ok || q != 1.25 {
		t.Errorf("lib/xcrypto = %v %v, want 1.25", q, ok)
	}
	if q, ok := down.ratio(clientLib, clientOpenSSH); !ok || q != 2.5 {
		t.Errorf("lib/openssh = %v %v, want 2.5", q, ok)
	}
	if _, ok := rows[1].ratio(clientLib, clientOpenSSH); ok {
		t.Error("ratio against a failed cell")
	}
	if got := rows[1].Cells[clientOpenSSH].Missing; got != failed {
		t.Errorf("failed cell shows %q", got)
	}
	zero := row{Unit: unitMs}
	if _, ok := zero.ratio(clientLib, clientXCrypto); ok {
		t.Error("ratio with a zero divisor")
	}
}

func TestWriteText(t *testing.T) {
	var buf bytes.Buffer
	if err := fakeReport().writeText(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"sshbench: 64 MiB per transfer\n  machine: test\n",
		"measurement", "lib/xcrypto", "lib/openssh",
		"1000", "800", "400", "1.25", "2.50",
		"12.00", "10.00", "error", "1.20",
		"0.50", "0.25", "n/a", "2.00",
		"* a | note",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text lacks %q:\n%s", want, out)
		}
	}
	// Columns line up: every table line has "lib/xcrypto"'s column at one offset.
	lines := strings.Split(out, "\n")
	var table []string
	for _, l := range lines {
		if strings.HasPrefix(l, "measurement") || strings.HasPrefix(l, "download") || strings.HasPrefix(l, "connect") || strings.HasPrefix(l, "channel") {
			table = append(table, l)
		}
	}
	if len(table) != 4 {
		t.Fatalf("table lines %q", table)
	}
	col := strings.Index(table[0], "unit")
	for _, l := range table[1:] {
		if l[col-2:col] != "  " || l[col] == ' ' {
			t.Errorf("unit column not at %d in %q", col, l)
		}
	}
}

func TestWriteMarkdown(t *testing.T) {
	var buf bytes.Buffer
	if err := fakeReport().writeMarkdown(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"## sshbench: 64 MiB per transfer\n\n- machine: test\n\n",
		"| measurement | unit | lib | xcrypto | openssh | lib/xcrypto | lib/openssh |\n|---|---|---:|---:|---:|---:|---:|\n",
		"| download aes128-gcm@openssh.com | MB/s | 1000 | 800 | 400 | 1.25 | 2.50 |\n",
		"| connect+auth+exec true (median of 20) | ms | 12.00 | 10.00 | error | 1.20 | - |\n",
		"| channel open+exec true (median of 50) | ms | 0.50 | 0.25 | n/a | 2.00 | - |\n",
		`- a \| note`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("markdown lacks %q:\n%s", want, out)
		}
	}
}

func TestMedianAndUnits(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{3, 1, 2}, 2}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := median(tc.in); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
	in := []float64{3, 1, 2}
	median(in)
	if in[0] != 3 {
		t.Error("median sorted its argument")
	}
	if got := mbPerSec(1<<30, 2*time.Second); math.Abs(got-536.870912) > 1e-9 {
		t.Errorf("mbPerSec = %v", got)
	}
	if got := mbPerSec(1, 0); got != 0 {
		t.Errorf("mbPerSec over no time = %v", got)
	}
	if got := millis(1500 * time.Microsecond); got != 1.5 {
		t.Errorf("millis = %v", got)
	}
}

func TestTurnOrder(t *testing.T) {
	first := map[int]bool{}
	for k := range numClients {
		o := turnOrder(k)
		seen := map[int]bool{}
		for _, c := range o {
			seen[c] = true
		}
		if len(seen) != numClients {
			t.Errorf("turnOrder(%d) = %v: not every client once", k, o)
		}
		first[o[0]] = true
	}
	if len(first) != numClients {
		t.Errorf("not every client goes first in %d rounds", numClients)
	}
}

func TestSizes(t *testing.T) {
	for in, want := range map[string]int64{
		"1GiB": 1 << 30, "64MiB": 64 << 20, "64 mib": 64 << 20, "100M": 100e6, "1.5k": 1500,
		"4096": 4096, "10B": 10, "2gb": 2e9,
	} {
		got, err := parseSize(in)
		if err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "GiB", "-1", "1XB", "0", "0.1"} {
		if _, err := parseSize(bad); err == nil {
			t.Errorf("parseSize(%q) accepted", bad)
		}
	}
	for n, want := range map[int64]string{1 << 30: "1 GiB", 64 << 20: "64 MiB", 3 << 10: "3 KiB", 1000: "1000 B"} {
		if got := formatSize(n); got != want {
			t.Errorf("formatSize(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestFlags(t *testing.T) {
	cfg, err := parseFlags([]string{"-quick", "-runs", "3"}, &bytes.Buffer{})
	if err != nil || cfg.size != quickSize || cfg.runs != 3 || cfg.port != 22 {
		t.Errorf("-quick -runs 3: %+v, %v", cfg, err)
	}
	var usage bytes.Buffer
	if _, err := parseFlags([]string{"-h"}, &usage); err == nil || strings.Contains(usage.String(), rssChildFlagName) {
		t.Errorf("-h: %v, usage shows the hidden flag:\n%s", err, usage.String())
	}
	for _, bad := range [][]string{{"-runs", "0"}, {"-host", "h"}, {"-port", "0"}, {"-size", "x"}, {"extra"}, {"-rss-child", "openssh"}} {
		if _, err := parseFlags(bad, &bytes.Buffer{}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
