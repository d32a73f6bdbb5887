package ssh

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/libssh-go/libssh/internal/faultrelay"
	"github.com/libssh-go/libssh/internal/interop"
)

// The main waits of waits_test.go against the real sshd: a relay that stops
// passing the client's bytes makes "a server that stops reading its
// socket", and a command that never reads stdin a window at 0 for good
// (sshd answers no CLOSE while the command runs).

// interopFrozen logs in to env through a relay that freezes the client's
// direction after after bytes, on this connection only.
func interopFrozen(t *testing.T, env *interop.Env, after int64) (*Session, *faultrelay.Relay) {
	t.Helper()
	relay := faultrelay.New(t, env.Addr)
	relay.Set(faultrelay.Fault{Dir: faultrelay.ClientToServer, After: after, Action: faultrelay.Freeze})
	s := interopSession(t, env, Port(relay.Port()))
	if st, err := s.UserauthPassword(testCtx(t), "", env.Password); st != AuthSuccess {
		t.Fatalf("login: %v, %v", st, err)
	}
	return s, relay
}

func TestInteropServerStopsReading(t *testing.T) {
	env := interop.Start(t, interop.Options{NoAgent: true})

	t.Run("Exec with a ctx", func(t *testing.T) {
		s, _ := interopFrozen(t, env, 1<<20)
		ctx, cancel := context.WithTimeout(testCtx(t), 2*time.Second)
		defer cancel()
		err := returnsSoon(t, "Exec", func() error {
			_, err := s.Exec(ctx, "cat > /dev/null", endless{64 << 10})
			return err
		})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Exec to a server that stopped reading: %v", err)
		}
	})

	t.Run("Close wakes writers", func(t *testing.T) {
		s, relay := interopFrozen(t, env, 64<<10)
		// Eight channels: their windows (2 MiB each at sshd) allow more than
		// the kernel buffers between us and the frozen relay hold, so the
		// socket fills, the transport gets stuck, and writers wait in it as
		// well as for window.
		var chans []*Channel
		for range 8 {
			chans = append(chans, runningChannel(t, s, "cat > /dev/null"))
		}
		var errcs []<-chan error
		for _, ch := range chans {
			errcs = append(errcs, goWrite(ch, make([]byte, 16<<20)))
		}
		<-relay.Triggered() // from now on nothing reaches sshd: no write can finish
		for i, ch := range chans {
			if err := returnsSoon(t, "Close", ch.Close); err != nil {
				t.Fatalf("Close %d: %v", i, err)
			}
		}
		for i, errc := range errcs {
			if err := waitErr(t, "Write after Close", errc); !errors.Is(err, ErrChannelClosed) {
				t.Errorf("Write %d woken by Close: %v", i, err)
			}
		}
	})
}

func TestInteropCloseWakesWriterOnClosedWindow(t *testing.T) {
	env := interop.Start(t, interop.Options{NoAgent: true})
	s := interopLoggedIn(t, env)

	t.Run("Close", func(t *testing.T) {
		ch := runningChannel(t, s, "sleep 600")
		nc := ch.NetConn()
		_ = nc.SetWriteDeadline(time.Now().Add(time.Second))
		if _, err := nc.Write(make([]byte, 16<<20)); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("16 MiB to a command that reads nothing: %v", err)
		}
		_ = nc.SetWriteDeadline(time.Time{})
		errc := goWrite(ch, make([]byte, 1<<20)) // waits for the window, behind the piece in flight
		if err := returnsSoon(t, "Close", ch.Close); err != nil {
			t.Fatal(err)
		}
		if err := waitErr(t, "Write after Close", errc); !errors.Is(err, ErrChannelClosed) {
			t.Fatalf("Write woken by Close: %v", err)
		}
	})

	t.Run("Exec with a ctx", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(testCtx(t), 2*time.Second)
		defer cancel()
		err := returnsSoon(t, "Exec", func() error {
			_, err := s.Exec(ctx, "sleep 600", endless{64 << 10})
			return err
		})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Exec on a closed window: %v", err)
		}
		// Only the channel was stuck: the session still works.
		if out, err := s.Output(testCtx(t), "echo ok"); err != nil || string(out) != "ok\n" {
			t.Fatalf("after the stuck Exec: %q, %v", out, err)
		}
	})
}
