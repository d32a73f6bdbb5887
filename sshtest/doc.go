// Package sshtest provides an in-process SSH server for testing SSH
// clients, as net/http/httptest does for HTTP.
//
// A [Server] speaks the real SSH protocol (the server side of
// golang.org/x/crypto/ssh) on a loopback TCP port, so code under test
// connects to it exactly as it would to sshd: host key check, key exchange,
// authentication, channels. The test decides what the server does with
// handler literals in a [Config] and afterwards checks what the client did
// in the server's records. It needs no sshd, no root and no network.
//
// # Usage
//
// A test builds a Config, starts a Server with [New] and points the code
// under test at [Server.Host] and [Server.Port] (or [Server.Addr]):
//
//	func TestUptime(t *testing.T) {
//		srv := sshtest.New(t, sshtest.Config{
//			Users: map[string]sshtest.User{"alice": {Password: "pw"}},
//			Exec: func(ctx sshtest.ExecContext) int {
//				if ctx.Command != "uptime" {
//					fmt.Fprintf(ctx.Stderr, "%s: command not found\n", ctx.Command)
//					return 127
//				}
//				fmt.Fprintln(ctx.Stdout, "up 3 days")
//				return 0
//			},
//		})
//		// connect to srv.Addr() as alice with password "pw",
//		// trusting srv.KnownHostsLine(), and run "uptime"
//	}
//
// Package [github.com/libssh-go/libssh/sshtest/sshclient] hands out a
// connected, authenticated *ssh.Session of this module's ssh package for a
// Server; sshtest itself does not import that package, so the ssh
// package's own tests can use sshtest.
//
// # Lifetime
//
// [New] starts a server on 127.0.0.1 with a free port and registers
// [Server.Close] with t.Cleanup, so the server ends with its test; a
// failure to start calls t.Fatal. [Start] does the same without a
// testing.TB (for demos and TestMain), and the caller calls Close. Close is
// idempotent, closes the listener and every connection, cancels the
// contexts of running handlers, and returns only once every goroutine the
// server started has ended, so a goroutine-leak check (go.uber.org/goleak)
// run after the test passes. Cleanups run last-registered first: a client
// helper registered after New disconnects before the server closes.
//
// Host keys: by default three keys (ed25519, ecdsa-sha2-nistp256, RSA 2048)
// are generated once per process and shared by every Server, because RSA
// generation is slow; [Config.HostKeys] supplies others.
// [Server.KnownHostsLine] gives the known_hosts lines that make a client
// trust them, and [Server.HostKeys] the keys themselves.
//
// # Users and authentication
//
// [Config.Users] maps user names to a [User]: a password, authorized
// public keys, user certificate authorities, keyboard-interactive rounds or
// login without credentials. [Config.AddPasswordUser] and
// [Config.AddKeyUser] add them one at a time, and [NewSigner] makes a
// client key. [Config.AuthSequence] demands several methods in order
// (partial success), [Config.MaxAuthTries] limits failures, and
// [Config.Banner] sends a pre-authentication banner.
//
// # Handlers
//
// Session channels run programs. An "exec" request runs [Config.Exec], or
// a small set of built-in commands ([RunBuiltin]: echo, cat, whoami,
// exit N, sleep, yes N, ...) when Exec is nil. A "shell" request runs
// [Config.Shell], or when it is nil a line shell that runs each input line
// through Exec (or the built-ins). A "subsystem" request runs the handler
// [Config.Subsystems] maps its name to; "echo-subsystem" is built in. Every
// handler is a func([ExecContext]) int: it reads the client's input from
// ctx.Stdin, writes ctx.Stdout and ctx.Stderr, sees the environment, pty
// and signals the client sent, and returns the exit status, which the
// server sends before closing the channel. Port forwarding works both
// ways (direct-tcpip to any address, tcpip-forward listening on
// 127.0.0.1, and their Unix socket variants), and [Server.OpenChannelToClient]
// opens any channel to a client.
//
// # Goroutines
//
// The server owns its goroutines. Each connection, channel and handler runs
// on its own goroutine, all counted and all ended by Close. A handler must
// return once ctx.Ctx is done (the channel closed, the connection ended or
// the server closed); a handler that never returns makes Close wait for
// ever. Handlers may run concurrently with each other and with the test,
// so state they share with the test needs a lock or a channel. Every
// Server method is safe for concurrent use, from the test or from a
// handler. Nothing in the package waits with time.Sleep; the only timer is
// the one in the "sleep" built-in.
//
// # Records
//
// The server records what clients did, across all connections, in order:
// authentication attempts ([Server.AuthLog]), negotiated algorithms and
// client versions ([Server.Negotiated], [Server.ClientVersions]), channel
// and global requests ([Server.Requests], [Server.GlobalRequests]),
// forwarding ([Server.ForwardRecords]) and refused channel types
// ([Server.RefusedChannels]). Each accessor returns a copy taken under the
// server's lock, so it is safe to call while clients run. An event is
// recorded before the server answers it, so once the client has the
// answer the record is there; for messages without an answer (a signal, a
// window change) [Server.WaitRequest] and its siblings block until the
// record appears.
//
// # Faults
//
// [Config.Fault] makes every connection misbehave in one of the ways real
// servers and networks do, to test a client's error paths and timeouts: a
// server that accepts and says nothing ([FaultSilent]), a version line
// without its end ([FaultPartialVersion]), bytes that are not SSH
// ([FaultGarbage]), a connection dropped after N bytes
// ([FaultDropAfterBytes], [Config.DropAfter]) or stalled after N bytes
// ([FaultStallAfterBytes], [Config.StallAfter]), and a disconnect or stall
// at the first authentication request ([FaultDisconnectInAuth],
// [FaultStallInAuth]). Quirks of particular servers are options of their
// own: [Config.GlobalRequestsUnimplemented] (tinysshd), [Config.NoExtInfo]
// (OpenSSH before 7.2), [Config.PublicKeyAuthAlgorithms] (OpenSSH 8.8
// refusing SHA-1 RSA signatures) and [Config.BannerRepeat] (a hostile
// banner flood). A stalled connection stays open until the client gives
// up or the Server is closed, so a client test bounds its calls with a
// context deadline.
package sshtest
