package ssh

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Options is the resolved configuration of a Session: what Session.Options
// returns, with every default filled in. It is a plain value; changing a copy
// changes nothing in the session (use SetOption for that).
type Options struct {
	Host        string // Hostname; "" until set (Connect then fails with ErrHostnameRequired)
	Port        int    // default 22
	User        string // default: the local user running the program
	BindAddress string // local address to dial from; "" = any
	SSHDir      string // default ~/.ssh

	KnownHosts       []string // user known_hosts files; default SSHDir/known_hosts, SSHDir/known_hosts2
	GlobalKnownHosts []string // default /etc/ssh/ssh_known_hosts, /etc/ssh/ssh_known_hosts2

	Identities       []string // AddIdentity and config IdentityFile values, in order
	CertificateFiles []string // CertificateFile values, in order
	IdentityAgent    string   // agent socket; "" = $SSH_AUTH_SOCK; "none" disables the agent
	IdentitiesOnly   bool

	ProxyCommand string // "" or "none" = no proxy command
	ProxyJump    string // "" or "none" = no jump host

	// Timeout bounds Connect (TCP connect plus handshake) and each
	// authentication step. Zero means no limit beyond the caller's ctx.
	Timeout time.Duration

	KeyExchanges           []string // negotiated algorithm lists, in preference order
	HostKeyAlgorithms      []string
	PublicKeyAcceptedTypes []string
	CiphersCS, CiphersSC   []string
	HmacCS, HmacSC         []string

	StrictHostKeyChecking    string // "ask" (default), "yes", "accept-new", "no" or "off"
	HashKnownHosts           bool
	HostKeyAlias             string   // the name known_hosts lookups use instead of the host; "" = none
	CheckHostIP              bool     // also check the server's address in known_hosts; default false
	PreferredAuthentications []string // empty = the server's order
	ServerAliveInterval      time.Duration
	ServerAliveCountMax      int // default 3
	ForwardAgent             bool
	ProcessConfig            bool // default true: Connect reads ssh_config unless already parsed

	// Resolved from ssh_config, or set with the constructors of
	// options_config.go. The library records them; the ones it acts on
	// say so in their constructor's documentation.
	ForwardAgentSocket           string // ForwardAgent given as a socket path; "" = the agent in use
	AddressFamily                string // "any" (default), "inet" or "inet6"
	BatchMode                    bool   // never ask the AuthCallback (ProxyJump hops)
	PubkeyAuthentication         bool   // default true
	PasswordAuthentication       bool   // default true
	KbdInteractiveAuthentication bool   // default true
	NumberOfPasswordPrompts      int    // default 3
	SendEnv                      []string
	SetEnv                       []string // "NAME=value"
	RequestTTY                   string   // "auto" (default), "yes", "no" or "force"
	LocalForwards                []Forward
	RemoteForwards               []Forward
	DynamicForwards              []Forward
	RekeyLimitBytes              int64         // 0 = the cipher's default
	RekeyLimitInterval           time.Duration // 0 = none
	ControlMaster                string        // "no" (default), "auto", "autoask", "yes" or "ask"; see ControlMaster
	ControlPath                  string        // an OpenSSH ControlMaster socket; "" or "none" = none

	LogLevel LogVerbosity // default LogNoLogging
	Logger   *slog.Logger // nil = no logging
	Socket   net.Conn     // an already-connected transport; nil = dial Host:Port

	// Which directions the caller set; they share one list in x/crypto.
	cipherSet, macSet [2]bool

	// ssh_config state: whether a parse ran, with which path argument, the
	// host name it resolved (%n), and the system file ("" = /etc/ssh/ssh_config).
	configParsed bool
	configPath   string
	configHost   string
	systemConfig string
	jumpDepth    int // how deep in ProxyJump chains this session is a hop
}

// Option is one setting for Session.SetOption, made by the constructors in
// this file (Hostname, Port, User, ...). The zero Option does nothing.
type Option struct {
	name  string
	apply func(*Options) error
}

// LogVerbosity is libssh's verbosity, mapped onto slog levels: Warning onto
// slog.LevelWarn, Protocol onto slog.LevelInfo, Packet onto slog.LevelDebug
// and Functions onto slog.LevelDebug-4. The zero value logs nothing.
type LogVerbosity int

