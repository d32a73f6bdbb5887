//go:build unix

package ssh

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestConnectCtxKillsMatchExecChildren: when Connect's ctx ends during a
// Match exec, what the command started is killed too, not only its shell.
// A FIFO tells: the command's background child writes a byte into it and
// then runs `sleep 31` holding it open, so the test's read end sees
// end-of-file exactly when no such process is left, without any sleep in
// the test.
func TestConnectCtxKillsMatchExecChildren(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "alive")
	if err := mkfifo(fifo); err != nil {
		t.Fatal(err)
	}
	// O_NONBLOCK so the open does not wait for a writer; the test's own
	// writer keeps reads waiting (not at end-of-file) until the command's
	// child has opened its end.
	r, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()

	cfg := fmt.Sprintf("Match exec \"(echo started >&3; exec sleep 31) 3>%s & wait\"\n  Port 1\n", fifo)
	writeFile(t, filepath.Join(dir, "config"), []byte(cfg))
	s := NewSession()
	if err := s.SetOption(Hostname("h"), SSHDir(dir)); err != nil {
		t.Fatal(err)
	}
	s.opts.systemConfig = os.DevNull
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	connected := make(chan error, 1)
	go func() { connected <- s.Connect(ctx) }()

	_ = r.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.ReadFull(r, make([]byte, len("started\n"))); err != nil {
		t.Fatalf("the Match exec command did not start: %v", err)
	}
	cancel() // as a Connect deadline would, during the command
	select {
	case err := <-connected:
		if err == nil {
			s.Disconnect()
			t.Fatal("Connect succeeded")
		}
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Connect: %v, want an error matching the ctx's", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Connect still running 20 s after its ctx ended")
	}

	w.Close()
	_ = r.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := r.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read %d, %v: the command's child still holds the FIFO after Connect returned", n, err)
	}
}
