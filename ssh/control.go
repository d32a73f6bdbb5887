package ssh

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// errMuxNoHostKey is ServerPublicKey's answer on a ControlMaster
// connection: the master checked the key and does not pass it on.
var errMuxNoHostKey = fmt.Errorf("%w: the host key is not available over a ControlMaster connection", ErrUnsupported)

// ControlMaster sets OpenSSH's ControlMaster mode (libssh
// SSH_OPTIONS_CONTROL_MASTER). The library is a multiplexing client only:
// with "no" (the default), "auto" or "autoask", and a ControlPath, Connect
// first tries the OpenSSH master listening on ControlPath, as ssh does,
// and uses a normal connection when none answers. "yes" and "ask" ask ssh
// to become a master, which the library does not do: Connect then makes a
// normal connection (and logs it). "true"/"false" mean "yes"/"no".
func ControlMaster(mode string) Option {
	return Option{"ControlMaster", func(o *Options) error {
		m := strings.ToLower(mode)
		switch m {
		case "true":
			m = "yes"
		case "false":
			m = "no"
		}
		switch m {
		case "no", "yes", "ask", "auto", "autoask":
			o.ControlMaster = m
			return nil
		}
		return invalid("ControlMaster", mode, "want no, yes, ask, auto or autoask")
	}}
}

// ControlPath sets the socket of an OpenSSH ControlMaster (libssh
// SSH_OPTIONS_CONTROL_PATH), already expanded (ssh_config's ControlPath
// is, when read through ProcessConfig or ApplyConfig). "" or "none": none.
//
// When a master answers there, Connect runs the session over it in
// OpenSSH's mux proxy mode (x/crypto's NewControlClientConn) instead of
// dialing the server: no key exchange and no authentication happen here,
// since the master did both. IsKnownServer and KnownHostsMatch then report
// KnownHostsOK, UpdateKnownHostsFile and AcceptHostKey do nothing,
// UserauthNone and the other Userauth calls report AuthSuccess without
// network traffic, ServerPublicKey fails with ErrUnsupported (the master
// does not pass the key on), ServerBanner fails with ErrNotConnected (no
// version exchange happens), and Multiplexed reports true. Channels,
// local forwarding and exit statuses work as on a direct connection.
// OpenSSH's mux proxy drops a client that sends a global request other
// than tcpip-forward, so the library sends none there: liveness checks go
// by channel opens, and remote forwarding, SendIgnore and the like fail
// with ErrUnsupported.
func ControlPath(path string) Option {
	return Option{"ControlPath", func(o *Options) error {
		if strings.ContainsRune(path, 0) {
			return invalid("ControlPath", path, "contains NUL")
		}
		o.ControlPath = path
		return nil
	}}
}

// Multiplexed reports whether the live connection runs over an OpenSSH
// ControlMaster's socket (see ControlPath).
func (s *Session) Multiplexed() bool {
	c := s.current()
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.muxed && c.err == nil
}

// muxDialTimeout bounds the connect to a local ControlMaster socket.
const muxDialTimeout = 5 * time.Second

// dialControlMaster connects to the ControlMaster socket when the options
// ask for a mux client, as OpenSSH's muxclient does; nil means connect
// normally (no path, a master mode, or no master listening).
func (s *Session) dialControlMaster(opts Options, log *slog.Logger) net.Conn {
	path := opts.ControlPath
	if path == "" || path == "none" || opts.Socket != nil {
		return nil
	}
	switch opts.ControlMaster {
	case "", "no", "auto", "autoask":
	default:
		log.Info("ControlMaster: master mode is not supported; connecting directly", "mode", opts.ControlMaster)
		return nil
	}
	conn, err := net.DialTimeout("unix", path, muxDialTimeout)
	if err != nil {
		log.Info("ControlMaster: no master; connecting directly", "path", path, "err", err)
		return nil
	}
	return conn
}

// connectMux is Connect over a ControlMaster socket: the mux hello and
// proxy request (x/crypto's NewControlClientConn), then the connection is
// served as an authenticated one.
func (s *Session) connectMux(ctx context.Context, c *conn, mux net.Conn) error {
	// The transport wrapper gives the socket the same death watch as a
	// network connection (channel_end.go); there is no version line on it.
	c.version = newTransport(mux)
	c.version.versionDone.Store(true)
	c.transport = c.version
	c.muxed = true
	c.hostAccepted = true
	stopWatch := context.AfterFunc(ctx, func() { _ = mux.SetDeadline(time.Unix(1, 0)) })
	client, chans, reqs, err := gossh.NewControlClientConn(c.transport)
	stopped := stopWatch()
	if err == nil && !stopped {
		err = ctx.Err()
	}
	if err == nil {
		err = mux.SetDeadline(time.Time{})
	}
	if err != nil {
		if client != nil {
			_ = client.Close()
		}
		_ = mux.Close()
		if ctx.Err() != nil {
			err = errors.Join(err, ctx.Err())
		}
		return fmt.Errorf("%w: ControlMaster %s: %w", ErrConnect, c.opts.ControlPath, err)
	}
	s.mu.Lock()
	if s.conn != nil {
		s.mu.Unlock()
		_ = client.Close()
		return ErrAlreadyConnected
	}
	s.conn = c
	s.mu.Unlock()
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.serve(client, chans, reqs)
	}()
	if err := c.waitFor(ctx, func() bool { return c.client != nil }); err != nil {
		return err
	}
	c.log.Info("connected through ControlMaster", "path", c.opts.ControlPath)
	return nil
}
