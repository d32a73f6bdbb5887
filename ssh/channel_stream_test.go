package ssh

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"
)

// lockstepReader hands the pump one scripted piece per Read, so a test can
// act between the pump's reads: each Read first says it started (the size
// of the buffer it got) and then waits for its piece; a closed pieces
// channel ends the stream with io.EOF.
type lockstepReader struct {
	started chan int
	pieces  chan []byte
}

func newLockstepReader() *lockstepReader {
	return &lockstepReader{started: make(chan int), pieces: make(chan []byte)}
}

func (r *lockstepReader) Read(p []byte) (int, error) {
	r.started <- len(p)
	piece, ok := <-r.pieces
	if !ok {
		return 0, io.EOF
	}
	if len(piece) > len(p) {
		return 0, fmt.Errorf("scripted piece of %d bytes, buffer of %d", len(piece), len(p))
	}
	return copy(p, piece), nil
}

// strictWriter collects what writeTo hands it and fails an empty write:
// writeTo must never hand out a drained chunk.
type strictWriter struct{ got bytes.Buffer }

var errEmptyWrite = errors.New("empty write")

func (w *strictWriter) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, errEmptyWrite
	}
	return w.got.Write(p)
}

func streamPattern(n, seed int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i*7 + seed)
	}
	return p
}

// The Dropbear download hang (TestDropbearTransfer64MiB/download): a quiet
// pump waits with its probe while the reader drains the only chunk; the
// probe's data must not be queued behind that drained chunk, where writeTo
// handed out its empty remainder for ever while the pump, its buffer full,
// waited for room.
func TestStreamProbeAfterReaderDrainedTail(t *testing.T) {
	b := newStreamBuffer(nil)
	src := newLockstepReader()
	pumped := make(chan struct{})
	go func() { defer close(pumped); b.pump(src, nil) }()

	<-src.started
	first := streamPattern(18, 1)
	src.pieces <- first // a trickle: the stream stays quiet
	<-src.started       // the pump waits again, with the probe: the chunk has < minChunkRead free

	p := make([]byte, 64)
	n, err := b.read(p, time.Time{}, nil) // drains the only chunk while the pump waits
	if err != nil || !bytes.Equal(p[:n], first) {
		t.Fatalf("read %q, %v; want %q", p[:n], err, first)
	}

	second := streamPattern(probeSize, 2) // fills the probe: the stream streams now
	src.pieces <- second
	<-src.started
	close(src.pieces)

	var w strictWriter
	total, err := b.writeTo(&w, nil)
	if err != nil || total != int64(len(second)) || !bytes.Equal(w.got.Bytes(), second) {
		t.Fatalf("writeTo: %d bytes, %v; want the %d bytes of the second piece", total, err, len(second))
	}
	<-pumped
}

// A scripted mix of trickles and full reads, consumed by read and writeTo in
// turn between the pump's reads, arrives whole and in order, and a quiet
// stream the reader drained holds no chunk while its pump waits.
func TestStreamScriptedMixArrivesInOrder(t *testing.T) {
	sizes := []int{18, 1, probeSize, probeSize - 1, 4096, smallChunk, minChunkRead, 5, probeSize, 40 << 10, 100, 7, 3000, 9}
	b := newStreamBuffer(nil)
	src := newLockstepReader()
	pumped := make(chan struct{})
	go func() { defer close(pumped); b.pump(src, nil) }()

	var sent, got bytes.Buffer
	room := <-src.started
	for i, size := range sizes {
		piece := streamPattern(min(size, room), i)
		sent.Write(piece)
		src.pieces <- piece
		room = <-src.started // the piece is queued; the pump reads again
		if i%3 == 2 {
			continue // leave it queued behind the next piece
		}
		p := make([]byte, 1000) // partial reads leave data in the head chunk
		for got.Len() < sent.Len() {
			n, err := b.read(p, time.Time{}, nil)
			if err != nil {
				t.Fatalf("piece %d: read: %v", i, err)
			}
			got.Write(p[:n])
		}
		b.mu.Lock()
		held, quiet := len(b.chunks), b.quiet
		b.mu.Unlock()
		if quiet != (len(piece) < probeSize) {
			t.Errorf("piece %d (%d bytes): quiet %v", i, len(piece), quiet)
		}
		if quiet && held != 0 {
			t.Errorf("piece %d: a drained quiet stream holds %d chunks", i, held)
		}
	}
	close(src.pieces)
	var w strictWriter
	if _, err := b.writeTo(&w, nil); err != nil {
		t.Fatalf("writeTo: %v", err)
	}
	got.Write(w.got.Bytes())
	if !bytes.Equal(got.Bytes(), sent.Bytes()) {
		t.Fatalf("got %d bytes, sent %d: the stream reordered or lost data", got.Len(), sent.Len())
	}
	<-pumped
}
