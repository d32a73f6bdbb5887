package sshtest

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"golang.org/x/crypto/ssh"
)

// Authentication method names, as sent on the wire (RFC 4252 §5).
const (
	methodNone                = "none"
	methodPassword            = "password"
	methodPublicKey           = "publickey"
	methodKeyboardInteractive = "keyboard-interactive"
)

// defaultServerVersion is announced when Config.ServerVersion is empty.
const defaultServerVersion = "SSH-2.0-libssh-go-testserver"

// Config configures a Server. The zero value is a usable server with three
// generated host keys (ed25519, ecdsa-sha2-nistp256, rsa 2048), x/crypto's
// default algorithms, and no users, so every login fails.
//
// Start copies the Config; changing it, or the maps and slices it refers to,
// afterwards has no effect on a running Server.
type Config struct {
	// HostKeys are the server's host keys. Nil means three keys generated
	// once per process and shared by every Server that leaves HostKeys nil.
	// Two keys of the same type are not both used: the last one wins, as in
	// x/crypto's ServerConfig.AddHostKey.
	HostKeys []ssh.Signer

	// HostKeyAlgorithms restricts the host key signature algorithms the
	// server offers, e.g. {"rsa-sha2-512"} offers only the RSA key and only
	// with SHA-512. Host keys left with no allowed algorithm are not used,
	// and HostKeys reports only the keys in use; if none is left, Start
	// fails. Nil or empty offers every algorithm of every host key.
	HostKeyAlgorithms []string

	// ServerVersion is the identification string the server sends (RFC
	// 4253 §4.2), without CR LF. Empty means "SSH-2.0-libssh-go-testserver".
	ServerVersion string

	// Banner is sent as SSH_MSG_USERAUTH_BANNER when the client's first
	// authentication request arrives, which with most clients is the
	// "none" probe. Empty sends no banner.
	Banner string

	// BannerRepeat is the number of times Banner is sent, each time in its
	// own SSH_MSG_USERAUTH_BANNER, all before the answer to the first
	// "none" request. Zero means once. Negative means without end, as a
	// hostile server might: that "none" request is never answered, and
	// banners go out as fast as the client reads them until it closes the
	// connection or the Server is closed. It is ignored when Banner is
	// empty. A client reads at most 256 KiB per message (x/crypto's packet
	// limit), so a large total needs a Banner below that and a repeat.
	BannerRepeat int

	// KeyExchanges, Ciphers and MACs restrict the server's algorithms. Nil
	// means x/crypto's defaults; names x/crypto does not implement are
	// ignored.
	KeyExchanges []string
	Ciphers      []string
	MACs         []string

	// Users maps user names to the credentials they may log in with. Nil or
	// empty means no user can log in.
	Users map[string]User

	// AuthSequence works like a single list in OpenSSH's
	// AuthenticationMethods: {"publickey", "keyboard-interactive"} means
	// both must succeed in that order, and the server answers every step
	// but the last with partial success (RFC 4252 §5.1). Only the current
	// step's method is offered. Valid names are "password", "publickey"
	// and "keyboard-interactive".
	//
	// Empty means any one method the user is configured for logs in, and
	// the server offers publickey, password and keyboard-interactive, as a
	// default sshd does. User.NoneAuth is honoured only when AuthSequence
	// is empty.
	AuthSequence []string

	// MaxAuthTries is the number of failed authentication attempts allowed
	// per connection; the initial "none" probe is not counted. Zero means
	// 6, as in OpenSSH; negative means unlimited.
	MaxAuthTries int

	// Fault makes the server misbehave; the zero value, FaultNone, runs
	// the protocol normally. It applies to every connection.
	Fault Fault

	// DropAfter is the number of bytes the server writes on a connection
	// before closing it; it is used only with FaultDropAfterBytes. Zero or
	// negative closes the connection before anything is written.
	DropAfter int

	// StallAfter is the number of bytes the server writes on a connection
	// before it stops sending; it is used only with FaultStallAfterBytes.
	// Zero or negative stalls before anything is written, like FaultSilent
	// but with the server reading the client's packets.
	StallAfter int

	// GlobalRequestsUnimplemented answers every global request (RFC 4254
	// §4), with or without want-reply, with SSH_MSG_UNIMPLEMENTED (RFC 4253
	// §11.4) instead of a success or failure, as tinysshd does. The request
	// never reaches the server's handlers; GlobalRequests still records it
	// (OK false). Like NoExtInfo it makes the server rewrite its packets in
	// flight (rewrite.go), which pins the key exchange to curve25519-sha256
	// and the cipher to aes128-gcm@openssh.com (KeyExchanges and Ciphers
	// are then ignored) and ends the connection at a re-key.
	GlobalRequestsUnimplemented bool

	// NoExtInfo withholds SSH_MSG_EXT_INFO (RFC 8308), so the client learns
	// no server-sig-algs, as with Paramiko 2.12 or OpenSSH before 7.2; a
	// client must then assume ssh-rsa (SHA-1) for RSA keys. It rewrites
	// packets as GlobalRequestsUnimplemented does, with the same pinned
	// algorithms.
	NoExtInfo bool

	// PublicKeyAuthAlgorithms, when not empty, are the only signature
	// algorithms accepted for publickey authentication (x/crypto's
	// ServerConfig.PublicKeyAuthAlgorithms): without "ssh-rsa" the server
	// refuses SHA-1 RSA signatures, as OpenSSH 8.8 and later do by default.
	// Nil accepts every algorithm x/crypto implements, ssh-rsa included.
	PublicKeyAuthAlgorithms []string

	// Exec, if non-nil, runs the commands of "exec" requests and the lines
	// of the built-in shell instead of the built-ins. It may call
	// RunBuiltin to fall back to them. It runs on its own goroutine and
	// must return once ctx.Ctx is done. Its return value is sent as
	// exit-status unless it called ctx.SetExitSignal; then the channel is
	// closed. Nil runs the built-ins.
	Exec func(ctx ExecContext) int

	// Shell, if non-nil, serves "shell" requests (RFC 4254 §6.5) instead
	// of the built-in line shell, which runs each input line through Exec
	// (or the built-ins). It gets the channel as it is: ctx.Command is
	// empty, ctx.Stdin is the client's raw input, with no echo or line
	// editing even when a pty was requested (ctx.Pty says whether one was),
	// and ctx.Stderr is extended data. It runs on its own goroutine and
	// must return once ctx.Ctx is done; its return value is sent as
	// exit-status unless it called ctx.SetExitSignal. Nil serves the
	// built-in shell.
	Shell func(ctx ExecContext) int

	// Subsystems maps subsystem names (RFC 4254 §6.5) to the handlers that
	// serve them, e.g. "sftp". A handler runs on its own goroutine with
	// ctx.Command set to the subsystem name, reads the client's data from
	// ctx.Stdin and writes to ctx.Stdout; it must return once ctx.Ctx is
	// done, and its return value is sent as exit-status. A request for a
	// name not in the map is refused, except "echo-subsystem", which
	// copies its input back unless the map names it too. Nil serves only
	// "echo-subsystem".
	Subsystems map[string]func(ctx ExecContext) int
}

