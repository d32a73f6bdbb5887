package ssh

import (
	"context"
	"errors"
	"fmt"
	"sync"

	gossh "golang.org/x/crypto/ssh"
)

// A ping is one round trip to the server: a message the server must answer,
// and its answer. Keepalives (keepalive.go) and liveness checks use it.
//
// Normally the message is the global request keepalive@openssh.com with
// want-reply, which is what OpenSSH's ServerAliveInterval sends; servers
// answer it with SSH_MSG_REQUEST_FAILURE (OpenSSH, Dropbear) or success.
//
// A server with quirkNoGlobalRequests (tinysshd) answers that with
// SSH_MSG_UNIMPLEMENTED, which ends the connection in x/crypto. Checked
// against tinysshd 20230101, the candidates were:
//
//   - ping@openssh.com (OpenSSH PROTOCOL §1.9): x/crypto's client cannot
//     send it, would end the connection on the SSH_MSG_PONG, and tinysshd
//     answers it with SSH_MSG_UNIMPLEMENTED anyway;
//   - a channel request with want-reply on an open session channel:
//     tinysshd answers SSH_MSG_CHANNEL_FAILURE, but it needs a session
//     channel open, and tinysshd ends the connection on a request for any
//     channel id other than its one session's (a request racing with the
//     channel's close would kill the session);
//   - SSH_MSG_CHANNEL_OPEN of a type it does not know: tinysshd answers
//     SSH_MSG_CHANNEL_OPEN_FAILURE at any time after authentication ("only
//     one 'session' channel allowed"), and so do OpenSSH, Dropbear and
//     x/crypto servers (RFC 4254 §5.1: unknown channel types are refused).
//
// So such servers are pinged with a channel open of type pingChannelType.

// pingGlobalRequest is the global request of a ping.
const pingGlobalRequest = "keepalive@openssh.com"

// pingChannelType is the channel type a ping opens on servers that cannot
// take a global request. No server implements it; should one accept it, the
// channel is closed at once.
const pingChannelType = "keepalive@libssh-go"

// pinger shares round trips between concurrent callers. At most one round is
// in flight and at most one waits to be sent, so callers that keep pinging a
// server that stopped answering cost no more than that.
type pinger struct {
	mu      sync.Mutex
	running bool       // a round is in flight
	next    *pingRound // callers that came while a round was in flight; sent when it ends
}

// pingRound is one round trip; done is closed when it has an outcome.
type pingRound struct {
	done chan struct{}
	err  error
}

// ping sends the server something it must answer and waits for the answer (any answer: success or failure).
// It returns nil when an answer came, and an error matching ErrDisconnected when the connection ended first;
// ctx bounds the wait. Safe for concurrent use; concurrent callers may share one round trip as long as the
// round trip was sent after each caller's call began.
func (c *conn) ping(ctx context.Context) error {
	client, err := c.authenticatedClient()
	if err != nil {
		if c.isClosed() {
			return c.disconnectedErr(nil)
		}
		return err // not authenticated yet
	}
	r := c.joinPing(client)
	select {
	case <-r.done:
		return r.err
	default:
	}
	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		return ctx.Err()
	case <-c.done:
		select {
		case <-r.done: // answered just before the end
			return r.err
		default:
		}
		return c.disconnectedErr(nil)
	}
}

// joinPing returns a round sent after this call: the one waiting to be sent,
// or a new one, started at once when none is in flight. A round in flight
// was sent before this call and is not shared with it.
func (c *conn) joinPing(client gossh.Conn) *pingRound {
	p := &c.pinger
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.next != nil {
		return p.next
	}
	r := &pingRound{done: make(chan struct{})}
	if p.running {
		p.next = r
		return r
	}
	p.running = true
	if !c.goTracked(func() { c.runPings(client, r) }) {
		p.running = false
		r.err = c.disconnectedErr(nil)
		close(r.done)
	}
	return r
}

// runPings runs r, then the rounds that queued up meanwhile, until none is
// left. It ends with the connection at the latest: x/crypto fails every
// request and open in flight when the connection closes.
func (c *conn) runPings(client gossh.Conn, r *pingRound) {
	p := &c.pinger
	for r != nil {
		r.err = c.roundTrip(client)
		close(r.done)
		p.mu.Lock()
		r, p.next = p.next, nil
		p.running = r != nil
		p.mu.Unlock()
	}
}

// roundTrip sends one ping and waits for its answer.
func (c *conn) roundTrip(client gossh.Conn) error {
	if c.quirks()&quirkNoGlobalRequests == 0 {
		// The answer, success or failure, is all that matters.
		if _, _, err := client.SendRequest(pingGlobalRequest, true, nil); err != nil {
			return c.disconnectedErr(err)
		}
		return nil
	}
	ch, reqs, err := client.OpenChannel(pingChannelType, nil)
	var refused *gossh.OpenChannelError
	switch {
	case errors.As(err, &refused):
		return nil // the expected answer
	case err != nil:
		return c.disconnectedErr(err)
	}
	// Accepted after all: an answer too. Close it; its requests are
	// drained until the close completes.
	// (If the connection ended meanwhile nothing is left to drain.)
	_ = ch.Close()
	c.goTracked(func() { gossh.DiscardRequests(reqs) })
	return nil
}

// disconnectedErr returns an error matching ErrDisconnected, with why the
// connection ended when it is known, else with cause.
func (c *conn) disconnectedErr(cause error) error {
	if err := c.closedErr(); err != nil {
		if errors.Is(err, ErrDisconnected) {
			return err
		}
		cause = err
	}
	if cause == nil {
		return ErrDisconnected
	}
	return fmt.Errorf("%w: %w", ErrDisconnected, cause)
}
