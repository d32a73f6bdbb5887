package main

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// The three clients, in the order of the table's columns.
const (
	clientLib     = iota // this library (package ssh)
	clientXCrypto        // raw golang.org/x/crypto/ssh
	clientOpenSSH        // the OpenSSH ssh(1) binary
	numClients
)

// clientName returns the column name of a client.
func clientName(c int) string {
	switch c {
	case clientLib:
		return "lib"
	case clientXCrypto:
		return "xcrypto"
	case clientOpenSSH:
		return "openssh"
	}
	return "client" + strconv.Itoa(c)
}

// Units of the table's rows. The unit decides how a figure is printed and
// which direction is better.
const (
	unitMBps = "MB/s"      // 10^6 bytes per second; higher is better
	unitMs   = "ms"        // milliseconds; lower is better
	unitMiB  = "MiB"       // 2^20 bytes; lower is better
	unitCPU  = "CPU s/GiB" // the client's user+system CPU seconds per GiB moved; lower is better
)

// Row names of the latency and memory rows.
const (
	connectRow = "connect+auth+exec true (median of 20)"
	channelRow = "channel open+exec true (median of 50)"
	rssRow     = "idle session RSS"
	rssDelta   = "idle session RSS over baseline"
)

// Reasons a cell has no figure.
const (
	notApplicable = "n/a"   // the client cannot do this measurement
	failed        = "error" // it failed; the report's notes say why
)

// cell is one client's figure in a row: Value, or Missing saying why there
// is none.
type cell struct {
	Value   float64
	Missing string // "" when Value holds a figure
}

// row is one line of the table.
type row struct {
	Name  string
	Unit  string
	Cells [numClients]cell
}

// ratio returns Cells[a].Value / Cells[b].Value, and false when either
// figure is missing or the divisor is zero. It is a plain quotient whatever
// the unit: above 1 means a is faster for MB/s, and slower or bigger for ms
// and MiB.
func (r row) ratio(a, b int) (float64, bool) {
	x, y := r.Cells[a], r.Cells[b]
	if x.Missing != "" || y.Missing != "" || y.Value == 0 {
		return 0, false
	}
	return x.Value / y.Value, true
}

