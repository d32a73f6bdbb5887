package sshtest

import (
	"bytes"
	"errors"
	"net"
	"slices"

	"golang.org/x/crypto/ssh"
)

var (
	errAuthFailed      = errors.New("sshtest: authentication failed")
	errNoneRefused     = errors.New("sshtest: none authentication refused")
	errFaultDisconnect = errors.New("sshtest: fault: disconnected during authentication")
)

// allMethods are offered when Config.AuthSequence is empty, in the order a
// default OpenSSH sshd lists them.
var allMethods = []string{methodPublicKey, methodPassword, methodKeyboardInteractive}

// authState is the authentication state of one connection. x/crypto calls
// every callback from the goroutine running ssh.NewServerConn, one at a
// time, so the fields need no lock.
type authState struct {
	srv   *Server
	raw   net.Conn              // the TCP connection, for FaultDisconnectInAuth
	queue *queuedConn           // its write queue, for BannerRepeat's back pressure
	pre   ssh.ServerPreAuthConn // for BannerRepeat's extra banners

	bannersSent bool // BannerRepeat's banners went out (or failed)

	step    int  // index of the current Config.AuthSequence step
	faulted bool // the auth fault has struck on this connection

	// What the client sent in the attempt being processed, for log.
	password  string
	key       ssh.PublicKey
	responses []string
}

// methods returns the methods offered at the given step.
func (a *authState) methods(step int) []string {
	seq := a.srv.cfg.AuthSequence
	if len(seq) == 0 {
		return allMethods
	}
	return seq[step : step+1]
}

// callbacks returns the x/crypto callbacks for the given step; x/crypto
// offers exactly the methods whose callback is set.
func (a *authState) callbacks(step int) ssh.ServerAuthCallbacks {
	var cb ssh.ServerAuthCallbacks
	for _, m := range a.methods(step) {
		switch m {
		case methodPassword:
			cb.PasswordCallback = a.passwordCallback
		case methodPublicKey:
			cb.PublicKeyCallback = a.publicKeyCallback
		case methodKeyboardInteractive:
			cb.KeyboardInteractiveCallback = a.keyboardInteractiveCallback
		}
	}
	return cb
}

// succeed completes the current step: with more steps to go it answers
// partial success (RFC 4252 §5.1) and moves to the next step.
func (a *authState) succeed() (*ssh.Permissions, error) {
	if a.step+1 >= len(a.srv.cfg.AuthSequence) {
		return nil, nil
	}
	a.step++
	return nil, &ssh.PartialSuccessError{Next: a.callbacks(a.step)}
}

// fault applies FaultDisconnectInAuth or FaultStallInAuth the first time a
// method other than "none" is attempted on the connection.
func (a *authState) fault() error {
	if a.faulted {
		return nil
	}
	a.faulted = true
	switch a.srv.cfg.Fault {
	case FaultDisconnectInAuth:
		a.raw.Close()
		return errFaultDisconnect
	case FaultStallInAuth:
		<-a.srv.ctx.Done()
		return ErrServerClosed
	}
	return nil
}

func (a *authState) user(conn ssh.ConnMetadata) (User, bool) {
	u, ok := a.srv.cfg.Users[conn.User()]
	return u, ok
}

// none decides the "none" method, which x/crypto routes here because
// NoClientAuth is set.
func (a *authState) none(conn ssh.ConnMetadata) (*ssh.Permissions, error) {
	if err := a.repeatBanner(); err != nil {
		return nil, err
	}
	if u, ok := a.user(conn); ok && u.NoneAuth && len(a.srv.cfg.AuthSequence) == 0 {
		return nil, nil
	}
	return nil, errNoneRefused
}

func (a *authState) passwordCallback(conn ssh.ConnMetadata, password []byte) (*ssh.Permissions, error) {
	a.password = string(password)
	if err := a.fault(); err != nil {
		return nil, err
	}
	if u, ok := a.user(conn); ok && u.Password != "" && u.Password == string(password) {
		return a.succeed()
	}
	return nil, errAuthFailed
}

