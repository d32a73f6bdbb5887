package ssh

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Forward is one LocalForward, RemoteForward or DynamicForward: where to
// listen and, except for dynamic (SOCKS) forwards, where to connect. Each
// side is either a TCP host and port or a Unix socket path. The zero value
// is not a valid forward.
type Forward struct {
	ListenHost  string // "" = the default bind address; "*" = all addresses
	ListenPort  int    // 0 when ListenPath is set (and for a remote forward the server picks)
	ListenPath  string // a Unix socket to listen on instead of a port
	ConnectHost string // "" for dynamic forwards and Unix sockets
	ConnectPort int
	ConnectPath string // a Unix socket to connect to instead of a host and port
}

// String prints the forward as `ssh -G` does after the keyword:
// "[listenhost]:port [connecthost]:port", a bare port when there is no
// host, a socket path as it is; dynamic forwards have no destination.
func (f Forward) String() string {
	side := func(host string, port int, path string) string {
		switch {
		case path != "":
			return path
		case host == "":
			return strconv.Itoa(port)
		}
		return "[" + host + "]:" + strconv.Itoa(port)
	}
	s := side(f.ListenHost, f.ListenPort, f.ListenPath)
	if f.ConnectHost != "" || f.ConnectPath != "" {
		s += " " + side(f.ConnectHost, f.ConnectPort, f.ConnectPath)
	}
	return s
}

// parseForward parses a forwarding specification as OpenSSH's parse_forward:
// up to four colon-separated fields ([listen_host:]port[:host:hostport]),
// fields in [brackets] taken literally (IPv6), a field with a '/' a Unix
// socket path, and ${ENV} expanded first. Dynamic forwards have one or two
// fields; others need a destination. Only remote forwards may listen on
// port 0.
func parseForward(spec string, dynamic, remote bool) (Forward, error) {
	bad := fmt.Errorf("bad forwarding specification %q", spec)
	expanded, err := expandTokens(spec, nil, "", true, false)
	if err != nil {
		return Forward{}, fmt.Errorf("%w: %w", bad, err)
	}
	type field struct {
		arg    string
		isPath bool
	}
	var fields []field
	rest := strings.TrimLeft(expanded, " \t")
	for len(rest) > 0 && len(fields) < 4 {
		var f field
		if rest[0] == '[' {
			end := strings.IndexByte(rest, ']')
			if end < 0 || end+1 < len(rest) && rest[end+1] != ':' {
				return Forward{}, bad
			}
			f.arg = rest[1:end]
			f.isPath = strings.Contains(f.arg, "/")
			rest = rest[end+1:]
			rest = strings.TrimPrefix(rest, ":")
		} else {
			var b strings.Builder
			i := 0
			for ; i < len(rest) && rest[i] != ':'; i++ {
				c := rest[i]
				if c == '\\' {
					i++
					if i == len(rest) {
						return Forward{}, bad
					}
					c = rest[i]
				}
				if c == '/' {
					f.isPath = true
				}
				b.WriteByte(c)
			}
			f.arg = b.String()
			rest = rest[i:]
			rest = strings.TrimPrefix(rest, ":")
		}
		fields = append(fields, f)
	}
	if rest != "" {
		return Forward{}, bad
	}
	port := func(s string) int {
		n, err := parsePort(s)
		if err != nil {
			if s == "0" {
				return 0
			}
			return -1
		}
		return n
	}
	var fw Forward
	socks := false
	switch len(fields) {
	case 1:
		if fields[0].isPath {
			fw.ListenPath = fields[0].arg
		} else {
			fw.ListenPort = port(fields[0].arg)
		}
		socks = true
	case 2:
		switch {
		case fields[0].isPath && fields[1].isPath:
			fw.ListenPath, fw.ConnectPath = fields[0].arg, fields[1].arg
		case fields[1].isPath:
			fw.ListenPort, fw.ConnectPath = port(fields[0].arg), fields[1].arg
		default:
			fw.ListenHost, fw.ListenPort = fields[0].arg, port(fields[1].arg)
			socks = true
		}
	case 3:
		switch {
		case fields[0].isPath:
			fw.ListenPath, fw.ConnectHost, fw.ConnectPort = fields[0].arg, fields[1].arg, port(fields[2].arg)
		case fields[2].isPath:
			fw.ListenHost, fw.ListenPort, fw.ConnectPath = fields[0].arg, port(fields[1].arg), fields[2].arg
		default:
			fw.ListenPort, fw.ConnectHost, fw.ConnectPort = port(fields[0].arg), fields[1].arg, port(fields[2].arg)
		}
	case 4:
		fw.ListenHost, fw.ListenPort = fields[0].arg, port(fields[1].arg)
		fw.ConnectHost, fw.ConnectPort = fields[2].arg, port(fields[3].arg)
	default:
		return Forward{}, bad
	}
	if dynamic {
		if !socks {
			return Forward{}, bad
		}
	} else if socks || fw.ConnectPath == "" && fw.ConnectPort <= 0 {
		return Forward{}, bad
	}
	if fw.ListenPath == "" && (fw.ListenPort < 0 || !remote && fw.ListenPort == 0) {
		return Forward{}, bad
	}
	if fw.ConnectHost == "" && fw.ConnectPath == "" && !socks || fw.ConnectPort < 0 {
		return Forward{}, bad
	}
	return fw, nil
}