// The libssh log levels (libssh-rs LogLevel).
const (
	LogNoLogging LogVerbosity = iota
	LogWarning
	LogProtocol
	LogPacket
	LogFunctions
)

func (l LogVerbosity) slogLevel() slog.Level {
	switch l {
	case LogWarning:
		return slog.LevelWarn
	case LogProtocol:
		return slog.LevelInfo
	case LogPacket:
		return slog.LevelDebug
	default:
		return slog.LevelDebug - 4
	}
}

func invalid(name, value string, format string, args ...any) error {
	return &OptionError{Option: name, Value: value, Err: fmt.Errorf(format, args...)}
}

// Hostname sets the host to connect to (libssh SSH_OPTIONS_HOST). As in
// libssh, "user@host" also sets the user. An IPv6 address may be given bare
// or in brackets.
//
// A port is not part of the value: libssh parses SSH_OPTIONS_HOST with
// ssh_config_parse_uri(..., ignore_port) and never takes a port from it, so
// "user@host:2222" would only fail later, at Connect, naming a host that
// does not exist. SetOption refuses such a value (and "[::1]:2222", and URIs)
// with an *OptionError that says to set the port with Port, and a name
// starting with '-'.
func Hostname(host string) Option {
	return Option{"Hostname", func(o *Options) error {
		h, user := host, ""
		if at := strings.LastIndexByte(h, '@'); at >= 0 {
			user, h = h[:at], h[at+1:]
			if err := validUser(user); err != nil {
				return &OptionError{Option: "Hostname", Value: host, Err: err}
			}
		}
		withPort := func(name, port string) error {
			if n, err := strconv.Atoi(port); err == nil && n > 0 && n <= 65535 {
				return invalid("Hostname", host, "%q carries a port: give the host alone and the port with Port(%d)", name+":"+port, n)
			}
			return invalid("Hostname", host, "%q is neither a host name nor an IPv6 address (a port goes in the Port option)", h)
		}
		if strings.HasPrefix(h, "[") {
			inner, rest, ok := strings.Cut(h[1:], "]")
			switch {
			case !ok:
				return invalid("Hostname", host, "unterminated [")
			case strings.HasPrefix(rest, ":"):
				return withPort(h[:len(inner)+2], rest[1:])
			case rest != "":
				return invalid("Hostname", host, "junk after ]")
			}
			h = inner
		} else if i := strings.LastIndexByte(h, ':'); i >= 0 {
			// Colons belong only to IPv6 addresses (with an optional zone).
			if _, err := netip.ParseAddr(h); err != nil {
				return withPort(h[:i], h[i+1:])
			}
		}
		if h == "" || strings.ContainsFunc(h, badNameRune) {
			return invalid("Hostname", host, "empty, or contains white space or control characters")
		}
		// As OpenSSH's valid_hostname and libssh: a name starting with '-'
		// is an option that ended up in the wrong place ("whoami -h").
		if strings.HasPrefix(h, "-") {
			return invalid("Hostname", host, "a host name does not start with '-'")
		}
		if user != "" {
			o.User = user
		}
		o.Host = h
		return nil
	}}
}

// badNameRune reports characters that never belong in a host or user name
// and that would let a value smuggle extra words into a command line or a
// known_hosts entry.
func badNameRune(r rune) bool {
	return r <= ' ' || r == 0x7f
}

func validUser(u string) error {
	if u == "" || strings.ContainsFunc(u, badNameRune) {
		return fmt.Errorf("empty, or contains white space or control characters")
	}
	return nil
}

// Port sets the TCP port, 1 to 65535 (libssh SSH_OPTIONS_PORT).
func Port(port int) Option {
	return Option{"Port", func(o *Options) error {
		if port < 1 || port > 65535 {
			return invalid("Port", strconv.Itoa(port), "must be 1..65535")
		}
		o.Port = port
		return nil
	}}
}

