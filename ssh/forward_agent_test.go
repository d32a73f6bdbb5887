package ssh

import (
	"context"
	"errors"
	"testing"

	"github.com/libssh-go/libssh/sshtest"
	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// agentSession logs in to a fresh server with opts and returns the session,
// the server and a session channel.
func agentSession(t *testing.T, opts ...Option) (*Session, *sshtest.Server, *Channel) {
	t.Helper()
	srv := sshtest.New(t, sshtest.Config{Users: map[string]sshtest.User{"alice": {Password: "pw"}}})
	s := acceptedSession(t, srv, "alice", opts...)
	if st, err := s.UserauthPassword(testCtx(t), "", "pw"); st != AuthSuccess {
		t.Fatalf("login: %v, %v", st, err)
	}
	return s, srv, openSession(t, s)
}

// remoteAgentList plays the server's agent client: it opens an agent
// channel to the client and lists the keys through it.
func remoteAgentList(ctx context.Context, srv *sshtest.Server) ([]*agent.Key, error) {
	ch, reqs, err := srv.OpenChannelToClient(ctx, "alice", "auth-agent@openssh.com", nil)
	if err != nil {
		return nil, err
	}
	go gossh.DiscardRequests(reqs)
	defer ch.Close()
	return agent.NewClient(ch).List()
}

func TestForwardAgentPipesToTheLocalAgent(t *testing.T) {
	key := newEd25519Raw(t)
	sock := startAgent(t, nil, key)
	s, srv, ch := agentSession(t, ForwardAgent(true), IdentityAgent(sock))
	ctx := testCtx(t)

	// Not requested yet: refused even with ForwardAgent.
	if _, err := remoteAgentList(ctx, srv); fwdOCE(err) == nil || fwdOCE(err).Reason != gossh.Prohibited {
		t.Fatalf("agent channel before auth-agent-req: %v", err)
	}
	if err := ch.RequestAuthAgent(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 3 { // each channel is one agent connection
		keys, err := remoteAgentList(ctx, srv)
		if err != nil || len(keys) != 1 || keys[0].Format != "ssh-ed25519" {
			t.Fatalf("round %d: remote ssh-add -l: %v, %v", i, keys, err)
		}
	}
	if s.AcceptAgentForward() != nil {
		t.Fatal("piped channels must not reach AcceptAgentForward")
	}
}

func TestForwardAgentWithoutLocalAgent(t *testing.T) {
	_, srv, ch := agentSession(t, ForwardAgent(true), IdentityAgent("none"))
	ctx := testCtx(t)
	if err := ch.RequestAuthAgent(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := remoteAgentList(ctx, srv); fwdOCE(err) == nil || fwdOCE(err).Reason != gossh.ConnectionFailed {
		t.Fatalf("no local agent: %v", err)
	}
}

func TestAgentChannelsRefusedWithoutOptIn(t *testing.T) {
	_, srv, ch := agentSession(t)
	ctx := testCtx(t)
	if err := ch.RequestAuthAgent(ctx); err != nil {
		t.Fatal(err)
	}
	// Requested, but neither ForwardAgent nor EnableAcceptAgentForward.
	if _, err := remoteAgentList(ctx, srv); fwdOCE(err) == nil || fwdOCE(err).Reason != gossh.Prohibited {
		t.Fatalf("agent channel without opt-in: %v", err)
	}
}

// libssh-rs flow: the application accepts agent channels itself, polling
// AcceptAgentForward when the session signals news.
func TestAcceptAgentForward(t *testing.T) {
	s, srv, ch := agentSession(t, ForwardAgent(true), IdentityAgent("none"))
	ctx := testCtx(t)
	s.EnableAcceptAgentForward(true)
	if err := ch.RequestAuthAgent(ctx); err != nil {
		t.Fatal(err)
	}
	ring := agent.NewKeyring()
	if err := ring.Add(agent.AddedKey{PrivateKey: newEd25519Raw(t)}); err != nil {
		t.Fatal(err)
	}
	listed := make(chan error, 1)
	go func() {
		keys, err := remoteAgentList(ctx, srv)
		if err == nil && len(keys) != 1 {
			err = errors.New("wrong key count")
		}
		listed <- err
	}()
	events := s.Events()
	var ach *Channel
	for ach == nil {
		if ach = s.AcceptAgentForward(); ach != nil {
			break
		}
		select {
		case <-events:
		case <-ctx.Done():
			t.Fatal("no agent channel arrived")
		}
	}
	served := make(chan struct{})
	go func() { defer close(served); _ = agent.ServeAgent(ring, ach) }()
	if err := <-listed; err != nil {
		t.Fatal(err)
	}
	_ = ach.Close()
	<-served

	// Disabling refuses what waits.
	waiting := make(chan error, 1)
	go func() { _, err := remoteAgentList(ctx, srv); waiting <- err }()
	for s.current().existingForwarding().agentQ.len() == 0 {
		select {
		case <-events:
		case <-ctx.Done():
			t.Fatal("second agent channel never queued")
		}
	}
	s.EnableAcceptAgentForward(false)
	if err := <-waiting; fwdOCE(err) == nil {
		t.Fatalf("waiting agent channel after disabling: %v", err)
	}
	if s.AcceptAgentForward() != nil {
		t.Fatal("a channel after disabling")
	}
}

func TestForwardAgentSocketResolution(t *testing.T) {
	t.Setenv("SSH_AUTH_SOCK", "/env/sock")
	for _, tc := range []struct {
		o    Options
		want string
	}{
		{Options{}, "/env/sock"},
		{Options{IdentityAgent: "SSH_AUTH_SOCK"}, "/env/sock"},
		{Options{IdentityAgent: "/id/sock"}, "/id/sock"},
		{Options{IdentityAgent: "/id/sock", ForwardAgentSocket: "/fwd/sock"}, "/fwd/sock"},
		{Options{IdentityAgent: "none"}, ""},
	} {
		if got := forwardAgentSocket(tc.o); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.o, got, tc.want)
		}
	}
}
