package scp

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/libssh-go/libssh/ssh"
)

// A server that stops answering midway: Get and Put end with ctx's error,
// leaving no partial file.
func TestStalledServerEndsWithContext(t *testing.T) {
	t.Run("get", func(t *testing.T) {
		s := login(t, scripted(nil, true, step{1, "C0644 100 f\n"}, step{1, "abc"}))
		dir := t.TempDir()
		ctx, cancel := context.WithTimeout(testCtx(t), 300*time.Millisecond)
		defer cancel()
		err := Get(ctx, s, "f", filepath.Join(dir, "f"))
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v", err)
		}
		noStrayFiles(t, dir)
	})
	t.Run("put", func(t *testing.T) {
		// The sink acknowledges the start and the record, then never again.
		s := login(t, scripted(nil, true, step{0, "\x00"}, step{0, ""}))
		dir := t.TempDir()
		src := filepath.Join(dir, "src")
		randomFile(t, src, 10)
		ctx, cancel := context.WithTimeout(testCtx(t), 300*time.Millisecond)
		defer cancel()
		if err := Put(ctx, s, src, "f"); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("cancelled before", func(t *testing.T) {
		s := login(t, scripted(nil, false))
		ctx, cancel := context.WithCancel(testCtx(t))
		cancel()
		if err := Get(ctx, s, "f", t.TempDir()); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
	})
}

// The connection ending mid-transfer is ssh.ErrDisconnected, not a short
// file.
func TestDisconnectMidway(t *testing.T) {
	s := login(t, scripted(nil, true, step{1, "C0644 1000 f\n"}, step{1, strings.Repeat("x", 500)}))
	dir := t.TempDir()
	err := Get(testCtx(t), s, "f", filepath.Join(dir, "f"), Progress(func(done, total int64) {
		if done == 500 {
			go func() { _ = s.Disconnect() }()
		}
	}))
	var se *Error
	if !errors.Is(err, ssh.ErrDisconnected) || !errors.As(err, &se) {
		t.Fatalf("err = %v", err)
	}
	noStrayFiles(t, dir)
}

// A sink that refuses a file: the remote's message comes back.
func TestHostileSink(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	randomFile(t, src, 10)
	for _, tc := range []struct {
		name  string
		steps []step
		want  error
		msg   string
	}{
		{"refused record", []step{{0, "\x00"}, {0, "\x01scp: f: Permission denied\n"}}, ErrRemote, "scp: f: Permission denied"},
		{"refused data", []step{{0, "\x00"}, {0, "\x00"}, {11, "\x02scp: f: No space left on device\n"}}, ErrRemote, "No space left"},
		{"refused start", []step{{0, "\x01scp: /x: No such file or directory\n"}}, ErrRemote, "No such file"},
		{"garbage ack", []step{{0, "?"}}, ErrProtocol, "unexpected reply"},
		{"silent exit", []step{{0, "\x00"}}, ErrTruncated, ""},
		{"control chars", []step{{0, "\x01\x1b[31mred\n"}}, ErrRemote, "?[31mred"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := login(t, scripted(nil, false, tc.steps...))
			err := Put(testCtx(t), s, src, "f")
			var se *Error
			if !errors.Is(err, tc.want) || !errors.As(err, &se) || !strings.Contains(se.Message, tc.msg) || se.Op != "put" {
				t.Fatalf("err = %v", err)
			}
			if tc.name == "refused record" && !errors.Is(err, os.ErrPermission) {
				t.Fatalf("not ErrPermission: %v", err)
			}
		})
	}
}
