// Package sshtest is an in-process SSH server for tests and demos.
//
// It is built on the server side of golang.org/x/crypto/ssh and exists so the
// client library can be exercised without an sshd: it speaks the real
// protocol over a loopback TCP socket, records what the client did
// (authentication attempts, negotiated algorithms, channel requests) and can
// misbehave on purpose (see [Fault]) to test the client's error paths.
//
// A Server owns every goroutine it starts. [Server.Close] closes the listener
// and every connection and returns only after all of them have ended, so a
// test using [New] can run a goroutine-leak check afterwards. Nothing in the
// package waits with time.Sleep; the only timer is the one in the "sleep"
// built-in command.
//
// Session channels run commands from a small set of built-ins (see
// [RunBuiltin]) or a caller-supplied [Config.Exec] handler, a tiny line shell,
// and the subsystems of [Config.Subsystems] beside "echo-subsystem".
package sshtest