// User sets the login name (libssh SSH_OPTIONS_USER).
func User(name string) Option {
	return Option{"User", func(o *Options) error {
		if err := validUser(name); err != nil {
			return &OptionError{Option: "User", Value: name, Err: err}
		}
		o.User = name
		return nil
	}}
}

// LogLevel sets libssh's verbosity (libssh SSH_OPTIONS_LOG_VERBOSITY).
// Messages go to the Logger option, or to slog.Default() when none is set.
func LogLevel(level LogVerbosity) Option {
	return Option{"LogLevel", func(o *Options) error {
		if level < LogNoLogging || level > LogFunctions {
			return invalid("LogLevel", strconv.Itoa(int(level)), "unknown level")
		}
		o.LogLevel = level
		return nil
	}}
}

// Logger sends the session's log messages to l, filtered by LogLevel. nil
// means slog.Default() when a LogLevel is set.
func Logger(l *slog.Logger) Option {
	return Option{"Logger", func(o *Options) error { o.Logger = l; return nil }}
}

// Socket makes Connect run the protocol over conn, an already-connected
// transport, instead of dialling (libssh SSH_OPTIONS_FD). The session owns
// conn from then on and closes it on Disconnect. nil clears it.
func Socket(conn net.Conn) Option {
	return Option{"Socket", func(o *Options) error { o.Socket = conn; return nil }}
}

// BindAddress sets the local address Connect dials from
// (libssh SSH_OPTIONS_BINDADDR).
func BindAddress(addr string) Option {
	return Option{"BindAddress", func(o *Options) error {
		if addr != "" && net.ParseIP(strings.Trim(addr, "[]")) == nil {
			if strings.ContainsFunc(addr, badNameRune) {
				return invalid("BindAddress", addr, "not an address")
			}
		}
		o.BindAddress = addr
		return nil
	}}
}

// SSHDir sets the directory holding the user's keys and known_hosts
// (libssh SSH_OPTIONS_SSH_DIR). "~" is expanded.
func SSHDir(dir string) Option {
	return pathOption("SSHDir", dir, func(o *Options, p string) {
		o.SSHDir = p
		o.KnownHosts = defaultKnownHosts(p)
	})
}

// KnownHosts sets the user known_hosts file (libssh SSH_OPTIONS_KNOWNHOSTS).
func KnownHosts(path string) Option {
	return pathOption("KnownHosts", path, func(o *Options, p string) { o.KnownHosts = []string{p} })
}

// GlobalKnownHosts sets the system-wide known_hosts file
// (libssh SSH_OPTIONS_GLOBAL_KNOWNHOSTS). It is only ever read.
func GlobalKnownHosts(path string) Option {
	return pathOption("GlobalKnownHosts", path, func(o *Options, p string) { o.GlobalKnownHosts = []string{p} })
}

// AddIdentity appends a private key file to the identities that
// UserauthPublicKeyAuto tries (libssh SSH_OPTIONS_ADD_IDENTITY).
func AddIdentity(path string) Option {
	return pathOption("AddIdentity", path, func(o *Options, p string) { o.Identities = append(o.Identities, p) })
}

// CertificateFile appends a certificate to use with the identities
// (OpenSSH CertificateFile).
func CertificateFile(path string) Option {
	return pathOption("CertificateFile", path, func(o *Options, p string) {
		o.CertificateFiles = append(o.CertificateFiles, p)
	})
}

func pathOption(name, path string, set func(*Options, string)) Option {
	return Option{name, func(o *Options) error {
		if path == "" || strings.ContainsRune(path, 0) {
			return invalid(name, path, "empty path")
		}
		set(o, expandHome(path))
		return nil
	}}
}

// ProxyCommand sets a command whose stdin and stdout carry the connection
// (libssh SSH_OPTIONS_PROXYCOMMAND). "none" clears it.
func ProxyCommand(command string) Option {
	return Option{"ProxyCommand", func(o *Options) error {
		if strings.ContainsRune(command, 0) {
			return invalid("ProxyCommand", command, "contains NUL")
		}
		o.ProxyCommand = command
		return nil
	}}
}

