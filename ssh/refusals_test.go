package ssh

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"testing"

	"github.com/libssh-go/libssh/sshtest"
	gossh "golang.org/x/crypto/ssh"
)

// logRecord is one slog record, flattened for assertions.
type logRecord struct {
	level slog.Level
	msg   string
	attrs map[string]string
}

// recordHandler is a slog.Handler that keeps every record.
type recordHandler struct {
	mu      sync.Mutex
	records []logRecord
}

func (h *recordHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *recordHandler) Handle(_ context.Context, r slog.Record) error {
	rec := logRecord{level: r.Level, msg: r.Message, attrs: map[string]string{}}
	r.Attrs(func(a slog.Attr) bool {
		rec.attrs[a.Key] = a.Value.String()
		return true
	})
	h.mu.Lock()
	h.records = append(h.records, rec)
	h.mu.Unlock()
	return nil
}

func (h *recordHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordHandler) WithGroup(string) slog.Handler      { return h }

// warnings returns the Warn records whose message is msg.
func (h *recordHandler) warnings(msg string) []logRecord {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []logRecord
	for _, r := range h.records {
		if r.level == slog.LevelWarn && r.msg == msg {
			out = append(out, r)
		}
	}
	return out
}

func loggingTo(h *recordHandler) []Option {
	return []Option{Logger(slog.New(h)), LogLevel(LogWarning)}
}

// OpenSSH's channels.c warns "Server requests forwarding for unknown
// listen_port %d" (and "... unknown path %s") when the server opens a
// forwarded channel the client never asked for; so does the library, and
// still refuses it.
func TestForwardForUnknownListenerIsLogged(t *testing.T) {
	srv := sshtest.New(t, sshtest.Config{Users: map[string]sshtest.User{"alice": {Password: "pw"}}})
	h := &recordHandler{}
	s := loginTo(t, srv, loggingTo(h)...)
	ctx := testCtx(t)
	open := func(typ string, payload []byte) {
		t.Helper()
		_, _, err := srv.OpenChannelToClient(ctx, "alice", typ, payload)
		if e := fwdOCE(err); e == nil || e.Reason != gossh.Prohibited {
			t.Fatalf("%s open: %v, want a refusal (prohibited)", typ, err)
		}
	}

	// Before any forwarding was asked for.
	open(typeForwardedTCPIP, fwdPayload("127.0.0.1", 1234))
	port, err := s.ListenForward(ctx, "127.0.0.1", 0)
	if err != nil {
		t.Fatal(err)
	}
	// After: a port other than the one granted.
	open(typeForwardedTCPIP, fwdPayload("127.0.0.1", port+1))
	open(typeForwardedUnix, gossh.Marshal(struct{ Path, R string }{"/no/such.sock", ""}))

	got := h.warnings("server requests forwarding for unknown listen_port")
	var ports []string
	for _, r := range got {
		ports = append(ports, r.attrs["listen_port"])
		if r.attrs["listen_host"] != "127.0.0.1" || r.attrs["originator"] != "192.0.2.1:4242" {
			t.Errorf("record %+v", r)
		}
	}
	if want := []string{"1234", itoa(port + 1)}; !slices.Equal(ports, want) {
		t.Errorf("warned about listen ports %q, want %q (all records: %+v)", ports, want, h.records)
	}
	if got := h.warnings("server requests forwarding for unknown path"); len(got) != 1 || got[0].attrs["path"] != "/no/such.sock" {
		t.Errorf("unix socket warning: %+v", got)
	}

	// The granted port is neither refused nor warned about.
	done := make(chan error, 1)
	go func() {
		ch, reqs, err := srv.OpenChannelToClient(ctx, "alice", typeForwardedTCPIP, fwdPayload("127.0.0.1", port))
		if err == nil {
			go gossh.DiscardRequests(reqs)
			ch.Close()
		}
		done <- err
	}()
	_, ch, err := s.AcceptForward(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_ = ch.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := len(h.warnings("server requests forwarding for unknown listen_port")); n != 2 {
		t.Errorf("%d warnings after a granted forward, want still 2", n)
	}
}

func itoa(n int) string { return slog.IntValue(n).String() }