func forwardOption(name string, spec string, dynamic, remote bool, add func(*Options, Forward)) Option {
	return Option{name, func(o *Options) error {
		f, err := parseForward(spec, dynamic, remote)
		if err != nil {
			return &OptionError{Option: name, Value: spec, Err: err}
		}
		add(o, f)
		return nil
	}}
}

// LocalForward appends a local forward, "[bind:]port host:hostport" or
// socket paths, in ssh_config syntax (OpenSSH LocalForward). It is recorded
// in Options for the application to set up; Connect does not open it.
func LocalForward(spec string) Option {
	return forwardOption("LocalForward", strings.Replace(strings.TrimSpace(spec), " ", ":", 1), false, false,
		func(o *Options, f Forward) { o.LocalForwards = append(o.LocalForwards, f) })
}

// RemoteForward appends a remote forward in ssh_config syntax (OpenSSH
// RemoteForward); a lone "[bind:]port" is a dynamic remote forward. It is
// recorded, not opened.
func RemoteForward(spec string) Option {
	spec = strings.TrimSpace(spec)
	dynamic := !strings.ContainsAny(spec, " \t")
	return forwardOption("RemoteForward", strings.Replace(spec, " ", ":", 1), dynamic, true,
		func(o *Options, f Forward) { o.RemoteForwards = append(o.RemoteForwards, f) })
}

// DynamicForward appends a SOCKS listener, "[bind:]port" (OpenSSH
// DynamicForward). It is recorded, not opened.
func DynamicForward(spec string) Option {
	return forwardOption("DynamicForward", strings.TrimSpace(spec), true, false,
		func(o *Options, f Forward) { o.DynamicForwards = append(o.DynamicForwards, f) })
}

// AddressFamily restricts the TCP connection to "inet" (IPv4), "inet6"
// (IPv6), or "any" (the default). Connect honours it.
func AddressFamily(family string) Option {
	return Option{"AddressFamily", func(o *Options) error {
		switch f := strings.ToLower(family); f {
		case "any", "inet", "inet6":
			o.AddressFamily = f
			return nil
		}
		return invalid("AddressFamily", family, "want any, inet or inet6")
	}}
}

// BatchMode, when true, makes the library never ask the AuthCallback for a
// password or a passphrase on its own (ProxyJump hops), as OpenSSH's
// BatchMode disables prompting.
func BatchMode(enable bool) Option {
	return Option{"BatchMode", func(o *Options) error { o.BatchMode = enable; return nil }}
}

