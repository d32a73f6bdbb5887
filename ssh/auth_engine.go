package ssh

import (
	"context"
	"errors"
	"fmt"
	"slices"

	gossh "golang.org/x/crypto/ssh"
)

// How step-by-step authentication works on top of x/crypto.
//
// x/crypto runs the whole userauth exchange on the handshake goroutine.
// After its own "none" attempt it calls ClientConfig.AuthCallback before
// every further attempt, with the methods the server allows and the lists of
// methods that failed or partially succeeded so far. Our callback parks the
// handshake goroutine until a Userauth* call hands it one AuthMethod (a
// "step"). The step's outcome is read off what happens next:
//
//   - NewClientConn returns: the step succeeded;
//   - the callback is called again: the step failed, or partially succeeded
//     when PartialSuccessMethods grew;
//   - the keyboard-interactive challenge is called: the server wants
//     answers (AuthInfo);
//   - the connection ends: the step failed with that error.
//
// A step whose caller gave up (ctx, non-blocking mode) stays in flight;
// the next call of the same kind collects its outcome, as libssh's
// SSH_AUTH_AGAIN protocol requires.

// step kinds; a pending step is collected only by a call of its own kind.
const (
	kindNone     = "none"
	kindPassword = "password"
	kindKbdint   = "keyboard-interactive"
	kindAgent    = "agent"
	kindAuto     = "publickey-auto"
	kindTryKey   = "publickey-try"
	kindKey      = "publickey"
)

type authState struct {
	sem chan struct{} // one Userauth call at a time

	next      chan gossh.AuthMethod // to the parked callback
	waiting   bool                  // the callback is parked, waiting for a method
	noneDone  bool                  // x/crypto's "none" attempt has been answered
	succeeded bool
	allowed   []string // the server's allowed methods after the last attempt
	tried     int      // len(TriedMethods) at the last callback
	partial   int      // len(PartialSuccessMethods) at the last callback

	inflight *authStep // the handed-over step whose outcome no caller collected yet
	round    *kbdintRound
	// abandoning: a keyboard-interactive exchange is being ended so that
	// another method can run; its rounds are answered with empty strings.
	abandoning      bool
	abandonedRounds int
	iter            *keyIter // progress of UserauthAgent / UserauthPublicKeyAuto
}

func newAuthState() authState {
	return authState{sem: make(chan struct{}, 1), next: make(chan gossh.AuthMethod)}
}

// authStep is one method handed to x/crypto.
type authStep struct {
	kind         string
	startTried   int
	startPartial int
	accepted     bool  // a probe's key was accepted by the server (UserauthTryPublicKey)
	methodErr    error // an error our own signer or agent hit during the step
	done         chan struct{}
	status       AuthStatus
	err          error
}

func newStep(kind string) *authStep { return &authStep{kind: kind, done: make(chan struct{})} }

func (st *authStep) finished() bool {
	select {
	case <-st.done:
		return true
	default:
		return false
	}
}

func (st *authStep) resolve(status AuthStatus, err error) {
	if !st.finished() {
		st.status, st.err = status, err
		close(st.done)
	}
}

// authCallback is x/crypto's ClientConfig.AuthCallback. It settles the step
// just tried and parks until the next Userauth call.
func (c *conn) authCallback(actx *gossh.ClientAuthContext) (gossh.AuthMethod, error) {
	// x/crypto counts an attempt that died with the connection as a mere
	// failure and asks for the next method, and ClientAuthContext does not
	// say which it was. So before reading "denied" into the attempt, wait
	// until x/crypto's reader shows it is alive: back in a socket read, so
	// it decoded the reply. A reader that stopped on a corrupt packet (MAC
	// failure, a length over x/crypto's limit) leaves the socket open but
	// never reads again, and x/crypto then closes the transport.
	switch err := c.version.awaitReader(c.done); {
	case errors.Is(err, errTransportClosed):
		// With no method (and no ClientConfig.Auth) x/crypto ends the
		// handshake, with the attempt's own error: its reader's, the
		// most precise cause ("ssh: MAC failure", "max packet length
		// exceeded"). handshake() makes it match ErrDisconnected.
		c.log.Warn("connection failed during authentication: x/crypto stopped reading (corrupt or oversized packet)")
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("%w: %w", ErrDisconnected, err)
	}
	c.mu.Lock()
	c.logBannerDropLocked()
	a := &c.auth
	a.abandoning, a.abandonedRounds = false, 0
	a.noneDone = true
	a.allowed = slices.Clone(actx.AllowedMethods)
	c.negotiated = actx.Algorithms
	if st := a.inflight; st != nil && !st.finished() {
		switch {
		case st.accepted:
			st.resolve(AuthSuccess, nil)
		case len(actx.PartialSuccessMethods) > st.startPartial:
			st.resolve(AuthPartial, nil)
		default:
			st.resolve(AuthDenied, st.methodErr)
		}
	}
	a.tried, a.partial = len(actx.TriedMethods), len(actx.PartialSuccessMethods)
	a.waiting = true
	c.notifyLocked()
	c.mu.Unlock()
	select {
	case m := <-a.next:
		return m, nil
	case <-c.done:
		return nil, ErrDisconnected
	}
}

// succeededLocked records that x/crypto finished authentication.
func (a *authState) succeededLocked() {
	a.succeeded = true
	a.noneDone = true
	if a.inflight != nil {
		a.inflight.resolve(AuthSuccess, nil)
	}
}

// failInflightLocked ends a pending step because the connection ended.
func (a *authState) failInflightLocked(err error) {
	if a.inflight != nil {
		a.inflight.resolve(AuthError, err)
	}
}