// ProxyJump sets the jump hosts, "[user@]host[:port]" separated by commas
// (OpenSSH ProxyJump). "none" clears it. Connect refuses, before dialling,
// a chain OpenSSH refuses as a "jumphost loop": the last hop, as written,
// naming the destination (same host, port and user), or a hop naming the
// one after it.
func ProxyJump(jumps string) Option {
	return Option{"ProxyJump", func(o *Options) error {
		if strings.ContainsFunc(jumps, func(r rune) bool { return r < ' ' || r == ' ' }) {
			return invalid("ProxyJump", jumps, "contains white space or control characters")
		}
		o.ProxyJump = jumps
		return nil
	}}
}

// Timeout bounds Connect as a whole (TCP connect and handshake) and each
// authentication step (libssh SSH_OPTIONS_TIMEOUT). Zero means no limit
// beyond the caller's ctx.
func Timeout(d time.Duration) Option {
	return Option{"Timeout", func(o *Options) error {
		if d < 0 {
			return invalid("Timeout", d.String(), "negative")
		}
		o.Timeout = d
		return nil
	}}
}

// IdentityAgent sets the agent socket (OpenSSH IdentityAgent, libssh
// SSH_OPTIONS_IDENTITY_AGENT). "" means $SSH_AUTH_SOCK; "none" disables it.
func IdentityAgent(path string) Option {
	return Option{"IdentityAgent", func(o *Options) error {
		if strings.ContainsRune(path, 0) {
			return invalid("IdentityAgent", path, "contains NUL")
		}
		if path != "none" && path != "SSH_AUTH_SOCK" {
			path = expandHome(path)
		}
		o.IdentityAgent = path
		return nil
	}}
}

func algorithmOption(kind algorithmKind, value string, set func(*Options, []string) error) Option {
	return Option{string(kind), func(o *Options) error {
		list, err := parseAlgorithmList(kind, value)
		if err != nil {
			return err
		}
		return set(o, list)
	}}
}

// KeyExchange sets the key exchange algorithms (libssh SSH_OPTIONS_KEY_EXCHANGE).
// Lists are comma-separated; "+", "-" and "^" prefixes append to, remove from
// and prepend to the defaults as in OpenSSH.
func KeyExchange(list string) Option {
	return algorithmOption(kindKex, list, func(o *Options, l []string) error { o.KeyExchanges = l; return nil })
}

// HostKeys sets the host key algorithms the client accepts, in preference
// order (libssh SSH_OPTIONS_HOSTKEYS).
func HostKeys(list string) Option {
	return algorithmOption(kindHostKey, list, func(o *Options, l []string) error { o.HostKeyAlgorithms = l; return nil })
}

// PublicKeyAcceptedTypes sets the signature algorithms used for public-key
// authentication (libssh SSH_OPTIONS_PUBLICKEY_ACCEPTED_TYPES).
func PublicKeyAcceptedTypes(list string) Option {
	return algorithmOption(kindPubkey, list, func(o *Options, l []string) error { o.PublicKeyAcceptedTypes = l; return nil })
}

// CiphersCS sets the client-to-server ciphers (libssh SSH_OPTIONS_CIPHERS_C_S).
//
// x/crypto negotiates one cipher list for both directions, so this also sets
// the server-to-client list. Setting the two directions to different lists
// is refused with an *OptionError wrapping ErrUnsupported.
func CiphersCS(list string) Option {
	return algorithmOption(kindCiphersCS, list, func(o *Options, l []string) error {
		return setBothDirections(kindCiphersCS, list, 0, &o.cipherSet, &o.CiphersCS, &o.CiphersSC, l)
	})
}

// CiphersSC sets the server-to-client ciphers; see CiphersCS for the
// restriction that both directions share one list.
func CiphersSC(list string) Option {
	return algorithmOption(kindCiphersSC, list, func(o *Options, l []string) error {
		return setBothDirections(kindCiphersSC, list, 1, &o.cipherSet, &o.CiphersSC, &o.CiphersCS, l)
	})
}

// HmacCS sets the client-to-server MACs (libssh SSH_OPTIONS_HMAC_C_S); as
// with CiphersCS, both directions share one list.
func HmacCS(list string) Option {
	return algorithmOption(kindHmacCS, list, func(o *Options, l []string) error {
		return setBothDirections(kindHmacCS, list, 0, &o.macSet, &o.HmacCS, &o.HmacSC, l)
	})
}

