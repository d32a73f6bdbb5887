package ssh

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"unicode/utf8"
)

// warnCounter counts the warnings logged through it.
type warnCounter struct{ n atomic.Int64 }

func (w *warnCounter) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (w *warnCounter) Handle(context.Context, slog.Record) error    { w.n.Add(1); return nil }
func (w *warnCounter) WithAttrs([]slog.Attr) slog.Handler           { return w }
func (w *warnCounter) WithGroup(string) slog.Handler                { return w }

// bannerMessages turns fuzz input into the issue banner messages of one
// connection: fill repeated reps times (to reach the 64 KiB cap from a
// short input; at most x/crypto's 256 KiB packet), then the records of
// rest, each a length byte and that many bytes.
func bannerMessages(fill string, reps uint16, rest []byte) []string {
	var msgs []string
	if fill != "" && len(fill)*int(reps) <= 256<<10 {
		msgs = append(msgs, strings.Repeat(fill, int(reps)))
	}
	for len(rest) > 0 {
		n := min(int(rest[0]), len(rest)-1)
		msgs, rest = append(msgs, string(rest[1:1+n])), rest[1+n:]
	}
	return msgs
}

// FuzzIssueBanner: whatever banner messages a server sends (RFC 4252 §5.4
// sets no limit on their number), IssueBanner keeps at most 64 KiB: the
// first bytes of all of them joined, in order and without a hole, cut on a
// UTF-8 boundary no more than 3 bytes early, and the count of dropped bytes
// makes up the rest. One warning says that something was dropped, not one
// per message.
func FuzzIssueBanner(f *testing.F) {
	f.Add("", uint16(0), []byte("\x14Authorized use only\n"))
	f.Add("x", uint16(maxIssueBanner-1), []byte("\x03\xe2\x82\xac\x01a"))  // a 3-byte rune across the cap, then more
	f.Add("é", uint16(maxIssueBanner/2), []byte("\x01b"))                  // the cap falls between a rune's bytes
	f.Add("\x80\x80", uint16(40000), []byte{})                             // no rune start anywhere
	f.Add("line of banner text\n", uint16(4000), []byte("\x05more\n\x00")) // over the cap in one message
	f.Add("ab", uint16(20000), []byte("\xff"+strings.Repeat("z", 255)))    // over the cap across messages
	f.Fuzz(func(t *testing.T, fill string, reps uint16, rest []byte) {
		msgs := bannerMessages(fill, reps, rest)
		warns := &warnCounter{}
		c := &conn{log: slog.New(warns), changed: make(chan struct{})}
		var all strings.Builder
		for _, m := range msgs {
			if err := c.bannerCallback(m); err != nil {
				t.Fatalf("bannerCallback: %v", err)
			}
			all.WriteString(m)
			if len(c.banner) > maxIssueBanner {
				t.Fatalf("kept %d bytes, over the %d cap", len(c.banner), maxIssueBanner)
			}
		}
		joined := all.String()
		if !strings.HasPrefix(joined, c.banner) {
			t.Fatalf("the kept %d bytes are not the start of the %d sent (first difference at %d)",
				len(c.banner), len(joined), commonPrefix(c.banner, joined))
		}
		if int64(len(c.banner))+c.bannerDropped != int64(len(joined)) {
			t.Fatalf("kept %d + dropped %d != sent %d", len(c.banner), c.bannerDropped, len(joined))
		}
		if len(joined) <= maxIssueBanner {
			if c.banner != joined || c.bannerDropped != 0 || c.bannerDroppedMsgs != 0 || warns.n.Load() != 0 {
				t.Fatalf("%d bytes, under the cap: kept %d, dropped %d in %d messages, %d warnings",
					len(joined), len(c.banner), c.bannerDropped, c.bannerDroppedMsgs, warns.n.Load())
			}
			return
		}
		if len(c.banner) < maxIssueBanner-(utf8.UTFMax-1) {
			t.Fatalf("kept %d bytes of %d: cut more than a rune short of the %d cap", len(c.banner), len(joined), maxIssueBanner)
		}
		if utf8.ValidString(joined) && !utf8.ValidString(c.banner) {
			t.Fatalf("a valid UTF-8 banner was cut inside a rune at %d", len(c.banner))
		}
		if c.bannerDroppedMsgs < 1 || c.bannerDroppedMsgs > len(msgs) || warns.n.Load() != 1 {
			t.Fatalf("dropped %d bytes in %d of %d messages, %d warnings", c.bannerDropped, c.bannerDroppedMsgs, len(msgs), warns.n.Load())
		}
		c.mu.Lock()
		c.logBannerDropLocked()
		c.logBannerDropLocked()
		c.mu.Unlock()
		if warns.n.Load() != 2 {
			t.Fatalf("%d warnings after reporting the drop twice; want one more", warns.n.Load())
		}
	})
}

func commonPrefix(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}
