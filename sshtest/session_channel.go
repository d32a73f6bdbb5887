package sshtest

import (
	"context"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
)

// Payloads of session channel requests (RFC 4254 §6).
type (
	ptyRequestMsg struct {
		Term                      string
		Cols, Rows, Width, Height uint32
		Modes                     string
	}
	windowChangeMsg struct {
		Cols, Rows, Width, Height uint32
	}
	envRequestMsg struct {
		Name, Value string
	}
	execRequestMsg struct {
		Command string
	}
	subsystemRequestMsg struct {
		Name string
	}
	signalMsg struct {
		Signal string
	}
	breakMsg struct {
		Length uint32
	}
	exitStatusMsg struct {
		Status uint32
	}
	exitSignalMsg struct {
		Signal     string
		CoreDumped bool
		Message    string
		Lang       string
	}
)

// echoSubsystem is the one subsystem the server runs.
const echoSubsystem = "echo-subsystem"

// signalBuffer is how many undelivered signals a session keeps.
const signalBuffer = 8

// session is the state of one session channel.
type session struct {
	srv     *Server
	id      int
	user    string
	ch      ssh.Channel
	ctx     context.Context
	signals chan string

	// started is set once exec, shell or subsystem has been accepted;
	// only the request loop touches it.
	started bool

	mu  sync.Mutex // guards env and pty, which commands snapshot
	env map[string]string
	pty *PtyInfo
}

// serveSession answers the channel's requests until the channel closes,
// whether the client, the command or the connection closed it.
func (s *Server) serveSession(parent context.Context, user string, ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer s.wg.Done()
	ctx, cancel := context.WithCancel(parent)
	// Cancelling tells a running command the channel is gone.
	defer cancel()

	se := &session{
		srv:     s,
		id:      int(s.channels.Add(1)),
		user:    user,
		ch:      ch,
		ctx:     ctx,
		signals: make(chan string, signalBuffer),
		env:     make(map[string]string),
	}
	for req := range reqs {
		rec, start := se.handle(req)
		// Record before replying, so a client that has its reply can
		// already see the record.
		s.recordRequest(rec)
		if req.WantReply {
			req.Reply(rec.OK, nil)
		}
		// Start after replying: RFC 4254 §6.5 has the command start
		// once the request succeeded, so no output precedes the reply.
		if start != nil {
			se.started = true
			start()
		}
	}
}

// handle decodes and acts on one request. It returns the record, whose OK
// field is the answer, and for exec, shell and subsystem the function that
// starts the program.
func (se *session) handle(req *ssh.Request) (RequestRecord, func()) {
	rec := RequestRecord{
		Channel:   se.id,
		Type:      req.Type,
		WantReply: req.WantReply,
		Payload:   slices.Clone(req.Payload),
	}
	var start func()
	switch req.Type {
	case "pty-req":
		var m ptyRequestMsg
		if ssh.Unmarshal(req.Payload, &m) != nil {
			break
		}
		rec.OK = true
		rec.Term, rec.Modes = m.Term, []byte(m.Modes)
		rec.Cols, rec.Rows, rec.Width, rec.Height = m.Cols, m.Rows, m.Width, m.Height
		se.mu.Lock()
		se.pty = &PtyInfo{Term: m.Term, Cols: m.Cols, Rows: m.Rows, Width: m.Width, Height: m.Height, Modes: []byte(m.Modes)}
		se.mu.Unlock()
	case "window-change":
		var m windowChangeMsg
		if ssh.Unmarshal(req.Payload, &m) != nil {
			break
		}
		rec.OK = true
		rec.Cols, rec.Rows, rec.Width, rec.Height = m.Cols, m.Rows, m.Width, m.Height
		se.mu.Lock()
		if se.pty != nil {
			p := *se.pty
			p.Cols, p.Rows, p.Width, p.Height = m.Cols, m.Rows, m.Width, m.Height
			se.pty = &p
		}
		se.mu.Unlock()
	case "env":
		var m envRequestMsg
		if ssh.Unmarshal(req.Payload, &m) != nil {
			break
		}
		rec.Name, rec.Value = m.Name, m.Value
		// Refusing some names mimics sshd's AcceptEnv, so clients
		// can be tested against a denied variable.
		if strings.HasPrefix(m.Name, "DENY_") {
			break
		}
		rec.OK = true
		se.mu.Lock()
		se.env[m.Name] = m.Value
		se.mu.Unlock()
	case "exec":
		var m execRequestMsg
		if ssh.Unmarshal(req.Payload, &m) != nil {
			break
		}
		rec.Command = m.Command
		if !se.started {
			rec.OK = true
			start = func() { se.startProgram(se.srv.run, m.Command) }
		}
	case "shell":
		if !se.started {
			rec.OK = true
			prog := se.shell
			if h := se.srv.cfg.Shell; h != nil {
				prog = h
			}
			start = func() { se.startProgram(prog, "") }
		}
	case "subsystem":
		var m subsystemRequestMsg
		if ssh.Unmarshal(req.Payload, &m) != nil {
			break
		}
		rec.Subsystem = m.Name
		if h := se.srv.subsystem(m.Name); !se.started && h != nil {
			rec.OK = true
			start = func() { se.startProgram(h, m.Name) }
		}
	case "signal":
		var m signalMsg
		if ssh.Unmarshal(req.Payload, &m) != nil {
			break
		}
		rec.OK = true
		rec.Signal = m.Signal
		select {
		case se.signals <- m.Signal:
		default:
		}
	case "break":
		var m breakMsg
		if ssh.Unmarshal(req.Payload, &m) != nil {
			break
		}
		rec.OK = true
		rec.BreakLength = m.Length
	case "x11-req", "auth-agent-req@openssh.com":
		// Recorded only: nothing is forwarded.
		rec.OK = true
	}
	return rec, start
}

