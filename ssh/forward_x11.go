package ssh

import (
	"context"

	gossh "golang.org/x/crypto/ssh"
)

// X11 forwarding (RFC 4254 §6.3): after "x11-req" on a session channel the
// server opens an "x11" channel for each X client that connects to the
// display it set up. The channel does not say which session channel it
// belongs to, so the channels of all sessions of the connection share one
// queue. They are refused unless RequestX11 was sent on the connection,
// and beyond 64 waiting for AcceptX11.

// AcceptX11 waits for the next X11 channel the server opens, accepts it
// and returns it (libssh ssh_channel_accept_x11; ch is any channel of the
// session, as there). The channel carries one X11 client's connection:
// copy it to and from the local X server, after replacing the fake cookie
// given to RequestX11 with the real one if the application uses that
// scheme. Its NetConn's RemoteAddr is the originator the server reported.
//
// It waits until ctx ends; in non-blocking mode it returns ErrAgain when
// nothing is waiting. Errors: ErrNotConnected, ErrNotAuthenticated, ctx's
// error, ErrDisconnected when the connection ends while waiting.
func (ch *Channel) AcceptX11(ctx context.Context) (*Channel, error) {
	c := ch.c
	if _, err := c.authenticatedClient(); err != nil {
		return nil, err
	}
	fw := c.forwarding()
	for {
		p, err := fw.x11Q.pop(ctx, ch.sess, c)
		if err != nil {
			return nil, err
		}
		x, err := fw.accept(ch.sess, p, "tcp", sshAddr("x11"), hostPortAddr("tcp", p.origHost, p.origPort))
		if err != nil {
			if c.isClosed() {
				return nil, err
			}
			continue
		}
		return x, nil
	}
}

func (fw *forwarding) onX11(nc gossh.NewChannel) {
	p, ok := parseX11Open(nc.ExtraData())
	if !ok {
		_ = nc.Reject(gossh.ConnectionFailed, "malformed x11 open")
		return
	}
	p.nc = nc
	fw.mu.Lock()
	wanted := fw.x11.wanted()
	fw.mu.Unlock()
	if !wanted {
		_ = nc.Reject(gossh.Prohibited, "X11 forwarding was not requested")
		return
	}
	if !fw.x11Q.push(p) {
		_ = nc.Reject(gossh.ResourceShortage, "too many X11 channels waiting to be accepted")
		return
	}
	fw.c.events.signal()
}

// parseX11Open reads an x11 channel open. RFC 4254 §6.3.2: string
// originator address, uint32 originator port; a port beyond 65535 makes it
// malformed.
func parseX11Open(payload []byte) (pendingOpen, bool) {
	var m struct {
		OrigAddr string
		OrigPort uint32
	}
	if gossh.Unmarshal(payload, &m) != nil || m.OrigPort > 65535 {
		return pendingOpen{}, false
	}
	return pendingOpen{origHost: m.OrigAddr, origPort: int(m.OrigPort)}, true
}
