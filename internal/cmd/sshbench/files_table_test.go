package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestParseRTTsAndClients(t *testing.T) {
	got, err := parseRTTs("0, 10ms,50ms")
	if err != nil || len(got) != 3 || got[0] != 0 || got[1] != 10*time.Millisecond || got[2] != 50*time.Millisecond {
		t.Fatalf("parseRTTs = %v, %v", got, err)
	}
	for _, bad := range []string{"", "fast", "-5ms", "10ms,,"} {
		if _, err := parseRTTs(bad); err == nil {
			t.Errorf("parseRTTs(%q) accepted", bad)
		}
	}
	if parseClients("") != nil {
		t.Fatal("empty -sftp-clients must select all")
	}
	if m := parseClients("lib-sftp, pkg-sftp,"); len(m) != 2 || !m["lib-sftp"] || !m["pkg-sftp"] {
		t.Fatalf("parseClients = %v", m)
	}
	cfg, err := parseFlags([]string{"-sftp", "-rtt", "0,50ms", "-sftp-clients", "lib-scp"}, &bytes.Buffer{})
	if err != nil || !cfg.sftp || len(cfg.rtts) != 2 || !cfg.fileClients["lib-scp"] {
		t.Fatalf("parseFlags: %+v, %v", cfg, err)
	}
}

// The table shows medians, failures, and ratios only where both clients
// have a figure.
func TestFileReportTable(t *testing.T) {
	rep := fileReport{Title: "t", Clients: []string{"lib-sftp", "openssh-sftp", "pkg-sftp"}}
	rows := seriesByName{}
	get := rows.get(&rep, "get loopback")
	get.samples["lib-sftp"] = []float64{300, 100, 200}
	get.samples["openssh-sftp"] = []float64{100}
	get.failed["pkg-sftp"] = failed
	if rows.get(&rep, "get loopback") != get {
		t.Fatal("get made a second row")
	}
	put := rows.get(&rep, "put RTT 50ms")
	put.samples["lib-sftp"] = []float64{80}
	put.samples["pkg-sftp"] = []float64{20}
	cells := rep.cells()
	want := [][]string{
		{"MB/s", "lib-sftp", "openssh-sftp", "pkg-sftp", "lib-sftp/openssh-sftp", "lib-sftp/pkg-sftp"},
		{"get loopback", "200", "100", "error", "2.00", "-"},
		{"put RTT 50ms", "80", "n/a", "20", "-", "4.00"},
	}
	for i := range want {
		if strings.Join(cells[i], "|") != strings.Join(want[i], "|") {
			t.Errorf("row %d = %q, want %q", i, cells[i], want[i])
		}
	}
	var text, md bytes.Buffer
	if err := rep.writeText(&text); err != nil || !strings.Contains(text.String(), "lib-sftp/pkg-sftp") {
		t.Fatalf("text: %v\n%s", err, text.String())
	}
	if err := rep.writeMarkdown(&md); err != nil || !strings.Contains(md.String(), "| get loopback | 200 | 100 | error | 2.00 | - |") {
		t.Fatalf("markdown: %v\n%s", err, md.String())
	}
}