// PubkeyAuthentication allows (the default) or forbids public-key
// authentication for the logins the library runs itself (ProxyJump hops).
func PubkeyAuthentication(enable bool) Option {
	return Option{"PubkeyAuthentication", func(o *Options) error { o.PubkeyAuthentication = enable; return nil }}
}

// PasswordAuthentication allows (the default) or forbids password
// authentication for the logins the library runs itself (ProxyJump hops).
func PasswordAuthentication(enable bool) Option {
	return Option{"PasswordAuthentication", func(o *Options) error { o.PasswordAuthentication = enable; return nil }}
}

// KbdInteractiveAuthentication allows (the default) or forbids
// keyboard-interactive authentication for the logins the library runs
// itself (ProxyJump hops).
func KbdInteractiveAuthentication(enable bool) Option {
	return Option{"KbdInteractiveAuthentication", func(o *Options) error { o.KbdInteractiveAuthentication = enable; return nil }}
}

// NumberOfPasswordPrompts bounds how many times a password is asked for
// (default 3; OpenSSH NumberOfPasswordPrompts).
func NumberOfPasswordPrompts(n int) Option {
	return Option{"NumberOfPasswordPrompts", func(o *Options) error {
		if n < 0 {
			return invalid("NumberOfPasswordPrompts", strconv.Itoa(n), "negative")
		}
		o.NumberOfPasswordPrompts = n
		return nil
	}}
}

// SendEnv appends variable-name patterns whose local values session
// channels should send (OpenSSH SendEnv), space-separated. Session.Exec,
// Run, Output and CombinedOutput send them; with the libssh-level calls the
// application sends what it wants with RequestEnv.
func SendEnv(patterns string) Option {
	return Option{"SendEnv", func(o *Options) error {
		for _, p := range strings.Fields(patterns) {
			if strings.Contains(p, "=") {
				return invalid("SendEnv", patterns, "%q is not a variable name", p)
			}
			o.SendEnv = append(o.SendEnv, p)
		}
		return nil
	}}
}

// SetEnv sets the "NAME=value" pairs (space-separated) that session
// channels should send (OpenSSH SetEnv). It replaces earlier values.
// Session.Exec, Run, Output and CombinedOutput send them.
func SetEnv(assignments string) Option {
	return Option{"SetEnv", func(o *Options) error {
		var list []string
		for _, a := range strings.Fields(assignments) {
			if !strings.Contains(a, "=") {
				return invalid("SetEnv", assignments, "%q is not NAME=value", a)
			}
			list = append(list, a)
		}
		o.SetEnv = list
		return nil
	}}
}

// RequestTTY records whether a terminal should be requested: "auto" (the
// default), "yes", "no" or "force" (OpenSSH RequestTTY).
func RequestTTY(mode string) Option {
	return Option{"RequestTTY", func(o *Options) error {
		switch m := strings.ToLower(mode); m {
		case "auto", "yes", "no", "force":
			o.RequestTTY = m
			return nil
		}
		return invalid("RequestTTY", mode, "want auto, yes, no or force")
	}}
}

// RekeyLimit sets after how many bytes and how much time the session key
// should be renegotiated (OpenSSH RekeyLimit); zero means the default for
// each. The byte count becomes x/crypto's RekeyThreshold; x/crypto has no
// time-based re-key, so the interval is only recorded.
func RekeyLimit(bytes int64, interval time.Duration) Option {
	return Option{"RekeyLimit", func(o *Options) error {
		if bytes < 0 || bytes > 0 && bytes < 16 || interval < 0 {
			return invalid("RekeyLimit", fmt.Sprintf("%d %s", bytes, interval), "bytes must be 0 or at least 16, interval not negative")
		}
		o.RekeyLimitBytes, o.RekeyLimitInterval = bytes, interval
		return nil
	}}
}

// resolvedHost is the host name the resolution ends with: HostName with %h
// expanded, or the name given, lowercased as ssh does.
func (v *configValues) resolvedHost(orig string) (string, error) {
	if v.hostnameDone {
		return v.hostname, nil
	}
	h := orig
	if v.cfg["hostname"] {
		var err error
		if h, err = expandTokens(v.hostname, tokenValues{'h': orig}, hostnameTokens, false, false); err != nil {
			return "", &ConfigError{File: v.pos["hostname"], Err: err}
		}
	}
	return strings.ToLower(h), nil
}

