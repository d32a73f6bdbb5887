package ssh

import (
	"context"
	"errors"
	"fmt"
)

// Fd returns a file descriptor for poll(2), select(2) or epoll: it becomes
// readable when the session has news — channel data or EOF arrived, an
// operation started in non-blocking mode completed, a send queue drained,
// or the connection ended. After a wake-up, call PollState (which makes it
// unreadable again) and then the calls that would have returned ErrAgain.
// It returns ^uintptr(0) when the session is not connected. The descriptor
// belongs to the session and is closed by Disconnect.
//
// The descriptor is the read end of a pipe, not the socket: x/crypto reads
// the socket on its own goroutine. On Windows an anonymous pipe cannot be
// polled with WSAPoll; use Events there.
func (s *Session) Fd() uintptr {
	c := s.current()
	if c == nil {
		return ^uintptr(0)
	}
	c.events.init()
	if c.events.err != nil {
		return ^uintptr(0)
	}
	return c.events.r.Fd()
}

// Events returns a channel that receives a value when the session has news,
// the same moments at which Fd becomes readable: the portable way to
// integrate with a Go select loop, and the one to use on Windows. It
// returns nil when the session is not connected.
func (s *Session) Events() <-chan struct{} {
	c := s.current()
	if c == nil {
		return nil
	}
	c.events.init()
	return c.events.ch
}

// PollState returns libssh's (readPending, writePending): readPending while
// the session is connected (news can arrive at any time), writePending
// while some channel's non-blocking send queue holds data. It also makes
// Fd unreadable until the next news.
func (s *Session) PollState() (readPending, writePending bool) {
	c := s.current()
	if c == nil {
		return false, false
	}
	c.events.drain()
	for _, ch := range c.openChannels() {
		if ch.sendq.queued() > 0 {
			writePending = true
			break
		}
	}
	return !c.isClosed(), writePending
}

// BlockingFlush waits until every channel's queued output has been handed
// to the connection, or ctx ends (libssh ssh_blocking_flush). It returns
// the first write error of a queue, if any, and ErrDisconnected if the
// connection ends meanwhile. A channel closed meanwhile has nothing left
// to flush. When ctx ends first, the queues stay as they are and keep
// draining in the background.
func (s *Session) BlockingFlush(ctx context.Context) error {
	c, err := s.live()
	if err != nil {
		return err
	}
	for _, ch := range c.openChannels() {
		if err := ch.waitQueue(limit{ctx: ctx}); err != nil && !errors.Is(err, ErrChannelClosed) {
			return err
		}
	}
	return nil
}

// SendIgnore sends data the server discards, to keep a quiet connection
// alive or pad traffic (libssh ssh_send_ignore). x/crypto cannot send
// SSH_MSG_IGNORE, so this sends a global request the server does not know
// and therefore drops without a reply (RFC 4254 §4). It does not wait.
//
// A server that answers every global request with SSH_MSG_UNIMPLEMENTED
// (tinysshd; see quirks.go) would end the connection that way, so for it
// SendIgnore sends nothing and returns an error matching ErrUnsupported.
// Other errors: ErrNotConnected, ErrNotAuthenticated.
func (s *Session) SendIgnore(data []byte) error {
	c, err := s.live()
	if err != nil {
		return err
	}
	client, err := c.authenticatedClient()
	if err != nil {
		return err
	}
	if err := c.refuseGlobalRequest("send ignore"); err != nil {
		return err
	}
	if _, _, err := client.SendRequest("ignore@libssh-go", false, data); err != nil {
		return fmt.Errorf("ssh: send ignore: %w", err)
	}
	return nil
}
