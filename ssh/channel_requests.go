package ssh

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// request sends a channel request and, with wantReply, waits for the
// answer; a refusal is ErrRequestDenied. Without wantReply it returns once
// x/crypto took the request. Both waits are bounded by ctx and the Timeout
// option, and end with Close (ErrChannelClosed) and the connection's end
// (ErrDisconnected).
//
// A request is one packet, so a wait given up on leaves the channel
// consistent: the request is still sent when the connection moves again,
// and with wantReply its answer is collected by the next call of the same
// request (libssh's SSH_AGAIN protocol), so it is never sent twice.
func (ch *Channel) request(ctx context.Context, name string, wantReply bool, payload []byte) error {
	xch, err := ch.channel()
	if err != nil {
		return err
	}
	ctx, cancel := ch.sess.withTimeout(ctx)
	defer cancel()
	if !wantReply {
		if err := ch.sendRequest(ctx, xch, name, payload); err != nil {
			return fmt.Errorf("ssh: %s request: %w", name, err)
		}
		return nil
	}
	ok, err := ch.op(ctx, "request "+name, func() (any, error) {
		ok, err := xch.SendRequest(name, true, payload)
		return ok, ch.writeErr(err)
	})
	if errors.Is(err, ErrAgain) {
		return err
	}
	if err != nil {
		return fmt.Errorf("ssh: %s request: %w", name, err)
	}
	if !ok.(bool) {
		return fmt.Errorf("%w: %s", ErrRequestDenied, name)
	}
	return nil
}

// RequestExec runs command on the server (RFC 4254 §6.5 "exec"). A refusal
// is an error matching ErrRequestDenied.
//
// It waits for the server's answer until ctx or the Timeout option ends
// (ctx's error), Close (ErrChannelClosed) or the connection's end
// (ErrDisconnected), whatever the server does: even when the connection
// cannot take the request (the server stopped reading, a key exchange
// stalled). A request is a single packet, so a wait given up on leaves the
// channel usable: x/crypto still sends the request when the connection
// moves, and the next call of the same request collects its answer rather
// than sending it twice. The other requests with a ctx wait the same way.
func (ch *Channel) RequestExec(ctx context.Context, command string) error {
	return ch.request(ctx, "exec", true, gossh.Marshal(struct{ Command string }{command}))
}

// RequestShell starts the user's login shell (RFC 4254 §6.5 "shell").
func (ch *Channel) RequestShell(ctx context.Context) error {
	return ch.request(ctx, "shell", true, nil)
}

// RequestSubsystem starts a subsystem such as "sftp" (RFC 4254 §6.5).
func (ch *Channel) RequestSubsystem(ctx context.Context, name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty subsystem name", ErrInvalidOption)
	}
	return ch.request(ctx, "subsystem", true, gossh.Marshal(struct{ Name string }{name}))
}

// Terminal mode opcodes of RFC 4254 §8.
const (
	ttyOpEnd    = 0
	ttyVINTR    = 1
	ttyVQUIT    = 2
	ttyVERASE   = 3
	ttyVKILL    = 4
	ttyVEOF     = 5
	ttyVSUSP    = 10
	ttyICRNL    = 36
	ttyISIG     = 50
	ttyICANON   = 51
	ttyECHO     = 53
	ttyECHOE    = 54
	ttyECHOK    = 55
	ttyOPOST    = 70
	ttyONLCR    = 72
	ttyCS8      = 91
	ttyISPEED   = 128
	ttyOSPEED   = 129
	ttyBaudRate = 38400
)

// defaultTerminalModes is a cooked terminal as `stty sane` sets it, which
// is what a program that asks for a pty without copying a local terminal's
// settings expects: echo, line editing, signals, CR/LF translation.
var defaultTerminalModes = []struct {
	op  byte
	arg uint32
}{
	{ttyVINTR, 3}, {ttyVQUIT, 28}, {ttyVERASE, 127}, {ttyVKILL, 21}, {ttyVEOF, 4}, {ttyVSUSP, 26},
	{ttyICRNL, 1}, {ttyISIG, 1}, {ttyICANON, 1}, {ttyECHO, 1}, {ttyECHOE, 1}, {ttyECHOK, 1},
	{ttyOPOST, 1}, {ttyONLCR, 1}, {ttyCS8, 1}, {ttyISPEED, ttyBaudRate}, {ttyOSPEED, ttyBaudRate},
}

func encodeTerminalModes() []byte {
	out := make([]byte, 0, len(defaultTerminalModes)*5+1)
	for _, m := range defaultTerminalModes {
		out = append(out, m.op, byte(m.arg>>24), byte(m.arg>>16), byte(m.arg>>8), byte(m.arg))
	}
	return append(out, ttyOpEnd)
}

