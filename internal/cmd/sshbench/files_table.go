package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// fileRatios are the ratio columns: numerator and denominator client names.
var fileRatios = [][2]string{
	{"lib-sftp", "openssh-sftp"}, {"lib-sftp", "pkg-sftp"}, {"lib-sftp", "pkg-sftp-conc"},
	{"lib-sftp-1ch", "openssh-sftp"}, {"lib-scp", "openssh-scp"},
}

// fileReport is the file-transfer table (-sftp): one row per direction and
// RTT, one column per client, the median MB/s of the runs, then the ratio
// columns of fileRatios.
type fileReport struct {
	Title   string
	Facts   []string
	Clients []string
	Rows    []*fileRow
	Notes   []string
}

// fileRow is one direction at one RTT: MB/s samples per client, or why a
// client has none.
type fileRow struct {
	name    string
	samples map[string][]float64
	failed  map[string]string
}

// seriesByName finds or appends a report's rows.
type seriesByName map[string]*fileRow

func (s seriesByName) get(rep *fileReport, name string) *fileRow {
	if r, ok := s[name]; ok {
		return r
	}
	r := &fileRow{name: name, samples: map[string][]float64{}, failed: map[string]string{}}
	s[name] = r
	rep.Rows = append(rep.Rows, r)
	return r
}

// value is a client's median, or the reason there is none.
func (r *fileRow) value(client string) (float64, string) {
	if why := r.failed[client]; why != "" {
		return 0, why
	}
	if len(r.samples[client]) == 0 {
		return 0, notApplicable
	}
	return median(r.samples[client]), ""
}

// ratioColumns are the ratio columns present: both clients selected.
func (rep fileReport) ratioColumns() [][2]string {
	has := map[string]bool{}
	for _, c := range rep.Clients {
		has[c] = true
	}
	var out [][2]string
	for _, q := range fileRatios {
		if has[q[0]] && has[q[1]] {
			out = append(out, q)
		}
	}
	return out
}

// cells is the table as text, header first.
func (rep fileReport) cells() [][]string {
	h := append([]string{"MB/s"}, rep.Clients...)
	for _, q := range rep.ratioColumns() {
		h = append(h, q[0]+"/"+q[1])
	}
	out := [][]string{h}
	for _, r := range rep.Rows {
		line := []string{r.name}
		for _, c := range rep.Clients {
			v, why := r.value(c)
			if why != "" {
				line = append(line, why)
			} else {
				line = append(line, strconv.FormatFloat(v, 'f', 0, 64))
			}
		}
		for _, q := range rep.ratioColumns() {
			a, wa := r.value(q[0])
			b, wb := r.value(q[1])
			if wa != "" || wb != "" || b == 0 {
				line = append(line, "-")
			} else {
				line = append(line, strconv.FormatFloat(a/b, 'f', 2, 64))
			}
		}
		out = append(out, line)
	}
	return out
}

// writeText prints the report as aligned text.
func (rep fileReport) writeText(w io.Writer) error {
	var b strings.Builder
	b.WriteString(rep.Title + "\n")
	for _, f := range rep.Facts {
		b.WriteString("  " + f + "\n")
	}
	b.WriteString("\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	for _, line := range rep.cells() {
		fmt.Fprintln(tw, strings.Join(line, "\t")+"\t")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, n := range rep.Notes {
		b.WriteString("* " + n + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeMarkdown prints the report as a Markdown table.
func (rep fileReport) writeMarkdown(w io.Writer) error {
	var b strings.Builder
	b.WriteString("## " + rep.Title + "\n\n")
	for _, f := range rep.Facts {
		b.WriteString("- " + mdEscape(f) + "\n")
	}
	b.WriteString("\n")
	cells := rep.cells()
	b.WriteString("| " + strings.Join(cells[0], " | ") + " |\n|---|")
	for range cells[0][1:] {
		b.WriteString("---:|")
	}
	b.WriteString("\n")
	for _, line := range cells[1:] {
		b.WriteString("| " + strings.Join(line, " | ") + " |\n")
	}
	b.WriteString("\n")
	for _, n := range rep.Notes {
		b.WriteString("- " + mdEscape(n) + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// parseRTTs reads -rtt: a comma-separated list of durations, "0" for
// loopback.
func parseRTTs(s string) ([]time.Duration, error) {
	var out []time.Duration
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "0" {
			out = append(out, 0)
			continue
		}
		d, err := time.ParseDuration(f)
		if err != nil || d < 0 {
			return nil, fmt.Errorf("-rtt %q: want durations like 0,10ms,50ms", s)
		}
		out = append(out, d)
	}
	return out, nil
}

// parseClients reads -sftp-clients: "" for all, else a comma-separated set.
func parseClients(s string) map[string]bool {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	m := map[string]bool{}
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			m[f] = true
		}
	}
	return m
}