// formatValue prints a figure with the precision its unit deserves.
func formatValue(unit string, v float64) string {
	switch unit {
	case unitMBps:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case unitMs, unitCPU:
		return strconv.FormatFloat(v, 'f', 2, 64)
	default:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
}

// report is the whole result: facts about the machine, the table, and
// notes (how numbers were taken, and every error).
type report struct {
	Title string
	Facts []string
	Rows  []row
	Notes []string
}

// header is the table's column names.
func header() []string {
	h := []string{"measurement", "unit"}
	for c := range numClients {
		h = append(h, clientName(c))
	}
	return append(h, "lib/xcrypto", "lib/openssh")
}

// cells returns the table as text cells, one slice per row.
func (rep report) cells() [][]string {
	var out [][]string
	for _, r := range rep.Rows {
		line := []string{r.Name, r.Unit}
		for _, c := range r.Cells {
			if c.Missing != "" {
				line = append(line, c.Missing)
			} else {
				line = append(line, formatValue(r.Unit, c.Value))
			}
		}
		for _, other := range []int{clientXCrypto, clientOpenSSH} {
			if q, ok := r.ratio(clientLib, other); ok {
				line = append(line, strconv.FormatFloat(q, 'f', 2, 64))
			} else {
				line = append(line, "-")
			}
		}
		out = append(out, line)
	}
	return out
}

// writeText prints the report as aligned plain text.
func (rep report) writeText(w io.Writer) error {
	var b strings.Builder
	b.WriteString(rep.Title + "\n")
	for _, f := range rep.Facts {
		b.WriteString("  " + f + "\n")
	}
	b.WriteString("\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, line := range append([][]string{header()}, rep.cells()...) {
		fmt.Fprintln(tw, strings.Join(line, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(rep.Notes) > 0 {
		b.WriteString("\n")
	}
	for _, n := range rep.Notes {
		b.WriteString("* " + n + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeMarkdown prints the report as Markdown: facts as a list, the table as
// a pipe table with the figures right-aligned, notes as a list.
func (rep report) writeMarkdown(w io.Writer) error {
	var b strings.Builder
	b.WriteString("## " + rep.Title + "\n\n")
	for _, f := range rep.Facts {
		b.WriteString("- " + mdEscape(f) + "\n")
	}
	if len(rep.Facts) > 0 {
		b.WriteString("\n")
	}
	h := header()
	b.WriteString("| " + strings.Join(h, " | ") + " |\n|")
	for i := range h {
		if i < 2 {
			b.WriteString("---|")
		} else {
			b.WriteString("---:|")
		}
	}
	b.WriteString("\n")
	for _, line := range rep.cells() {
		for i := range line {
			line[i] = mdEscape(line[i])
		}
		b.WriteString("| " + strings.Join(line, " | ") + " |\n")
	}
	if len(rep.Notes) > 0 {
		b.WriteString("\n")
	}
	for _, n := range rep.Notes {
		b.WriteString("- " + mdEscape(n) + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// mdEscape keeps a cell from splitting a Markdown table row.
func mdEscape(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// series collects the samples of one row while the bench runs.
type series struct {
	Name    string
	Unit    string
	Samples [numClients][]float64
	Missing [numClients]string // set when a client does not take part, or failed
}

// add records one sample for a client.
func (s *series) add(client int, v float64) { s.Samples[client] = append(s.Samples[client], v) }

// fail marks a client's figure as failed; the samples it has are dropped,
// so a row never shows a median of a partial run as if it were whole.
func (s *series) fail(client int) { s.Missing[client] = failed }

// row reduces the samples to their median. A client with neither samples
// nor a reason shows n/a.
func (s *series) row() row {
	r := row{Name: s.Name, Unit: s.Unit}
	for c := range numClients {
		switch {
		case s.Missing[c] != "":
			r.Cells[c] = cell{Missing: s.Missing[c]}
		case len(s.Samples[c]) == 0:
			r.Cells[c] = cell{Missing: notApplicable}
		default:
			r.Cells[c] = cell{Value: median(s.Samples[c])}
		}
	}
	return r
}

// median returns the middle value (the mean of the two middle ones for an
// even count); 0 for no values.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}

// mbPerSec is a throughput in MB/s (10^6 bytes per second).
func mbPerSec(bytes int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(bytes) / 1e6 / d.Seconds()
}

// millis is a duration in milliseconds.
func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// parseSize reads a byte count: a plain number, or one with a suffix k, M,
// G (powers of 1000), KiB, MiB, GiB (powers of 1024), case-insensitive for
// the letters before "iB", with an optional B.
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := strings.IndexFunc(t, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	num, suffix := t, ""
	if i >= 0 {
		num, suffix = t[:i], strings.TrimSpace(t[i:])
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("size %q: want a number with an optional unit (64MiB, 1GiB, 100M)", s)
	}
	mult := map[string]float64{
		"": 1, "b": 1,
		"k": 1e3, "kb": 1e3, "m": 1e6, "mb": 1e6, "g": 1e9, "gb": 1e9,
		"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30,
	}[strings.ToLower(suffix)]
	if mult == 0 {
		return 0, fmt.Errorf("size %q: unknown unit %q", s, suffix)
	}
	n := int64(f * mult)
	if n <= 0 {
		return 0, fmt.Errorf("size %q: must be at least one byte", s)
	}
	return n, nil
}

// formatSize prints a byte count in the largest binary unit that divides it
// (1 GiB, 64 MiB), or in bytes.
func formatSize(n int64) string {
	for _, u := range []struct {
		size int64
		name string
	}{{1 << 30, "GiB"}, {1 << 20, "MiB"}, {1 << 10, "KiB"}} {
		if n >= u.size && n%u.size == 0 {
			return strconv.FormatInt(n/u.size, 10) + " " + u.name
		}
	}
	return strconv.FormatInt(n, 10) + " B"
}

// seriesSet keeps the rows' series in the order they were first asked for.
type seriesSet struct {
	order  []*series
	byName map[string]*series
}

// get returns the series of a row, creating it at the end of the table.
func (s *seriesSet) get(name, unit string) *series {
	if s.byName == nil {
		s.byName = make(map[string]*series)
	}
	if x, ok := s.byName[name]; ok {
		return x
	}
	x := &series{Name: name, Unit: unit}
	s.byName[name] = x
	s.order = append(s.order, x)
	return x
}

// rows reduces every series to its row.
func (s *seriesSet) rows() []row {
	out := make([]row, 0, len(s.order))
	for _, x := range s.order {
		out = append(out, x.row())
	}
	return out
}

// turnOrder is the order in which the clients take their turn in the k-th
// round: rotated each round, so that no client always goes first (after
// another client's transfer, on a fresh connection) or last.
func turnOrder(k int) [numClients]int {
	var o [numClients]int
	for i := range o {
		o[i] = (i + k) % numClients
	}
	return o
}