// publicKeyCallback says whether key may log in. x/crypto calls it both for
// queries and for signed requests (caching the answer for the last key), and
// verifies the signature itself before calling verifiedPublicKey.
func (a *authState) publicKeyCallback(conn ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
	a.key = key
	if err := a.fault(); err != nil {
		return nil, err
	}
	u, ok := a.user(conn)
	if !ok {
		return nil, errAuthFailed
	}
	wire := key.Marshal()
	for _, k := range u.AuthorizedKeys {
		if bytes.Equal(k.Marshal(), wire) {
			return nil, nil
		}
	}
	if _, isCert := key.(*ssh.Certificate); isCert && len(u.CertAuthorities) > 0 {
		checker := &ssh.CertChecker{
			IsUserAuthority: func(auth ssh.PublicKey) bool {
				return slices.ContainsFunc(u.CertAuthorities, func(ca ssh.PublicKey) bool {
					return bytes.Equal(ca.Marshal(), auth.Marshal())
				})
			},
		}
		// Authenticate checks the principal, validity period and
		// source-address option. The certificate's permissions are
		// dropped: x/crypto forbids permissions with partial success.
		if _, err := checker.Authenticate(conn, key); err == nil {
			return nil, nil
		}
	}
	return nil, errAuthFailed
}

// verifiedPublicKey runs once the client has proved it holds an accepted key.
// Partial success is decided here because x/crypto does not allow
// PublicKeyCallback to return it when this callback is set.
func (a *authState) verifiedPublicKey(ssh.ConnMetadata, ssh.PublicKey, *ssh.Permissions, string) (*ssh.Permissions, error) {
	return a.succeed()
}

func (a *authState) keyboardInteractiveCallback(conn ssh.ConnMetadata, challenge ssh.KeyboardInteractiveChallenge) (*ssh.Permissions, error) {
	a.responses = nil
	if err := a.fault(); err != nil {
		return nil, err
	}
	u, ok := a.user(conn)
	if !ok || u.KeyboardInteractive == nil {
		return nil, errAuthFailed
	}
	for _, r := range u.KeyboardInteractive {
		// x/crypto needs one echo flag per prompt.
		echos := make([]bool, len(r.Prompts))
		copy(echos, r.Echos)
		answers, err := challenge(r.Name, r.Instruction, r.Prompts, echos)
		if err != nil {
			return nil, err
		}
		a.responses = append(a.responses, answers...)
		if r.Want != nil && !slices.Equal(answers, r.Want) {
			return nil, errAuthFailed
		}
	}
	return a.succeed()
}

// log records every answered attempt. x/crypto calls it after the method's
// callback and before sending the answer.
func (a *authState) log(conn ssh.ConnMetadata, method string, err error) {
	at := AuthAttempt{User: conn.User(), Method: method, Success: err == nil}
	var partial *ssh.PartialSuccessError
	at.Partial = errors.As(err, &partial)

	switch method {
	case methodPassword:
		at.Password = a.password
	case methodPublicKey:
		// x/crypto does not call PublicKeyCallback again for the key
		// it last asked about, so a.key is the key of this attempt,
		// provided publickey was offered at the step the attempt was
		// made in (before a partial success moved to the next step).
		step := a.step
		if at.Partial {
			step--
		}
		if a.key != nil && slices.Contains(a.methods(step), methodPublicKey) {
			at.KeyType = a.key.Type()
			at.KeyFingerprint = ssh.FingerprintSHA256(a.key)
		}
	case methodKeyboardInteractive:
		at.Responses = a.responses
	}
	a.password, a.responses = "", nil
	a.srv.recordAuth(at)
}

// repeatBanner sends the banners of Config.BannerRepeat after the one
// x/crypto sent (BannerCallback), the first time "none" is tried. Each
// waits until the one before reached the network, so a client that reads
// slowly slows the server down instead of growing its queue.
func (a *authState) repeatBanner() error {
	cfg := a.srv.cfg
	if a.bannersSent || cfg.Banner == "" || cfg.BannerRepeat == 0 || cfg.BannerRepeat == 1 || a.pre == nil {
		return nil
	}
	a.bannersSent = true
	for n := 1; cfg.BannerRepeat < 0 || n < cfg.BannerRepeat; n++ {
		if err := a.queue.waitFlushed(); err != nil {
			return err
		}
		if err := a.srv.ctx.Err(); err != nil {
			return ErrServerClosed
		}
		if err := a.pre.SendAuthBanner(cfg.Banner); err != nil {
			return err
		}
	}
	return nil
}