// HmacSC sets the server-to-client MACs; see HmacCS.
func HmacSC(list string) Option {
	return algorithmOption(kindHmacSC, list, func(o *Options, l []string) error {
		return setBothDirections(kindHmacSC, list, 1, &o.macSet, &o.HmacSC, &o.HmacCS, l)
	})
}

// setBothDirections sets this direction's list and the other one's, unless
// the other direction was explicitly set to something different: x/crypto
// has one list per algorithm kind, so per-direction lists cannot be honoured.
// explicit records which directions (0: client to server, 1: server to
// client) the caller set.
func setBothDirections(kind algorithmKind, value string, dir int, explicit *[2]bool, this, other *[]string, list []string) error {
	if explicit[1-dir] && !slices.Equal(*other, list) {
		return &OptionError{Option: string(kind), Value: value,
			Err: fmt.Errorf("%w: x/crypto uses one list for both directions", ErrUnsupported)}
	}
	*this, *other = list, slices.Clone(list)
	explicit[dir] = true
	return nil
}

// ProcessConfig controls whether Connect reads ssh_config files itself when
// OptionsParseConfig was not called (libssh SSH_OPTIONS_PROCESS_CONFIG).
// The default is true.
func ProcessConfig(enable bool) Option {
	return Option{"ProcessConfig", func(o *Options) error { o.ProcessConfig = enable; return nil }}
}

// StrictHostKeyChecking sets the policy applied when authentication starts
// before the application decided about the host key: "ask" (the default:
// refuse), "yes" (refuse), "accept-new" (record unknown keys) or "no"/"off"
// (accept unknown keys). Changed keys are refused under every policy.
func StrictHostKeyChecking(policy string) Option {
	return Option{"StrictHostKeyChecking", func(o *Options) error {
		switch p := strings.ToLower(policy); p {
		case "ask", "yes", "accept-new", "no", "off":
			o.StrictHostKeyChecking = p
			return nil
		}
		return invalid("StrictHostKeyChecking", policy, "want ask, yes, accept-new, no or off")
	}}
}

// HashKnownHosts makes UpdateKnownHostsFile write hashed host names.
func HashKnownHosts(enable bool) Option {
	return Option{"HashKnownHosts", func(o *Options) error { o.HashKnownHosts = enable; return nil }}
}

// IdentitiesOnly makes UserauthPublicKeyAuto use only the configured
// identities, and agent keys only when they match one of them.
func IdentitiesOnly(enable bool) Option {
	return Option{"IdentitiesOnly", func(o *Options) error { o.IdentitiesOnly = enable; return nil }}
}

// PreferredAuthentications sets the order of methods a client loop should
// try, comma-separated (OpenSSH PreferredAuthentications).
func PreferredAuthentications(list string) Option {
	return Option{"PreferredAuthentications", func(o *Options) error {
		var methods []string
		for m := range strings.SplitSeq(list, ",") {
			m = strings.TrimSpace(m)
			switch m {
			case "none", "publickey", "password", "keyboard-interactive", "hostbased", "gssapi-with-mic":
				methods = append(methods, m)
			default:
				return invalid("PreferredAuthentications", list, "unknown method %q", m)
			}
		}
		o.PreferredAuthentications = methods
		return nil
	}}
}

// ServerAliveInterval sets how often a keepalive is sent when the server is
// silent; zero disables keepalives.
func ServerAliveInterval(d time.Duration) Option {
	return Option{"ServerAliveInterval", func(o *Options) error {
		if d < 0 {
			return invalid("ServerAliveInterval", d.String(), "negative")
		}
		o.ServerAliveInterval = d
		return nil
	}}
}

// ServerAliveCountMax sets how many keepalives may go unanswered before the
// session is closed.
func ServerAliveCountMax(n int) Option {
	return Option{"ServerAliveCountMax", func(o *Options) error {
		if n < 0 {
			return invalid("ServerAliveCountMax", strconv.Itoa(n), "negative")
		}
		o.ServerAliveCountMax = n
		return nil
	}}
}