// AddPasswordUser lets user name log in with password, keeping the other
// credentials the user already has in c.Users. It allocates c.Users if it
// is nil.
func (c *Config) AddPasswordUser(name, password string) {
	u := c.Users[name]
	u.Password = password
	c.setUser(name, u)
}

// AddKeyUser lets user name log in with any of keys (publickey
// authentication, RFC 4252 §7), adding them to the keys and other
// credentials the user already has in c.Users. It allocates c.Users if it
// is nil. [NewSigner] makes a key for a test.
func (c *Config) AddKeyUser(name string, keys ...ssh.PublicKey) {
	u := c.Users[name]
	u.AuthorizedKeys = append(slices.Clone(u.AuthorizedKeys), keys...)
	c.setUser(name, u)
}

func (c *Config) setUser(name string, u User) {
	if c.Users == nil {
		c.Users = make(map[string]User)
	}
	c.Users[name] = u
}

// User holds the credentials one user may authenticate with. The zero value
// can use no method.
type User struct {
	// NoneAuth accepts the "none" method, i.e. login without credentials.
	// It is ignored when Config.AuthSequence is set.
	NoneAuth bool

	// Password is the accepted password. Empty refuses password
	// authentication for this user.
	Password string

	// AuthorizedKeys are the public keys accepted for publickey
	// authentication. Nil accepts no plain key.
	AuthorizedKeys []ssh.PublicKey

	// CertAuthorities are CA keys: a user certificate signed by one of
	// them, valid now and listing the user name as a principal, is accepted
	// for publickey authentication. Nil accepts no certificate.
	CertAuthorities []ssh.PublicKey

	// KeyboardInteractive lists the rounds of a keyboard-interactive
	// exchange (RFC 4256); each Round is one SSH_MSG_USERAUTH_INFO_REQUEST
	// and all must be answered correctly. Nil refuses keyboard-interactive
	// for this user at once, without an info request, as OpenSSH does when
	// it has no challenge device. An empty non-nil slice accepts the method
	// without sending any round.
	KeyboardInteractive []Round
}

// Round is one SSH_MSG_USERAUTH_INFO_REQUEST of a keyboard-interactive
// exchange. A Round with no Prompts is valid and is sent as such; OpenSSH
// with PAM sends one, and clients must answer it with zero responses.
type Round struct {
	// Name and Instruction are shown to the user by the client; either
	// may be empty.
	Name, Instruction string

	// Prompts are the questions.
	Prompts []string

	// Echos says, per prompt, whether the client may echo the answer.
	// Missing entries mean false (do not echo); extra entries are ignored.
	Echos []bool

	// Want are the expected answers, one per prompt. Nil accepts any
	// answers.
	Want []string
}

// Fault selects a way for the server to misbehave. The zero value,
// FaultNone, is a well-behaved server.
type Fault int

