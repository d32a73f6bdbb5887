package ssh

import (
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// keepalive does what OpenSSH's ServerAliveInterval does: after each
// interval in which nothing arrived from the server it sends a
// keepalive@openssh.com request wanting a reply, and when more than
// ServerAliveCountMax of them went unanswered (nothing arrived at all), it
// ends the session with ErrServerNotResponding. Any data from the server,
// the replies included, resets the count.
func (c *conn) keepalive(client gossh.Conn) {
	defer c.wg.Done()
	tick := time.NewTicker(c.opts.ServerAliveInterval)
	defer tick.Stop()
	last := c.version.lastRead.Load()
	missed := 0
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
		// The reply only matters as traffic; the request waits on its own
		// goroutine, which ends with the connection at the latest.
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			_, _, _ = client.SendRequest("keepalive@openssh.com", true, nil)
		}()
	}
}
