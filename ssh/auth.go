package ssh

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	gossh "golang.org/x/crypto/ssh"
)

// AuthStatus is the outcome of one authentication step (libssh's
// ssh_auth_e). The zero value is AuthError, which always comes with an
// error.
type AuthStatus int

// The authentication outcomes.
const (
	AuthError   AuthStatus = iota // the step failed with an error (see the error returned)
	AuthSuccess                   // authenticated: channels can be opened
	AuthDenied                    // refused; try another method
	AuthPartial                   // accepted, but the server wants another method too
	AuthInfo                      // keyboard-interactive: answer the prompts, then call again
	AuthAgain                     // non-blocking mode: not finished, call again
)

// String is the status in lowercase words ("success", "denied", ...).
func (a AuthStatus) String() string {
	names := [...]string{"error", "success", "denied", "partial", "info", "again"}
	if a < 0 || int(a) >= len(names) {
		return "AuthStatus(" + strconv.Itoa(int(a)) + ")"
	}
	return names[a]
}

// AuthMethods is the set of methods the server allows (libssh's
// SSH_AUTH_METHOD_* bits). The zero value is the empty set.
type AuthMethods uint

// The method bits, with libssh's values.
const (
	AuthMethodNone        AuthMethods = 0x01
	AuthMethodPassword    AuthMethods = 0x02
	AuthMethodPublicKey   AuthMethods = 0x04
	AuthMethodHostBased   AuthMethods = 0x08
	AuthMethodInteractive AuthMethods = 0x10
	AuthMethodGSSAPIMic   AuthMethods = 0x20
)

var authMethodNames = []struct {
	bit  AuthMethods
	name string
}{
	{AuthMethodNone, "none"}, {AuthMethodPassword, "password"}, {AuthMethodPublicKey, "publickey"},
	{AuthMethodHostBased, "hostbased"}, {AuthMethodInteractive, "keyboard-interactive"},
	{AuthMethodGSSAPIMic, "gssapi-with-mic"},
}

// Has reports whether all bits of m are set.
func (a AuthMethods) Has(m AuthMethods) bool { return a&m == m && m != 0 }

// String lists the methods as the protocol names them, comma-separated.
func (a AuthMethods) String() string {
	var names []string
	for _, n := range authMethodNames {
		if a.Has(n.bit) {
			names = append(names, n.name)
		}
	}
	return strings.Join(names, ",")
}

func parseAuthMethods(names []string) AuthMethods {
	var m AuthMethods
	for _, name := range names {
		for _, n := range authMethodNames {
			if n.name == name {
				m |= n.bit
			}
		}
	}
	return m
}

// InteractiveAuthInfo is one keyboard-interactive round: what to show and
// what to ask.
type InteractiveAuthInfo struct {
	Name        string
	Instruction string
	Prompts     []InteractiveAuthPrompt // may be empty: OpenSSH's PAM sends a last round with none
}

// InteractiveAuthPrompt is one question of a round.
type InteractiveAuthPrompt struct {
	Prompt string
	Echo   bool // whether the answer may be shown as it is typed
}

// UserauthNone tries the "none" method (libssh ssh_userauth_none). The
// server almost always refuses it, but the refusal tells which methods it
// allows (UserauthList) and brings the issue banner (IssueBanner).
// x/crypto sends "none" itself once the host key is accepted; this call
// reports its outcome. user "" means the configured user; another name
// fails with ErrUnsupported, because x/crypto authenticates one user.
func (s *Session) UserauthNone(ctx context.Context, user string) (AuthStatus, error) {
	return s.authCall(ctx, user, func(c *conn, ctx context.Context) (AuthStatus, error) {
		a := &c.auth
		if err := c.waitFor(ctx, func() bool { return a.noneDone }); err != nil {
			return authWaitError(ctx, err)
		}
		if c.authSucceeded() {
			return AuthSuccess, nil
		}
		return AuthDenied, nil
	})
}

