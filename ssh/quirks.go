package ssh

import (
	"fmt"
	"strings"
)

// Server quirks, as OpenSSH keeps them in compat.c: some servers are known
// by their identification string (RFC 4253 §4.2) to do something the
// protocol allows, or even requires, that x/crypto cannot cope with, and the
// client works around it for them.
//
// The table is matched against the software version and comments, the part
// of the identification line after "SSH-protoversion-" (what OpenSSH's
// compat_banner matches), with OpenSSH's wildcards: "*" any string, "?"
// any one byte, case-sensitive. The first matching entry wins. The version
// line is known from Connect on (the transport records it as it passes), so
// every decision below is made before anything it concerns is sent.

// quirk is a set of server behaviours to work around.
type quirk uint32

const (
	// quirkNoGlobalRequests: the server answers every global request
	// (RFC 4254 §4), whatever its want-reply flag, with
	// SSH_MSG_UNIMPLEMENTED (RFC 4253 §11.4). That is a legal answer, but
	// x/crypto has no handler for it and ends the connection ("unexpected
	// message type 3"), where OpenSSH logs it and carries on. So no global
	// request is ever sent to such a server: keepalives open a channel of
	// an unknown type instead (ping.go), and SendIgnore and the forwarding
	// requests fail with ErrUnsupported.
	quirkNoGlobalRequests quirk = 1 << iota
)

func (q quirk) String() string {
	if q == 0 {
		return "none"
	}
	var names []string
	if q&quirkNoGlobalRequests != 0 {
		names = append(names, "no-global-requests")
		q &^= quirkNoGlobalRequests
	}
	if q != 0 {
		names = append(names, fmt.Sprintf("0x%x", uint32(q)))
	}
	return strings.Join(names, ",")
}

// quirkTable lists the servers with quirks. Checked against the servers in
// the interop tests: tinysshd 20230101 sends "SSH-2.0-tinyssh_20230101-1
// <connection id>" (Debian) and answers global requests as above, and
// answers a channel open of any type but "session" with
// SSH_MSG_CHANNEL_OPEN_FAILURE. Dropbear 2022.83 needs no entry: it answers
// unknown global requests with SSH_MSG_REQUEST_FAILURE, grants
// tcpip-forward and ignores a request without want-reply. OpenSSH answers
// keepalive@openssh.com with failure.
var quirkTable = []struct {
	patterns string // comma-separated, as in compat.c
	quirks   quirk
}{
	{"tinyssh_*", quirkNoGlobalRequests},
}

// quirksFor returns the quirks of the server whose identification line is
// version ("" when none arrived: no quirks).
func quirksFor(version string) quirk {
	// "SSH-" protoversion "-" softwareversion [SP comments]
	rest, ok := strings.CutPrefix(version, "SSH-")
	if !ok {
		return 0
	}
	_, software, ok := strings.Cut(rest, "-")
	if !ok {
		return 0
	}
	for _, e := range quirkTable {
		for _, p := range strings.Split(e.patterns, ",") {
			if matchGlob(p, software) {
				return e.quirks
			}
		}
	}
	return 0
}

// quirks returns the connected server's quirks.
func (c *conn) quirks() quirk {
	if c.muxed {
		// OpenSSH's mux proxy passes on only tcpip-forward among global
		// requests and drops the client on any other (channels.c,
		// channel_proxy_downstream): liveness goes by channel opens.
		return quirkNoGlobalRequests
	}
	if c.version == nil {
		return 0
	}
	return quirksFor(c.version.line())
}

// refuseGlobalRequest returns the error for a global request that must not
// be sent to this server, or nil when it may be sent. what names the
// request in the error.
func (c *conn) refuseGlobalRequest(what string) error {
	if c.quirks()&quirkNoGlobalRequests == 0 {
		return nil
	}
	if c.muxed {
		return fmt.Errorf("%w: %s over a ControlMaster connection: OpenSSH's mux proxy would drop it", ErrUnsupported, what)
	}
	return fmt.Errorf("%w: %s: the server (%s) answers every global request with SSH_MSG_UNIMPLEMENTED, which would end the connection",
		ErrUnsupported, what, c.version.line())
}
