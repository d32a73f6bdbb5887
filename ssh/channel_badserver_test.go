package ssh

import (
	"errors"
	"net"
	"sync"
	"testing"

	gossh "golang.org/x/crypto/ssh"
)

// rawServer is a bare x/crypto server whose session channels run script,
// for server behaviour the test server would never produce.
func rawServer(t *testing.T, script func(ch gossh.Channel, reqs <-chan *gossh.Request)) *Session {
	t.Helper()
	cfg := &gossh.ServerConfig{NoClientAuth: true}
	cfg.AddHostKey(newEd25519(t))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var scripts sync.WaitGroup
	t.Cleanup(scripts.Wait) // after serveConns' cleanup closed the connections
	serveConns(t, ln, func(c net.Conn) {
		sc, chans, reqs, err := gossh.NewServerConn(c, cfg)
		if err != nil {
			return
		}
		defer sc.Close()
		go gossh.DiscardRequests(reqs)
		for nc := range chans {
			ch, creqs, err := nc.Accept()
			if err != nil {
				continue
			}
			scripts.Add(1)
			go func() { defer scripts.Done(); script(ch, creqs) }()
		}
	})
	s := NewSession()
	addr := ln.Addr().(*net.TCPAddr)
	if err := s.SetOption(Hostname("127.0.0.1"), Port(addr.Port), User("u")); err != nil {
		t.Fatal(err)
	}
	if err := s.Connect(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Disconnect() })
	_ = s.AcceptHostKey()
	if st, err := s.UserauthNone(testCtx(t), ""); st != AuthSuccess {
		t.Fatalf("none: %v %v", st, err)
	}
	return s
}

// stuckWindowChannel returns a channel running a command on a server that
// never reads its input, so the channel's window never reopens.
func stuckWindowChannel(t *testing.T) (*Session, *Channel) {
	block := make(chan struct{})
	s := rawServer(t, func(ch gossh.Channel, reqs <-chan *gossh.Request) {
		answerExec(reqs)
		go gossh.DiscardRequests(reqs)
		<-block
		_ = ch.Close()
	})
	t.Cleanup(func() { close(block) })
	ch := openSession(t, s)
	if err := ch.RequestExec(testCtx(t), "x"); err != nil {
		t.Fatal(err)
	}
	return s, ch
}

// answerExec replies true to the exec request and returns.
func answerExec(reqs <-chan *gossh.Request) {
	for r := range reqs {
		if r.WantReply {
			_ = r.Reply(r.Type == "exec", nil)
		}
		if r.Type == "exec" {
			return
		}
	}
}

func TestMalformedExitRequestsGiveNoStatus(t *testing.T) {
	payloads := map[string][]byte{
		"exit-status":        {0, 1},                                                 // 2 bytes of a uint32
		"exit-signal":        gossh.Marshal(struct{ S string }{"TERM"})[:3],          // truncated name
		"exit-signal-fields": gossh.Marshal(struct{ S string }{"HUP"}),               // name only, no flags or message
		"garbage":            {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, // huge length prefix
	}
	for name, payload := range payloads {
		t.Run(name, func(t *testing.T) {
			kind := name
			if kind == "exit-signal-fields" {
				kind = "exit-signal"
			}
			if kind == "garbage" {
				kind = "exit-status"
			}
			s := rawServer(t, func(ch gossh.Channel, reqs <-chan *gossh.Request) {
				go gossh.DiscardRequests(reqs)
				_, _ = ch.SendRequest(kind, false, payload)
				_ = ch.Close()
			})
			ch := openSession(t, s)
			if err := ch.RequestExec(testCtx(t), "x"); err != nil && !errors.Is(err, ErrRequestDenied) {
				t.Logf("exec: %v", err)
			}
			st, err := ch.ExitStatus(testCtx(t))
			if name == "exit-signal-fields" {
				sig, ok := ch.ExitSignal()
				if !ok || sig.Signal != "HUP" || !errors.Is(err, ErrNoExitStatus) {
					t.Fatalf("lenient exit-signal: %+v %v", sig, err)
				}
				return
			}
			if st != -1 || !errors.Is(err, ErrNoExitStatus) {
				t.Fatalf("got %d, %v; want no status", st, err)
			}
		})
	}
}

// A server that never reopens the window must not hang a writer forever:
// Close (or the Exec helpers' ctx) ends the write.
func TestWindowThatNeverReopens(t *testing.T) {
	_, ch := stuckWindowChannel(t)
	done := make(chan error, 1)
	go func() {
		_, err := ch.Write(make([]byte, 8<<20))
		done <- err
	}()
	_ = ch.Close()
	if err := <-done; err == nil {
		t.Fatal("blocked write returned no error after Close")
	}
}