// applyTo writes the resolution into o: every keyword a file set (the
// API-set ones were never overwritten by a file), with tokens expanded for
// the final destination. Values are applied through the Option constructors,
// so a file is held to the same validation as SetOption.
func (v *configValues) applyTo(o *Options, explicit map[string]bool, p *configParser) error {
	var errs []error
	apply := func(kw string, opt Option) {
		if err := opt.apply(o); err != nil {
			errs = append(errs, &ConfigError{File: v.pos[kw], Err: err})
		}
	}
	from := func(kw string) bool { return v.cfg[kw] }

	host, err := v.resolvedHost(p.origHost)
	if err != nil {
		return err
	}
	if strings.ContainsFunc(host, badNameRune) || host == "" {
		return &ConfigError{File: v.pos["hostname"], Err: fmt.Errorf("invalid host name %q", host)}
	}
	o.Host, o.configHost = host, p.origHost
	if from("port") {
		apply("port", Port(v.port))
	}
	if from("user") {
		apply("user", User(v.user))
	}
	if from("hostkeyalias") {
		apply("hostkeyalias", HostKeyAlias(v.hostKeyAlias))
	}
	if from("proxyjump") {
		apply("proxyjump", ProxyJump(v.proxyJump))
	}
	if from("proxycommand") {
		apply("proxycommand", ProxyCommand(v.proxyCommand))
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}

	jump := o.ProxyJump
	if strings.EqualFold(jump, "none") {
		jump = ""
	}
	toks := connectionTokens(p.local, o.Host, p.origHost, o.Port, o.User, o.HostKeyAlias, jump)
	expand := func(kw, raw string) (string, bool) {
		s, err := expandPath(raw, toks)
		if err != nil {
			errs = append(errs, &ConfigError{File: v.pos[kw], Err: fmt.Errorf("%s %s: %w", kw, raw, err)})
			return "", false
		}
		return s, true
	}
	for _, raw := range v.identityFiles {
		if s, ok := expand("identityfile", raw); ok && !slices.Contains(o.Identities, s) {
			o.Identities = append(o.Identities, s)
		}
	}
	for _, raw := range v.certificateFiles {
		if s, ok := expand("certificatefile", raw); ok && !slices.Contains(o.CertificateFiles, s) {
			o.CertificateFiles = append(o.CertificateFiles, s)
		}
	}
	if from("userknownhostsfile") {
		o.KnownHosts = nil
		if !strings.EqualFold(v.userKnownHosts[0], "none") {
			for _, raw := range v.userKnownHosts {
				if s, ok := expand("userknownhostsfile", raw); ok {
					o.KnownHosts = append(o.KnownHosts, s)
				}
			}
		}
	}
	if from("globalknownhostsfile") {
		o.GlobalKnownHosts = nil
		if !strings.EqualFold(v.globalKnownHost[0], "none") {
			for _, raw := range v.globalKnownHost {
				s, err := expandTilde(raw)
				if err != nil {
					errs = append(errs, &ConfigError{File: v.pos["globalknownhostsfile"], Err: err})
				}
				o.GlobalKnownHosts = append(o.GlobalKnownHosts, s)
			}
		}
	}
	if from("identityagent") {
		if s, ok := agentPath("identityagent", v.identityAgent, expand); ok {
			o.IdentityAgent = s
		}
	}
	if from("forwardagent") {
		o.ForwardAgent = v.forwardAgent
	}
	if v.cfg["forwardagent.socket"] && !explicit["ForwardAgent"] {
		if s, ok := agentPath("forwardagent", v.forwardAgentSocket, expand); ok {
			o.ForwardAgentSocket = s
		}
	}
	for _, list := range []struct {
		dst *[]Forward
		src []Forward
		kw  string
	}{{&o.LocalForwards, v.localFwd, "localforward"}, {&o.RemoteForwards, v.remoteFwd, "remoteforward"}, {&o.DynamicForwards, v.dynamicFwd, "dynamicforward"}} {
		for _, f := range list.src {
			// OpenSSH expands %-tokens in the socket paths of forwards.
			if f.ListenPath != "" {
				s, err := expandTokens(f.ListenPath, toks, pathTokens, false, false)
				if err != nil {
					errs = append(errs, &ConfigError{File: list.kw, Err: err})
				}
				f.ListenPath = s
			}
			if f.ConnectPath != "" {
				s, err := expandTokens(f.ConnectPath, toks, pathTokens, false, false)
				if err != nil {
					errs = append(errs, &ConfigError{File: list.kw, Err: err})
				}
				f.ConnectPath = s
			}
			if !slices.Contains(*list.dst, f) {
				*list.dst = append(*list.dst, f)
			}
		}
	}
	o.SendEnv = append(o.SendEnv, v.sendEnv...)
	if from("setenv") {
		o.SetEnv = slices.Clone(v.setEnv)
	}

	for _, a := range []struct {
		kw   string
		kind algorithmKind
		spec string
		set  func([]string)
	}{
		{"ciphers", kindCiphersCS, v.ciphers, func(l []string) { o.CiphersCS, o.CiphersSC = l, slices.Clone(l) }},
		{"macs", kindHmacCS, v.macs, func(l []string) { o.HmacCS, o.HmacSC = l, slices.Clone(l) }},
		{"kexalgorithms", kindKex, v.kex, func(l []string) { o.KeyExchanges = l }},
		{"hostkeyalgorithms", kindHostKey, v.hostKeyAlgorithms, func(l []string) { o.HostKeyAlgorithms = l }},
		{"pubkeyacceptedalgorithms", kindPubkey, v.pubkeyAlgs, func(l []string) { o.PublicKeyAcceptedTypes = l }},
	} {
		if !from(a.kw) {
			continue
		}
		list, err := configAlgorithms(a.kind, a.spec, p)
		if err != nil {
			errs = append(errs, &ConfigError{File: v.pos[a.kw], Err: err})
			continue
		}
		a.set(list)
	}

	if from("stricthostkeychecking") {
		apply("stricthostkeychecking", StrictHostKeyChecking(v.strictHostKeyChecking))
	}
	if from("preferredauthentications") {
		if methods := knownMethods(v.preferredAuth, p); methods != "" {
			apply("preferredauthentications", PreferredAuthentications(methods))
		}
	}
	if from("bindaddress") {
		apply("bindaddress", BindAddress(v.bindAddress))
	}
	if from("connecttimeout") {
		o.Timeout = v.connectTimeout
	}
	if from("serveraliveinterval") {
		o.ServerAliveInterval = v.aliveInterval
	}
	if from("rekeylimit") {
		o.RekeyLimitBytes = v.rekeyBytes
	}
	if from("rekeylimit.interval") && !explicit["RekeyLimit"] {
		o.RekeyLimitInterval = v.rekeyInterval
	}
	if from("loglevel") {
		o.LogLevel = v.logLevel
	}
	if from("addressfamily") {
		o.AddressFamily = v.addressFamily
	}
	if from("requesttty") {
		o.RequestTTY = v.requestTTY
	}
	for kw, dst := range map[string]*bool{
		"identitiesonly": &o.IdentitiesOnly, "hashknownhosts": &o.HashKnownHosts,
		"passwordauthentication": &o.PasswordAuthentication, "kbdinteractiveauthentication": &o.KbdInteractiveAuthentication,
		"pubkeyauthentication": &o.PubkeyAuthentication, "batchmode": &o.BatchMode,
	} {
		if from(kw) {
			*dst = map[string]bool{
				"identitiesonly": v.identitiesOnly, "hashknownhosts": v.hashKnownHosts,
				"passwordauthentication": v.passwordAuth, "kbdinteractiveauthentication": v.kbdintAuth,
				"pubkeyauthentication": v.pubkeyAuth, "batchmode": v.batchMode,
			}[kw]
		}
	}
	if o.BatchMode && !v.set["serveraliveinterval"] {
		o.ServerAliveInterval = 5 * time.Minute // OpenSSH's default in batch mode
	}
	if from("checkhostip") {
		apply("checkhostip", CheckHostIP(v.checkHostIP))
	}
	if from("numberofpasswordprompts") {
		o.NumberOfPasswordPrompts = v.passwordPrompts
	}
	if from("serveralivecountmax") {
		o.ServerAliveCountMax = v.aliveCountMax
	}
	return errors.Join(errs...)
}