// execContext snapshots the session's state for a command.
func (se *session) execContext(command string, exit *exitState, stdin io.Reader, stdout, stderr io.Writer) ExecContext {
	se.mu.Lock()
	env := maps.Clone(se.env)
	var pty *PtyInfo
	if se.pty != nil {
		p := *se.pty
		p.Modes = slices.Clone(p.Modes)
		pty = &p
	}
	se.mu.Unlock()
	return ExecContext{
		Ctx:     se.ctx,
		User:    se.user,
		Command: command,
		Env:     env,
		Stdin:   stdin,
		Stdout:  stdout,
		Stderr:  stderr,
		Pty:     pty,
		Signals: se.signals,
		exit:    exit,
	}
}

// startProgram runs prog on its own goroutine and ends the channel when it
// returns.
func (se *session) startProgram(prog func(ExecContext) int, command string) {
	exit := &exitState{}
	ctx := se.execContext(command, exit, se.ch, se.ch, se.ch.Stderr())
	se.srv.wg.Add(1)
	go func() {
		defer se.srv.wg.Done()
		se.finish(prog(ctx), exit)
	}()
}

// finish reports how the program ended and closes the channel. Every write
// of the program has returned by now, so all its output precedes the exit
// message, which precedes EOF and close. Errors are ignored: they only mean
// the client has gone.
func (se *session) finish(status int, exit *exitState) {
	if sig, core, msg, ok := exit.get(); ok {
		// RFC 4254 §6.10: exit-signal carries the signal name without
		// "SIG", whether core was dumped, a message and a language tag.
		se.ch.SendRequest("exit-signal", false, ssh.Marshal(exitSignalMsg{
			Signal: sig, CoreDumped: core, Message: msg,
		}))
	} else {
		se.ch.SendRequest("exit-status", false, ssh.Marshal(exitStatusMsg{Status: uint32(status)}))
	}
	se.ch.CloseWrite()
	se.ch.Close()
}

// subsystem returns the handler for a subsystem name, or nil when the
// server does not serve it.
func (s *Server) subsystem(name string) func(ExecContext) int {
	if h, ok := s.cfg.Subsystems[name]; ok {
		return h
	}
	if name == echoSubsystem {
		return runEchoSubsystem
	}
	return nil
}

// runEchoSubsystem sends back everything it receives until EOF.
func runEchoSubsystem(ctx ExecContext) int {
	if _, err := io.Copy(ctx.Stdout, ctx.Stdin); err != nil {
		return 1
	}
	return 0
}
