package ssh

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libssh-go/libssh/sshtest"
)

// bannerChunk is one banner message: below x/crypto's 256 KiB packet limit,
// so a large total takes many messages, as it must on the wire.
const bannerChunk = 200 << 10

// heapWatch samples the live heap while a test runs, to report the peak.
// The sampling interval only decides how fine the figure is; nothing waits
// on it.
type heapWatch struct {
	base uint64
	peak atomic.Uint64
	stop chan struct{}
	wg   sync.WaitGroup
}

func watchHeap() *heapWatch {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	h := &heapWatch{base: ms.HeapAlloc, stop: make(chan struct{})}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > h.peak.Load() {
				h.peak.Store(ms.HeapAlloc)
			}
			select {
			case <-h.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return h
}

// done stops sampling and returns the peak and the heap still live after a
// collection, both above the starting point, in MiB.
func (h *heapWatch) done() (peak, live float64) {
	close(h.stop)
	h.wg.Wait()
	peak = 0
	if p := h.peak.Load(); p > h.base {
		peak = float64(p-h.base) / (1 << 20)
	}
	return peak, liveHeap(h.base)
}

// A server that sends 32 MiB of banner before answering "none": the
// library keeps the first 64 KiB, logs what it dropped, and its memory does
// not follow the server's (issue 14, point 4).
func TestIssueBannerIsCapped(t *testing.T) {
	const repeat = 160 // 32 MiB
	chunk := strings.Repeat("Authorized use only. ", bannerChunk/21)
	srv := sshtest.New(t, sshtest.Config{Banner: chunk, BannerRepeat: repeat,
		Users: map[string]sshtest.User{"u": {Password: "pw"}}})
	var logs lockedBuffer
	h := watchHeap()
	s := acceptedSession(t, srv, "u", Logger(slog.New(slog.NewTextHandler(&logs, nil))), LogLevel(LogWarning))
	if st, err := s.UserauthNone(testCtx(t), ""); st != AuthDenied || err != nil {
		t.Fatalf("none: %v, %v", st, err)
	}
	banner, err := s.IssueBanner()
	peak, live := h.done()
	t.Logf("%d MiB of banners: peak heap +%.1f MiB, live after GC +%.1f MiB", repeat*len(chunk)>>20, peak, live)
	if err != nil {
		t.Fatal(err)
	}
	if len(banner) != maxIssueBanner || !strings.HasPrefix(chunk, banner) {
		t.Fatalf("IssueBanner kept %d bytes, want the first %d", len(banner), maxIssueBanner)
	}
	if live > 8 {
		t.Fatalf("the session keeps %.1f MiB after the banners", live)
	}
	out := string(logs.Bytes())
	total := repeat * len(chunk)
	if !strings.Contains(out, "level=WARN") || !strings.Contains(out, "dropped_bytes="+strconv.Itoa(total-maxIssueBanner)) ||
		!strings.Contains(out, "dropped_messages="+strconv.Itoa(repeat)) {
		t.Fatalf("no warning with the dropped amount (%d bytes, %d messages):\n%s", total-maxIssueBanner, repeat, out)
	}
	// The session goes on: the password works after the banners.
	if st, err := s.UserauthPassword(testCtx(t), "", "pw"); st != AuthSuccess || err != nil {
		t.Fatalf("password: %v, %v", st, err)
	}
}

// A server that sends banners without end never answers "none". The
// library's memory stays bounded however much arrives (what is live after
// 32 MiB and after 96 MiB is about the same: packets in flight), the
// waiting call ends with its ctx, and Disconnect ends everything.
func TestEndlessBannersKeepMemoryBounded(t *testing.T) {
	srv := sshtest.New(t, sshtest.Config{Banner: strings.Repeat("x", bannerChunk), BannerRepeat: -1,
		Users: map[string]sshtest.User{"u": {Password: "pw"}}})
	raw, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	marks := []int64{32 << 20, 96 << 20}
	cc := &thresholdConn{Conn: raw, marks: marks, reached: []chan struct{}{make(chan struct{}), make(chan struct{})}}
	h := watchHeap()
	s := acceptedSession(t, srv, "u", Socket(cc))
	var live [2]float64
	for i := range marks {
		select {
		case <-cc.reached[i]:
		case <-testCtx(t).Done():
			t.Fatal("the server's banners stopped")
		}
		live[i] = liveHeap(h.base)
	}
	banner, err := s.IssueBanner()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if st, err := s.UserauthNone(ctx, ""); st != AuthError || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("none under endless banners: %v, %v", st, err)
	}
	if err := s.Disconnect(); err != nil {
		t.Fatal(err)
	}
	peak, after := h.done()
	t.Logf("endless banners: live heap +%.1f MiB after %d MiB read, +%.1f MiB after %d MiB; peak +%.1f MiB; +%.1f MiB after Disconnect",
		live[0], marks[0]>>20, live[1], marks[1]>>20, peak, after)
	if len(banner) > maxIssueBanner {
		t.Fatalf("IssueBanner holds %d bytes", len(banner))
	}
	if live[1]-live[0] > 8 {
		t.Fatalf("memory grows with the banners: +%.1f MiB for %d MiB more", live[1]-live[0], (marks[1]-marks[0])>>20)
	}
}

// liveHeap is the heap above base after a collection, in MiB.
func liveHeap(base uint64) float64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if ms.HeapAlloc < base {
		return 0
	}
	return float64(ms.HeapAlloc-base) / (1 << 20)
}

// thresholdConn closes reached[i] once marks[i] bytes have been read from
// it.
type thresholdConn struct {
	net.Conn
	read    atomic.Int64
	marks   []int64
	reached []chan struct{}
	mu      sync.Mutex
	next    int
}

func (c *thresholdConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	total := c.read.Add(int64(n))
	c.mu.Lock()
	for c.next < len(c.marks) && total >= c.marks[c.next] {
		close(c.reached[c.next])
		c.next++
	}
	c.mu.Unlock()
	return n, err
}