// UserauthList returns the methods the server allows (libssh
// ssh_userauth_list). It is empty until UserauthNone was answered, and
// refreshed after every failure or partial success. It does not wait.
func (s *Session) UserauthList(user string) (AuthMethods, error) {
	c, err := s.live()
	if err != nil {
		return 0, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return parseAuthMethods(c.auth.allowed), nil
}

// UserauthPassword tries password authentication (libssh
// ssh_userauth_password).
func (s *Session) UserauthPassword(ctx context.Context, user, password string) (AuthStatus, error) {
	return s.simpleStep(ctx, user, kindPassword, func(*conn, *authStep) gossh.AuthMethod {
		return gossh.Password(password)
	})
}

// kbdintRound is a keyboard-interactive round the server sent; the handshake
// goroutine waits in the challenge until answers or an abandon arrive.
type kbdintRound struct {
	info    InteractiveAuthInfo
	answers []string      // set by UserauthKeyboardInteractiveSetAnswers
	reply   chan []string // buffered; receives the answers once
	gone    chan struct{} // closed when another method abandons the round
	once    sync.Once
}

func (r *kbdintRound) abandon() { r.once.Do(func() { close(r.gone) }) }

// maxAbandonRounds bounds the empty answers sent to end an abandoned
// keyboard-interactive exchange, against a server that never gives up.
const maxAbandonRounds = 8

var errRoundAbandoned = errors.New("ssh: keyboard-interactive exchange abandoned for another method")

// kbdintChallenge is the x/crypto keyboard-interactive callback: it turns a
// round into AuthInfo for the waiting call and parks for the answers.
func (c *conn) kbdintChallenge(name, instruction string, questions []string, echos []bool) ([]string, error) {
	round := &kbdintRound{
		info:  newInteractiveAuthInfo(name, instruction, questions, echos),
		reply: make(chan []string, 1),
		gone:  make(chan struct{}),
	}
	c.mu.Lock()
	if c.auth.abandoning {
		// RFC 4256 lets a new request abort the exchange, but servers
		// built on x/crypto then swallow that request; answering with
		// empty strings ends the exchange with a plain failure everywhere.
		c.auth.abandonedRounds++
		n := c.auth.abandonedRounds
		c.mu.Unlock()
		if n > maxAbandonRounds {
			return nil, errRoundAbandoned
		}
		return make([]string, len(questions)), nil
	}
	c.auth.round = round
	if st := c.auth.inflight; st != nil {
		st.resolve(AuthInfo, nil)
	}
	c.notifyLocked()
	c.mu.Unlock()
	select {
	case answers := <-round.reply:
		return answers, nil
	case <-round.gone:
		return make([]string, len(questions)), nil
	case <-c.done:
		return nil, ErrDisconnected
	}
}

// newInteractiveAuthInfo is a round as x/crypto hands it over (RFC 4256
// §3.2, prompts and echo flags already split): one prompt per question, and
// a question without an echo flag is not echoed.
func newInteractiveAuthInfo(name, instruction string, questions []string, echos []bool) InteractiveAuthInfo {
	info := InteractiveAuthInfo{Name: name, Instruction: instruction}
	for i, q := range questions {
		info.Prompts = append(info.Prompts, InteractiveAuthPrompt{Prompt: q, Echo: i < len(echos) && echos[i]})
	}
	return info
}

// UserauthKeyboardInteractive starts keyboard-interactive authentication,
// or, when a round's answers were set, sends them (libssh
// ssh_userauth_kbdint). AuthInfo means a round is waiting: read it with
// UserauthKeyboardInteractiveInfo, answer with
// UserauthKeyboardInteractiveSetAnswers and call this again. subMethods is
// not sent: x/crypto always sends an empty submethods field.
func (s *Session) UserauthKeyboardInteractive(ctx context.Context, user, subMethods string) (AuthStatus, error) {
	return s.authCall(ctx, user, func(c *conn, ctx context.Context) (AuthStatus, error) {
		c.mu.Lock()
		round, pending := c.auth.round, c.auth.inflight
		if round != nil && pending == nil {
			// The round was reported; answer it. Missing answers go as "".
			answers := make([]string, len(round.info.Prompts))
			copy(answers, round.answers)
			st := newStep(kindKbdint)
			st.startTried, st.startPartial = c.auth.tried, c.auth.partial
			c.auth.inflight, c.auth.round = st, nil
			c.notifyLocked()
			c.mu.Unlock()
			round.reply <- answers
			return c.collect(ctx, st)
		}
		c.mu.Unlock()
		return c.simpleStepLocked(ctx, kindKbdint, func(c *conn, _ *authStep) gossh.AuthMethod {
			return gossh.KeyboardInteractive(c.kbdintChallenge)
		})
	})
}

// UserauthKeyboardInteractiveInfo returns the round waiting for answers
// after UserauthKeyboardInteractive returned AuthInfo. It does not wait.
func (s *Session) UserauthKeyboardInteractiveInfo() (InteractiveAuthInfo, error) {
	c, err := s.live()
	if err != nil {
		return InteractiveAuthInfo{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.auth.round == nil {
		return InteractiveAuthInfo{}, errNoRound
	}
	info := c.auth.round.info
	info.Prompts = append([]InteractiveAuthPrompt(nil), info.Prompts...)
	return info, nil
}

var errNoRound = fmt.Errorf("%w: no keyboard-interactive round is waiting for answers", ErrAuth)

// UserauthKeyboardInteractiveSetAnswers records the answers to the waiting
// round, in prompt order; they are sent by the next
// UserauthKeyboardInteractive call. Fewer answers than prompts are padded
// with ""; more answers than prompts are refused.
func (s *Session) UserauthKeyboardInteractiveSetAnswers(answers []string) error {
	c, err := s.live()
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	round := c.auth.round
	if round == nil {
		return errNoRound
	}
	if len(answers) > len(round.info.Prompts) {
		return fmt.Errorf("%w: %d answers for %d prompts", ErrAuth, len(answers), len(round.info.Prompts))
	}
	round.answers = append([]string(nil), answers...)
	return nil
}