// RequestPty asks for a pseudo-terminal of the given type and size in
// characters (RFC 4254 §6.2 "pty-req"), with the modes of a sane cooked
// terminal. term "" means "xterm".
func (ch *Channel) RequestPty(ctx context.Context, term string, columns, rows int) error {
	if term == "" {
		term = "xterm"
	}
	if err := checkSize(columns, rows); err != nil {
		return err
	}
	return ch.request(ctx, "pty-req", true, gossh.Marshal(struct {
		Term                    string
		Columns, Rows, PxW, PxH uint32
		Modes                   string
	}{term, uint32(columns), uint32(rows), 0, 0, string(encodeTerminalModes())}))
}

func checkSize(columns, rows int) error {
	if columns < 0 || rows < 0 || columns > 1<<20 || rows > 1<<20 {
		return fmt.Errorf("%w: terminal size %dx%d", ErrInvalidOption, columns, rows)
	}
	return nil
}

// ChangePtySize tells the server the terminal's new size (RFC 4254 §6.7
// "window-change"). Like libssh it does not wait for an answer; it waits
// only for the connection to take the request, until the Timeout option,
// Close or the connection's end, as RequestExec does.
func (ch *Channel) ChangePtySize(columns, rows int) error {
	if err := checkSize(columns, rows); err != nil {
		return err
	}
	return ch.request(context.Background(), "window-change", false, gossh.Marshal(struct {
		Columns, Rows, PxW, PxH uint32
	}{uint32(columns), uint32(rows), 0, 0}))
}

// RequestEnv sets an environment variable for the command or shell (RFC
// 4254 §6.4 "env"). sshd refuses names outside its AcceptEnv: that is an
// error matching ErrRequestDenied.
func (ch *Channel) RequestEnv(ctx context.Context, name, value string) error {
	if name == "" || strings.ContainsAny(name, "=\x00") {
		return fmt.Errorf("%w: environment variable name %q", ErrInvalidOption, name)
	}
	return ch.request(ctx, "env", true, gossh.Marshal(struct{ Name, Value string }{name, value}))
}

// RequestSendSignal delivers a signal to the remote process (RFC 4254 §6.9),
// named without the "SIG" prefix: "TERM", "INT", "KILL", ... A "SIG" prefix
// is removed. Like libssh it does not wait for an answer; it waits for the
// connection to take it as ChangePtySize does.
func (ch *Channel) RequestSendSignal(signal string) error {
	signal = strings.TrimPrefix(signal, "SIG")
	if signal == "" || strings.ContainsFunc(signal, func(r rune) bool {
		return !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '@' || r == '.' || r == '-' || r == '_')
	}) {
		return fmt.Errorf("%w: signal name %q", ErrInvalidOption, signal)
	}
	return ch.request(context.Background(), "signal", false, gossh.Marshal(struct{ Signal string }{signal}))
}

// RequestSendBreak sends a break of the given length (RFC 4335). It does
// not wait for an answer; it waits for the connection to take it as
// ChangePtySize does.
func (ch *Channel) RequestSendBreak(length time.Duration) error {
	if length < 0 {
		return fmt.Errorf("%w: negative break length", ErrInvalidOption)
	}
	return ch.request(context.Background(), "break", false, gossh.Marshal(struct{ Ms uint32 }{uint32(length.Milliseconds())}))
}

// RequestX11 asks the server to forward X11 connections (RFC 4254 §6.3.1
// "x11-req"). protocol "" means "MIT-MAGIC-COOKIE-1", and cookie "" a random
// one, as libssh does. The forwarded connections arrive through AcceptX11.
func (ch *Channel) RequestX11(ctx context.Context, singleConnection bool, protocol, cookie string, screen int) error {
	if protocol == "" {
		protocol = "MIT-MAGIC-COOKIE-1"
	}
	if cookie == "" {
		var b [16]byte
		if _, err := rand.Read(b[:]); err != nil {
			return err
		}
		cookie = hex.EncodeToString(b[:])
	}
	if screen < 0 {
		return fmt.Errorf("%w: negative X11 screen", ErrInvalidOption)
	}
	settle := ch.expectIncoming(typeX11) // forward_x11.go: x11 channels are refused unless asked for
	err := ch.request(ctx, "x11-req", true, gossh.Marshal(struct {
		Single   bool
		Protocol string
		Cookie   string
		Screen   uint32
	}{singleConnection, protocol, cookie, uint32(screen)}))
	settle(err)
	return err
}

// RequestAuthAgent asks the server to forward agent connections for this
// session ("auth-agent-req@openssh.com"). The agent channels the server
// then opens go to AcceptAgentForward or, with the ForwardAgent option, to
// the local agent (see EnableAcceptAgentForward).
func (ch *Channel) RequestAuthAgent(ctx context.Context) error {
	settle := ch.expectIncoming(typeAgent) // forward_agent.go: agent channels are refused unless asked for
	err := ch.request(ctx, "auth-agent-req@openssh.com", true, nil)
	settle(err)
	return err
}
