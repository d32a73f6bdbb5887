package ssh

import (
	"context"
	"errors"
	"io"
	"testing"

	gossh "golang.org/x/crypto/ssh"
)

func x11Payload(port int) []byte {
	return gossh.Marshal(struct {
		Addr string
		Port uint32
	}{"127.0.0.1", uint32(port)})
}

func TestAcceptX11(t *testing.T) {
	s, srv := loggedIn(t)
	ctx := testCtx(t)
	ch := openSession(t, s)

	if _, _, err := srv.OpenChannelToClient(ctx, "alice", "x11", x11Payload(1)); fwdOCE(err) == nil || fwdOCE(err).Reason != gossh.Prohibited {
		t.Fatalf("x11 before x11-req: %v", err)
	}
	if err := ch.RequestX11(ctx, false, "", "", 0); err != nil {
		t.Fatal(err)
	}
	// The X client's bytes reach the application, and the answer goes
	// back.
	done := make(chan error, 1)
	go func() {
		xch, reqs, err := srv.OpenChannelToClient(ctx, "alice", "x11", x11Payload(6010))
		if err != nil {
			done <- err
			return
		}
		go gossh.DiscardRequests(reqs)
		defer xch.Close()
		if _, err := io.WriteString(xch, "l\x00\x0b\x00"); err != nil {
			done <- err
			return
		}
		_ = xch.CloseWrite()
		reply, err := io.ReadAll(xch)
		if err == nil && string(reply) != "X reply" {
			err = errors.New("reply " + string(reply))
		}
		done <- err
	}()
	x, err := ch.AcceptX11(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if got := x.NetConn().RemoteAddr().String(); got != "127.0.0.1:6010" {
		t.Errorf("originator %s", got)
	}
	req, err := io.ReadAll(x)
	if err != nil || string(req) != "l\x00\x0b\x00" {
		t.Fatalf("X request %q, %v", req, err)
	}
	if _, err := io.WriteString(x, "X reply"); err != nil {
		t.Fatal(err)
	}
	_ = x.SendEOF()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	// Waiting, ctx, non-blocking mode.
	short, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := ch.AcceptX11(short); !errors.Is(err, context.Canceled) {
		t.Fatalf("AcceptX11 with a done ctx: %v", err)
	}
	s.SetBlocking(false)
	if _, err := ch.AcceptX11(ctx); !errors.Is(err, ErrAgain) {
		t.Fatalf("non-blocking AcceptX11: %v", err)
	}
	s.SetBlocking(true)
}

func TestX11QueueIsBounded(t *testing.T) {
	s, srv := loggedIn(t)
	ctx := testCtx(t)
	ch := openSession(t, s)
	if err := ch.RequestX11(ctx, false, "", "", 0); err != nil {
		t.Fatal(err)
	}
	const extra = 6
	results := make(chan error, maxPendingOpens+extra)
	for i := range maxPendingOpens + extra {
		go func() {
			c, reqs, err := srv.OpenChannelToClient(ctx, "alice", "x11", x11Payload(i))
			if err == nil {
				go gossh.DiscardRequests(reqs)
				c.Close()
			}
			results <- err
		}()
	}
	for range extra {
		if err := <-results; fwdOCE(err) == nil || fwdOCE(err).Reason != gossh.ResourceShortage {
			t.Fatalf("excess x11 open: %v", err)
		}
	}
	for range maxPendingOpens {
		x, err := ch.AcceptX11(ctx)
		if err != nil {
			t.Fatal(err)
		}
		_ = x.Close()
	}
	for range maxPendingOpens {
		if err := <-results; err != nil {
			t.Fatal(err)
		}
	}
}