// agentPath resolves an IdentityAgent or ForwardAgent value: "none" and
// "SSH_AUTH_SOCK" stay as they are, a legacy "$NAME" is read from the
// environment, anything else is expanded like a path.
func agentPath(kw, raw string, expand func(kw, raw string) (string, bool)) (string, bool) {
	switch {
	case raw == "none" || raw == "SSH_AUTH_SOCK":
		return raw, true
	case strings.HasPrefix(raw, "$") && !strings.HasPrefix(raw, "${"):
		if v := os.Getenv(raw[1:]); v != "" {
			return v, true
		}
		return "none", true
	}
	return expand(kw, raw)
}

// configAlgorithms resolves an algorithm list from a file. Names x/crypto
// does not implement (OpenSSH knows more: umac, sk- keys, sntrup) are
// dropped with a log message rather than failing the whole config; a list
// with nothing this library can use is an error.
func configAlgorithms(kind algorithmKind, spec string, p *configParser) ([]string, error) {
	op, list := "", spec
	if spec != "" && strings.ContainsAny(spec[:1], "+-^") {
		op, list = spec[:1], spec[1:]
	}
	known := knownAlgorithms(kind)
	var keep, dropped []string
	for n := range strings.SplitSeq(list, ",") {
		if slices.Contains(known, n) {
			keep = append(keep, n)
		} else {
			dropped = append(dropped, n)
		}
	}
	if len(dropped) > 0 {
		p.log.Info("ssh_config: algorithms not implemented by this library are skipped", "list", spec, "skipped", dropped)
	}
	if len(keep) == 0 {
		if op == "+" || op == "^" || op == "-" {
			return defaultAlgorithms(kind), nil
		}
		return nil, fmt.Errorf("%w: none of %q is implemented", ErrUnsupported, spec)
	}
	return parseAlgorithmList(kind, op+strings.Join(keep, ","))
}

