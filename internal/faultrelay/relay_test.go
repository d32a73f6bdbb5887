package faultrelay

import (
	"bytes"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// source starts a server that writes size bytes of a known pattern to every connection, then
// reads until the client closes.
func source(t *testing.T, size int) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write(pattern(size))
			_, _ = io.Copy(io.Discard, c)
			c.Close()
		}
	}()
	return ln.Addr().String()
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}

func dial(t *testing.T, r *Relay) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", r.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

func TestRelayPassesDataUntouched(t *testing.T) {
	r := New(t, source(t, 1<<20))
	c := dial(t, r)
	got := make([]byte, 1<<20)
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, pattern(1<<20)) {
		t.Fatal("data changed on the way")
	}
	select {
	case <-r.Triggered():
		t.Fatal("Triggered closed without a fault")
	default:
	}
}

func TestRelayCloseAfterBytes(t *testing.T) {
	r := New(t, source(t, 1<<20))
	r.Set(Fault{Dir: ServerToClient, After: 100000, Action: Close})
	got, err := io.ReadAll(dial(t, r))
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if len(got) != 100000 || !bytes.Equal(got, pattern(100000)) {
		t.Fatalf("got %d bytes, want exactly the first 100000", len(got))
	}
	<-r.Triggered()
}

func TestRelayResetAfterBytes(t *testing.T) {
	r := New(t, source(t, 1<<20))
	r.Set(Fault{Dir: ServerToClient, After: 50000, Action: Reset})
	got, err := io.ReadAll(dial(t, r))
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("err = %v after %d bytes, want ECONNRESET", err, len(got))
	}
	if len(got) > 50000 {
		t.Fatalf("got %d bytes, more than the 50000 relayed", len(got))
	}
}

func TestRelayFreezeAfterBytes(t *testing.T) {
	r := New(t, source(t, 1<<20))
	r.Set(Fault{Dir: ServerToClient, After: 70000, Action: Freeze})
	c := dial(t, r)
	got := make([]byte, 70000)
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	<-r.Triggered()
	_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	n, err := c.Read(make([]byte, 1))
	var ne net.Error
	if n != 0 || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read after freeze = %d, %v; want a timeout with no data", n, err)
	}
}

func TestRelayCorruptsOneByte(t *testing.T) {
	r := New(t, source(t, 200000))
	r.Set(Fault{Dir: ServerToClient, After: 123456, Action: Corrupt})
	got := make([]byte, 200000)
	if _, err := io.ReadFull(dial(t, r), got); err != nil {
		t.Fatal(err)
	}
	want := pattern(200000)
	want[123456] ^= 0xff
	if !bytes.Equal(got, want) {
		t.Fatal("want exactly byte 123456 flipped")
	}
	<-r.Triggered()
}

func TestRelayClientToServerFreezeKeepsOtherDirection(t *testing.T) {
	r := New(t, source(t, 300000))
	r.Set(Fault{Dir: ClientToServer, After: 0, Action: Freeze})
	c := dial(t, r)
	if _, err := c.Write([]byte("dropped")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 300000)
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	if r.Accepted() != 1 {
		t.Fatalf("Accepted = %d", r.Accepted())
	}
}
