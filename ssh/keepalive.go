package ssh

import (
	"context"
	"sync/atomic"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// keepalive does what OpenSSH's ServerAliveInterval does: after each
// interval in which nothing arrived from the server it pings the server
// (ping.go: keepalive@openssh.com wanting a reply, or a refused channel open
// for servers that cannot take global requests), and when more than
// ServerAliveCountMax intervals in a row passed without anything arriving,
// it ends the session with ErrServerNotResponding. Any data from the server,
// the answers included, resets the count. The x/crypto connection is unused:
// ping finds it itself.
func (c *conn) keepalive(gossh.Conn) {
	defer c.wg.Done()
	if c.quirks()&quirkNoGlobalRequests != 0 {
		c.log.Debug("keepalives by channel open: the server answers global requests with SSH_MSG_UNIMPLEMENTED",
			"server", c.version.line(), "channel_type", pingChannelType)
	}
	tick := time.NewTicker(c.opts.ServerAliveInterval)
	defer tick.Stop()
	last := c.version.lastRead.Load()
	missed := 0
	// One ping at a time: while one waits for its answer, sending more
	// would only queue them behind it.
	var pinging atomic.Bool
	for {
		select {
		case <-c.done:
			return
		case <-tick.C:
		}
		if now := c.version.lastRead.Load(); now != last {
			last, missed = now, 0
			continue
		}
		missed++
		if missed > c.opts.ServerAliveCountMax {
			c.log.Warn("server not responding to keepalives", "unanswered", missed-1)
			c.shutdown(ErrServerNotResponding)
			return
		}
		if pinging.CompareAndSwap(false, true) {
			// The answer only matters as traffic; the ping ends with
			// the connection at the latest.
			if !c.goTracked(func() {
				defer pinging.Store(false)
				_ = c.ping(context.Background())
			}) {
				return
			}
		}
	}
}