// knownMethods keeps the method names PreferredAuthentications knows.
func knownMethods(list string, p *configParser) string {
	var keep []string
	for m := range strings.SplitSeq(list, ",") {
		switch m {
		case "none", "publickey", "password", "keyboard-interactive", "hostbased", "gssapi-with-mic":
			keep = append(keep, m)
		default:
			p.log.Info("ssh_config: unknown authentication method skipped", "method", m)
		}
	}
	return strings.Join(keep, ",")
}

// String prints the options in `ssh -G` form: a lowercase keyword, a space
// and the value, one line per value of a multi-valued keyword, with the
// values spelled as `ssh -G` spells them ("true"/"false" where it does,
// times in seconds). Only the keywords this library resolves are printed.
func (o Options) String() string {
	var b strings.Builder
	line := func(k, v string) { fmt.Fprintf(&b, "%s %s\n", k, v) }
	yesno := func(v bool) string {
		if v {
			return "yes"
		}
		return "no"
	}
	truefalse := func(v bool) string {
		if v {
			return "true"
		}
		return "false"
	}
	seconds := func(d time.Duration) string { return strconv.FormatInt(int64(d/time.Second), 10) }
	line("user", o.User)
	line("hostname", o.Host)
	line("port", strconv.Itoa(o.Port))
	line("addressfamily", o.AddressFamily)
	line("batchmode", yesno(o.BatchMode))
	line("checkhostip", yesno(o.CheckHostIP))
	line("hashknownhosts", yesno(o.HashKnownHosts))
	line("identitiesonly", yesno(o.IdentitiesOnly))
	line("kbdinteractiveauthentication", yesno(o.KbdInteractiveAuthentication))
	line("passwordauthentication", yesno(o.PasswordAuthentication))
	line("pubkeyauthentication", truefalse(o.PubkeyAuthentication))
	switch o.RequestTTY {
	case "yes":
		line("requesttty", "true")
	case "no":
		line("requesttty", "false")
	default:
		line("requesttty", o.RequestTTY)
	}
	switch o.StrictHostKeyChecking {
	case "yes":
		line("stricthostkeychecking", "true")
	case "no", "off":
		line("stricthostkeychecking", "false")
	default:
		line("stricthostkeychecking", o.StrictHostKeyChecking)
	}
	line("numberofpasswordprompts", strconv.Itoa(o.NumberOfPasswordPrompts))
	line("serveralivecountmax", strconv.Itoa(o.ServerAliveCountMax))
	line("serveraliveinterval", seconds(o.ServerAliveInterval))
	line("ciphers", strings.Join(o.CiphersCS, ","))
	line("hostkeyalgorithms", strings.Join(o.HostKeyAlgorithms, ","))
	line("kexalgorithms", strings.Join(o.KeyExchanges, ","))
	line("loglevel", map[LogVerbosity]string{LogNoLogging: "QUIET", LogWarning: "INFO", LogProtocol: "VERBOSE",
		LogPacket: "DEBUG", LogFunctions: "DEBUG3"}[o.LogLevel])
	line("macs", strings.Join(o.HmacCS, ","))
	line("pubkeyacceptedalgorithms", strings.Join(o.PublicKeyAcceptedTypes, ","))
	for _, f := range o.DynamicForwards {
		line("dynamicforward", f.String())
	}
	for _, f := range o.LocalForwards {
		line("localforward", f.String())
	}
	for _, f := range o.RemoteForwards {
		line("remoteforward", f.String())
	}
	for _, id := range o.Identities {
		line("identityfile", id)
	}
	for _, c := range o.CertificateFiles {
		line("certificatefile", c)
	}
	if o.BindAddress != "" {
		line("bindaddress", o.BindAddress)
	}
	if o.HostKeyAlias != "" {
		line("hostkeyalias", o.HostKeyAlias)
	}
	if o.IdentityAgent != "" {
		line("identityagent", o.IdentityAgent)
	}
	if len(o.PreferredAuthentications) > 0 {
		line("preferredauthentications", strings.Join(o.PreferredAuthentications, ","))
	}
	if o.ProxyCommand != "" && o.ProxyCommand != "none" {
		line("proxycommand", o.ProxyCommand)
	}
	if len(o.GlobalKnownHosts) > 0 {
		line("globalknownhostsfile", strings.Join(o.GlobalKnownHosts, " "))
	} else {
		line("globalknownhostsfile", "none")
	}
	if len(o.KnownHosts) > 0 {
		line("userknownhostsfile", strings.Join(o.KnownHosts, " "))
	} else {
		line("userknownhostsfile", "none")
	}
	for _, e := range o.SendEnv {
		line("sendenv", e)
	}
	for _, e := range o.SetEnv {
		line("setenv", e)
	}
	switch {
	case o.ForwardAgentSocket != "" && o.ForwardAgent:
		line("forwardagent", o.ForwardAgentSocket)
	default:
		line("forwardagent", yesno(o.ForwardAgent))
	}
	if o.Timeout > 0 {
		line("connecttimeout", seconds(o.Timeout))
	} else {
		line("connecttimeout", "none")
	}
	line("rekeylimit", strconv.FormatInt(o.RekeyLimitBytes, 10)+" "+seconds(o.RekeyLimitInterval))
	if o.ProxyJump != "" && !strings.EqualFold(o.ProxyJump, "none") {
		line("proxyjump", formatJumpList(o.ProxyJump))
	}
	return b.String()
}