const (
	// FaultNone runs the protocol normally.
	FaultNone Fault = iota
	// FaultSilent accepts the TCP connection, sends nothing, and reads and
	// discards whatever the client sends until either side closes it.
	FaultSilent
	// FaultPartialVersion sends "SSH-2.0-partial" with no CR LF, then
	// behaves like FaultSilent.
	FaultPartialVersion
	// FaultDropAfterBytes runs the protocol normally but closes the TCP
	// connection once the server has written Config.DropAfter bytes.
	FaultDropAfterBytes
	// FaultGarbage sends bytes that contain no SSH version line, then
	// closes its side of the connection and discards what the client
	// sends until the client closes too.
	FaultGarbage
	// FaultDisconnectInAuth closes the connection when the first
	// authentication request with a method other than "none" arrives.
	FaultDisconnectInAuth
	// FaultStallInAuth stops answering when the first authentication
	// request with a method other than "none" arrives, and stays stalled
	// until the Server is closed.
	FaultStallInAuth
	// FaultStallAfterBytes runs the protocol normally until the server
	// has written Config.StallAfter bytes, then sends nothing more: the
	// connection stays open, the server keeps reading and answering, but
	// its answers are dropped, as behind a network path that died
	// without a reset. It lasts until the client closes the connection
	// or the Server is closed. A client sees a silent server at whatever
	// point the byte count falls: in the version line, the key exchange,
	// authentication or a command's output.
	FaultStallAfterBytes

	faultCount // number of valid values; keep last
)

// String returns the constant's name, for test output.
func (f Fault) String() string {
	switch f {
	case FaultNone:
		return "FaultNone"
	case FaultSilent:
		return "FaultSilent"
	case FaultPartialVersion:
		return "FaultPartialVersion"
	case FaultDropAfterBytes:
		return "FaultDropAfterBytes"
	case FaultGarbage:
		return "FaultGarbage"
	case FaultDisconnectInAuth:
		return "FaultDisconnectInAuth"
	case FaultStallInAuth:
		return "FaultStallInAuth"
	case FaultStallAfterBytes:
		return "FaultStallAfterBytes"
	}
	return fmt.Sprintf("Fault(%d)", int(f))
}

// resolve validates c and returns a private copy with defaults applied,
// together with the host keys to use. It copies every slice and map so
// that later changes by the caller cannot race with the server.
func (c Config) resolve() (Config, []ssh.Signer, error) {
	if c.Fault < FaultNone || c.Fault >= faultCount {
		return Config{}, nil, fmt.Errorf("sshtest: unknown fault %d", int(c.Fault))
	}
	for _, m := range c.AuthSequence {
		switch m {
		case methodPassword, methodPublicKey, methodKeyboardInteractive:
		default:
			return Config{}, nil, fmt.Errorf("sshtest: AuthSequence: unsupported method %q", m)
		}
	}
	if c.ServerVersion == "" {
		c.ServerVersion = defaultServerVersion
	}

	c.HostKeys = slices.Clone(c.HostKeys)
	c.HostKeyAlgorithms = slices.Clone(c.HostKeyAlgorithms)
	c.KeyExchanges = slices.Clone(c.KeyExchanges)
	c.Ciphers = slices.Clone(c.Ciphers)
	c.MACs = slices.Clone(c.MACs)
	c.AuthSequence = slices.Clone(c.AuthSequence)
	c.PublicKeyAuthAlgorithms = slices.Clone(c.PublicKeyAuthAlgorithms)
	c.Subsystems = maps.Clone(c.Subsystems)

	users := make(map[string]User, len(c.Users))
	for name, u := range c.Users {
		u, err := u.clone()
		if err != nil {
			return Config{}, nil, fmt.Errorf("sshtest: user %q: %w", name, err)
		}
		users[name] = u
	}
	c.Users = users

	keys := c.HostKeys
	if keys == nil {
		var err error
		if keys, err = generatedHostKeys(); err != nil {
			return Config{}, nil, err
		}
	}
	keys, err := restrictHostKeys(uniqueHostKeys(keys), c.HostKeyAlgorithms)
	if err != nil {
		return Config{}, nil, err
	}
	if len(keys) == 0 {
		return Config{}, nil, errors.New("sshtest: no usable host key")
	}
	return c, keys, nil
}

// clone returns a deep copy of u after checking its rounds.
func (u User) clone() (User, error) {
	u.AuthorizedKeys = slices.Clone(u.AuthorizedKeys)
	u.CertAuthorities = slices.Clone(u.CertAuthorities)
	if u.KeyboardInteractive != nil {
		rounds := make([]Round, len(u.KeyboardInteractive))
		for i, r := range u.KeyboardInteractive {
			if r.Want != nil && len(r.Want) != len(r.Prompts) {
				return User{}, fmt.Errorf("keyboard-interactive round %d: %d answers wanted for %d prompts",
					i, len(r.Want), len(r.Prompts))
			}
			r.Prompts = slices.Clone(r.Prompts)
			r.Echos = slices.Clone(r.Echos)
			r.Want = slices.Clone(r.Want)
			rounds[i] = r
		}
		u.KeyboardInteractive = rounds
	}
	return u, nil
}
