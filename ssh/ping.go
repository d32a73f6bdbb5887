package ssh

import (
	"context"
	"fmt"
)

// ping sends the server something it must answer and waits for the answer (any answer: success or failure).
// It returns nil when an answer came, and an error matching ErrDisconnected when the connection ended first;
// ctx bounds the wait. Safe for concurrent use; concurrent callers may share one round trip as long as the
// round trip was sent after each caller's call began.
//
// Provisional: a keepalive@openssh.com global request wanting a reply, which RFC 4254 §4 obliges a server to
// answer (OpenSSH answers failure). It is meant to be replaced by the quirk-aware version.
func (c *conn) ping(ctx context.Context) error {
	client, err := c.authenticatedClient()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrDisconnected, err)
	}
	done := make(chan error, 1)
	if !c.goTracked(func() {
		_, _, err := client.SendRequest("keepalive@openssh.com", true, nil)
		done <- err
	}) {
		return fmt.Errorf("%w: %w", ErrDisconnected, c.closedErr())
	}
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("%w: keepalive round trip: %w", ErrDisconnected, err)
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