// ForwardAgent pipes the agent channels the server opens to the local agent
// (IdentityAgent or $SSH_AUTH_SOCK). It takes effect on a session channel
// once Channel.RequestAuthAgent was sent on it; without that, agent
// channels are refused.
func ForwardAgent(enable bool) Option {
	return Option{"ForwardAgent", func(o *Options) error { o.ForwardAgent = enable; return nil }}
}

// defaultOptions is what a new Session starts from.
func defaultOptions() Options {
	home := homeDir()
	sshDir := filepath.Join(home, ".ssh")
	return Options{
		Port:                         22,
		User:                         localUser(),
		SSHDir:                       sshDir,
		KnownHosts:                   defaultKnownHosts(sshDir),
		GlobalKnownHosts:             []string{"/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2"},
		KeyExchanges:                 defaultAlgorithms(kindKex),
		HostKeyAlgorithms:            defaultAlgorithms(kindHostKey),
		PublicKeyAcceptedTypes:       defaultAlgorithms(kindPubkey),
		CiphersCS:                    defaultAlgorithms(kindCiphersCS),
		CiphersSC:                    defaultAlgorithms(kindCiphersSC),
		HmacCS:                       defaultAlgorithms(kindHmacCS),
		HmacSC:                       defaultAlgorithms(kindHmacSC),
		StrictHostKeyChecking:        "ask",
		ServerAliveCountMax:          3,
		ProcessConfig:                true,
		AddressFamily:                "any",
		RequestTTY:                   "auto",
		NumberOfPasswordPrompts:      3,
		PubkeyAuthentication:         true,
		PasswordAuthentication:       true,
		KbdInteractiveAuthentication: true,
	}
}

func defaultKnownHosts(sshDir string) []string {
	return []string{filepath.Join(sshDir, "known_hosts"), filepath.Join(sshDir, "known_hosts2")}
}

func homeDir() string {
	if h, err := os.UserHomeDir(); err == nil {
		return h
	}
	if u, err := user.Current(); err == nil {
		return u.HomeDir
	}
	return "."
}

func localUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		name := u.Username
		// Windows reports DOMAIN\user; the login name is the last part.
		if i := strings.LastIndexByte(name, '\\'); i >= 0 {
			name = name[i+1:]
		}
		return name
	}
	for _, env := range []string{"USER", "USERNAME", "LOGNAME"} {
		if v := os.Getenv(env); v != "" {
			return v
		}
	}
	return "root"
}

func expandHome(p string) string {
	if p == "~" {
		return homeDir()
	}
	if strings.HasPrefix(p, "~/") {
		return filepath.Join(homeDir(), p[2:])
	}
	return p
}

// clone returns a copy whose slices the caller may change.
func (o Options) clone() Options {
	c := o
	for _, s := range []*[]string{&c.KnownHosts, &c.GlobalKnownHosts, &c.Identities, &c.CertificateFiles,
		&c.KeyExchanges, &c.HostKeyAlgorithms, &c.PublicKeyAcceptedTypes, &c.CiphersCS, &c.CiphersSC,
		&c.HmacCS, &c.HmacSC, &c.PreferredAuthentications, &c.SendEnv, &c.SetEnv} {
		*s = slices.Clone(*s)
	}
	for _, f := range []*[]Forward{&c.LocalForwards, &c.RemoteForwards, &c.DynamicForwards} {
		*f = slices.Clone(*f)
	}
	return c
}

// logger returns the slog.Logger to use, filtered by LogLevel; it discards
// everything at LogNoLogging.
func (o Options) logger() *slog.Logger {
	if o.LogLevel == LogNoLogging {
		return slog.New(slog.DiscardHandler)
	}
	base := o.Logger
	if base == nil {
		base = slog.Default()
	}
	return slog.New(levelFilter{base.Handler(), o.LogLevel.slogLevel()})
}

// levelFilter lets through records at or above min, whatever the wrapped
// handler's own level: LogLevel is the session's verbosity.
type levelFilter struct {
	slog.Handler
	min slog.Level
}

func (f levelFilter) Enabled(_ context.Context, l slog.Level) bool { return l >= f.min }