// callCtx turns non-blocking mode into a context that is already done, with
// ErrAgain as its cause: every wait then returns at once and the operation
// stays in flight, to be collected by the next call.
func (c *conn) callCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if c.sess.IsBlocking() {
		return c.sess.withTimeout(ctx)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	cancel(ErrAgain)
	return ctx, func() {}
}

// authWaitError maps an interrupted wait to libssh's answer: AuthAgain in
// non-blocking mode, an error otherwise.
func authWaitError(ctx context.Context, err error) (AuthStatus, error) {
	if errors.Is(context.Cause(ctx), ErrAgain) {
		return AuthAgain, nil
	}
	if ctx.Err() != nil {
		return AuthError, fmt.Errorf("ssh: authentication: %w", err)
	}
	return AuthError, err
}

// beginAuth checks what every Userauth call needs, and takes the auth lock.
func (s *Session) beginAuth(ctx context.Context, user string) (*conn, func(), error) {
	c, err := s.live()
	if err != nil {
		return nil, nil, err
	}
	if user != "" && user != c.opts.User {
		return nil, nil, fmt.Errorf("%w: x/crypto authenticates the user set before Connect (%q), not %q",
			ErrUnsupported, c.opts.User, user)
	}
	if err := c.requireVerifiedHostKey(); err != nil {
		return nil, nil, err
	}
	select {
	case c.auth.sem <- struct{}{}:
		return c, func() { <-c.auth.sem }, nil
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	case <-c.done:
		return nil, nil, fmt.Errorf("%w: %w", ErrNotConnected, c.closedErr())
	}
}

// settlePending deals with a step some earlier call left in flight. A step
// of the same kind is returned for the caller to collect; any other is
// waited for and dropped, since the server answers one request at a time.
// A keyboard-interactive round waiting for answers is abandoned by any
// other method, as a new userauth request abandons it on the wire.
func (c *conn) settlePending(ctx context.Context, kind string) (*authStep, error) {
	c.mu.Lock()
	st, round := c.auth.inflight, c.auth.round
	if round != nil && kind != kindKbdint {
		c.auth.abandoning, c.auth.round = true, nil
		round.abandon()
	}
	c.mu.Unlock()
	if st == nil {
		return nil, nil
	}
	if err := awaitStep(ctx, st); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.auth.inflight == st {
		c.auth.inflight = nil
	}
	if st.kind == kind {
		return st, nil
	}
	return nil, nil
}

// runStep hands method to the parked callback and waits for the outcome.
func (c *conn) runStep(ctx context.Context, st *authStep, method gossh.AuthMethod) (AuthStatus, error) {
	a := &c.auth
	err := c.waitFor(ctx, func() bool { return a.waiting || a.succeeded })
	if err != nil {
		return authWaitError(ctx, err)
	}
	c.mu.Lock()
	if a.succeeded {
		c.mu.Unlock()
		return AuthSuccess, nil
	}
	st.startTried, st.startPartial = a.tried, a.partial
	a.inflight, a.waiting = st, false
	c.notifyLocked()
	c.mu.Unlock()
	select {
	case a.next <- method: // the callback is parked, so this does not wait
	case <-c.done:
		return AuthError, fmt.Errorf("%w: %w", ErrNotConnected, c.closedErr())
	}
	return c.collect(ctx, st)
}

// collect waits for a step's outcome and hands it to the caller.
func (c *conn) collect(ctx context.Context, st *authStep) (AuthStatus, error) {
	if err := awaitStep(ctx, st); err != nil {
		return authWaitError(ctx, err)
	}
	c.mu.Lock()
	if c.auth.inflight == st {
		c.auth.inflight = nil
	}
	c.mu.Unlock()
	c.log.Info("userauth step", "method", st.kind, "status", st.status, "err", st.err)
	return st.status, st.err
}

// awaitStep waits for st to finish. A finished step wins over a done ctx,
// so a non-blocking call collects an outcome that is already there.
func awaitStep(ctx context.Context, st *authStep) error {
	select {
	case <-st.done:
		return nil
	default:
	}
	select {
	case <-st.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// authCall runs body as one Userauth call: the checks and the auth lock of
// beginAuth, and a ctx that is already done in non-blocking mode.
func (s *Session) authCall(ctx context.Context, user string, body func(c *conn, ctx context.Context) (AuthStatus, error)) (AuthStatus, error) {
	c, release, err := s.beginAuth(ctx, user)
	if err != nil {
		return AuthError, err
	}
	defer release()
	callCtx, cancel := c.callCtx(ctx)
	defer cancel()
	return body(c, callCtx)
}

// simpleStep is the whole life of a one-shot method: lock, settle, run.
func (s *Session) simpleStep(ctx context.Context, user, kind string, method func(*conn, *authStep) gossh.AuthMethod) (AuthStatus, error) {
	return s.authCall(ctx, user, func(c *conn, ctx context.Context) (AuthStatus, error) {
		return c.simpleStepLocked(ctx, kind, method)
	})
}

func (c *conn) simpleStepLocked(ctx context.Context, kind string, method func(*conn, *authStep) gossh.AuthMethod) (AuthStatus, error) {
	prev, err := c.settlePending(ctx, kind)
	if err != nil {
		return authWaitError(ctx, err)
	}
	if prev != nil {
		return prev.status, prev.err
	}
	if c.authSucceeded() {
		return AuthSuccess, nil
	}
	st := newStep(kind)
	return c.runStep(ctx, st, method(c, st))
}

func (c *conn) authSucceeded() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.auth.succeeded
}
