package ssh

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/libssh-go/libssh/sshconfig"
)

func forwardOption(name string, spec string, dynamic, remote bool, add func(*Options, Forward)) Option {
	return Option{name, func(o *Options) error {
		f, err := sshconfig.ParseForward(spec, dynamic, remote)
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

// Forward is one LocalForward, RemoteForward or DynamicForward: where to
// listen and, except for dynamic (SOCKS) forwards, where to connect. It is
// the sshconfig package's type (see sshconfig.Forward).
type Forward = sshconfig.Forward

// defaultSystemConfig is read after the user's config when
// OptionsParseConfig is given "".
const defaultSystemConfig = sshconfig.DefaultSystemConfig

// ConfigError reports an ssh_config file that could not be used: a bad
// line (File and Line say where), a file that cannot be read, or one whose
// owner or permissions OpenSSH would refuse. It matches ErrInvalidOption,
// and its Err is (or wraps) the *sshconfig.Error the resolution returned.
type ConfigError struct {
	File string // the file in error
	Line int    // 1-based; 0 when the error is about the whole file
	Err  error  // what is wrong
}

// Error says where ("ssh: FILE line N: ...") and what.
func (e *ConfigError) Error() string {
	cause := e.Err
	var se *sshconfig.Error
	if errors.As(cause, &se) && se.File == e.File && se.Line == e.Line {
		cause = se.Err
	}
	if e.Line > 0 {
		return fmt.Sprintf("ssh: %s line %d: %v", e.File, e.Line, cause)
	}
	if e.File == "" {
		return fmt.Sprintf("ssh: config: %v", cause)
	}
	return fmt.Sprintf("ssh: %s: %v", e.File, cause)
}

// Unwrap lets errors.Is match ErrInvalidOption and the cause.
func (e *ConfigError) Unwrap() []error { return []error{ErrInvalidOption, e.Err} }

// configError wraps an error of sshconfig.Resolve.
func configError(err error) error {
	if errors.Is(err, errors.ErrUnsupported) && !errors.Is(err, ErrUnsupported) {
		err = fmt.Errorf("%w: %w", ErrUnsupported, err) // Match exec on Windows
	}
	var se *sshconfig.Error
	if errors.As(err, &se) {
		return &ConfigError{File: se.File, Line: se.Line, Err: err}
	}
	return &ConfigError{Err: err}
}

// OptionsParseConfig resolves ssh_config for the configured Hostname, as
// libssh's ssh_options_parse_config and OpenSSH's ssh do, and applies what
// it finds to the session's options. path "" reads the user's config
// (SSHDir/config, which must be owned by the user or root and not writable
// by others) and then /etc/ssh/ssh_config, skipping a file that does not
// exist; another path reads only that file (like `ssh -F`), which must
// exist.
//
// The resolution is package sshconfig's (sshconfig.Resolve), which
// follows OpenSSH: for each keyword the first value obtained wins, and a
// value set through SetOption wins over every file. IdentityFile,
// CertificateFile, LocalForward, RemoteForward, DynamicForward and SendEnv
// accumulate (after the values set through the API). Host and Match
// blocks, Include, %-tokens and ${ENV}, "+"/"-"/"^" algorithm lists and
// OpenSSH's final pass ("Match final") are honoured; Options().String()
// prints the result as `ssh -G` does for the keywords this library uses.
//
// Keywords this library does not use are accepted; an unknown keyword is
// an error unless IgnoreUnknown covers it. Match exec commands run through
// /bin/sh -c and may block; they are not bounded by any timeout (Connect
// bounds them by its ctx). Errors are *ConfigError (matching
// ErrInvalidOption and wrapping the *sshconfig.Error), or
// ErrHostnameRequired when no Hostname is set. On error the options are
// left unchanged. Connect calls this itself with "" unless
// ProcessConfig(false) was set or a parse already ran.
func (s *Session) OptionsParseConfig(path string) error {
	return s.parseConfig(context.Background(), path)
}

// optionKeywords maps the SetOption names that pre-empt a keyword to it.
var optionKeywords = map[string]string{
	"Port": "port", "User": "user", "BindAddress": "bindaddress",
	"KnownHosts": "userknownhostsfile", "GlobalKnownHosts": "globalknownhostsfile",
	"ProxyCommand": "proxycommand", "ProxyJump": "proxyjump", "Timeout": "connecttimeout",
	"IdentityAgent": "identityagent", "KeyExchange": "kexalgorithms",
	"HostKeys": "hostkeyalgorithms", "PublicKeyAcceptedTypes": "pubkeyacceptedalgorithms",
	"CiphersCS": "ciphers", "CiphersSC": "ciphers", "HmacCS": "macs", "HmacSC": "macs",
	"StrictHostKeyChecking": "stricthostkeychecking", "HashKnownHosts": "hashknownhosts",
	"HostKeyAlias": "hostkeyalias", "CheckHostIP": "checkhostip",
	"IdentitiesOnly": "identitiesonly", "PreferredAuthentications": "preferredauthentications",
	"ServerAliveInterval": "serveraliveinterval", "ServerAliveCountMax": "serveralivecountmax",
	"ForwardAgent": "forwardagent", "LogLevel": "loglevel",
	"AddressFamily": "addressfamily", "BatchMode": "batchmode",
	"PubkeyAuthentication": "pubkeyauthentication", "PasswordAuthentication": "passwordauthentication",
	"KbdInteractiveAuthentication": "kbdinteractiveauthentication",
	"NumberOfPasswordPrompts":      "numberofpasswordprompts", "SetEnv": "setenv",
	"RequestTTY": "requesttty", "RekeyLimit": "rekeylimit",
	"ControlMaster": "controlmaster", "ControlPath": "controlpath",
}

// parseConfig is OptionsParseConfig bounded by ctx (which stops Match exec
// commands).
func (s *Session) parseConfig(ctx context.Context, path string) error {
	s.mu.Lock()
	opts := s.opts.clone()
	explicit := maps.Clone(s.explicit)
	s.mu.Unlock()
	if opts.Host == "" {
		return fmt.Errorf("%w: OptionsParseConfig needs the host to resolve", ErrHostnameRequired)
	}
	log := opts.logger()
	in := sshconfig.Input{SSHDir: opts.SSHDir, Logger: log, LocalUser: localUser(), HomeDir: homeDir()}
	if path != "" {
		in.ConfigFile = path
	} else {
		in.UserConfig = filepath.Join(opts.SSHDir, "config")
		in.SystemConfig = opts.systemConfig
	}
	// The options set through the API are taken as OpenSSH takes its
	// command line: read before any file, so they win and Match user and
	// exec see them. Hostname("user@host") sets the user without marking
	// User.
	if explicit["User"] || opts.User != localUser() {
		in.User = opts.User
	}
	if explicit["Port"] {
		in.Port = opts.Port
	}
	if explicit["HostKeyAlias"] && opts.HostKeyAlias != "" && !strings.ContainsAny(opts.HostKeyAlias, " \t\"'") {
		in.Options = append(in.Options, "HostKeyAlias "+opts.HostKeyAlias)
	}
	if explicit["ProxyJump"] && opts.ProxyJump != "" {
		in.Options = append(in.Options, "ProxyJump "+opts.ProxyJump)
	}
	if explicit["ProxyCommand"] && opts.ProxyCommand != "" {
		in.Options = append(in.Options, "ProxyCommand "+opts.ProxyCommand)
	}
	cfg, err := sshconfig.Resolve(ctx, opts.Host, in)
	if err != nil {
		return configError(err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	next := s.opts.clone()
	if err := applyConfig(&next, explicit, cfg, log, false); err != nil {
		return err
	}
	next.configParsed = true
	next.configPath = path
	s.opts = next
	return nil
}

// processConfig is what Connect runs first: the default config files,
// unless ProcessConfig(false) or a parse already happened.
func (s *Session) processConfig(ctx context.Context) error {
	s.mu.Lock()
	run := s.opts.ProcessConfig && !s.opts.configParsed && s.opts.Host != ""
	s.mu.Unlock()
	if !run {
		return nil
	}
	return s.parseConfig(ctx, "")
}

// applyConfig writes a resolution into o: every keyword a file set (the
// API-set ones are left alone), with paths expanded for the final
// destination. Values are applied through the Option constructors where
// there is one, so a file is held to the same validation as SetOption.
//
// withInput also applies the values that came from sshconfig.Input (ssh's
// command line), for a resolution the caller made itself (ApplyConfig);
// parseConfig builds that Input from Options, which have them already.
func applyConfig(o *Options, explicit map[string]bool, cfg *sshconfig.Config, log *slog.Logger, withInput bool) error {
	pre := map[string]bool{}
	for name, kw := range optionKeywords {
		if explicit[name] {
			pre[kw] = true
		}
	}
	var errs []error
	fail := func(kw string, err error) {
		file, line := cfg.Where(kw), 0
		if f, n, ok := strings.Cut(file, " line "); ok {
			file = f
			line, _ = strconv.Atoi(n)
		}
		errs = append(errs, &ConfigError{File: file, Line: line, Err: err})
	}
	apply := func(kw string, opt Option) {
		if err := opt.apply(o); err != nil {
			fail(kw, err)
		}
	}
	// A value that came from the "command line" came from the API
	// (parseConfig passes it as Input): Options already has it.
	from := func(kw string) bool {
		return cfg.IsSet(kw) && !pre[kw] && (withInput || cfg.Where(kw) != "command line")
	}
	value := func(kw string) string {
		if v := cfg.Get(kw); len(v) > 0 {
			return v[0]
		}
		return ""
	}

	host := cfg.Hostname()
	if strings.ContainsFunc(host, badNameRune) || host == "" {
		fail("hostname", fmt.Errorf("invalid host name %q", host))
		return errs[0]
	}
	o.Host, o.configHost = host, cfg.Host()
	if from("port") {
		apply("port", Port(cfg.Port()))
	}
	if from("user") {
		apply("user", User(cfg.User()))
	}
	if from("hostkeyalias") {
		apply("hostkeyalias", HostKeyAlias(value("hostkeyalias")))
	}
	if from("proxyjump") {
		apply("proxyjump", ProxyJump(jumpSpec(cfg)))
	}
	if from("proxycommand") {
		pc := "none"
		if v := value("proxycommand"); v != "" {
			pc = v
		}
		apply("proxycommand", ProxyCommand(pc))
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}

	toks := cfg.Tokens()
	for _, list := range []struct {
		kw  string
		raw []string
		dst *[]string
	}{{"identityfile", cfg.IdentityFiles(), &o.Identities}, {"certificatefile", cfg.CertificateFiles(), &o.CertificateFiles}} {
		for _, raw := range list.raw {
			s, err := toks.ExpandPath(raw)
			if err != nil {
				fail(list.kw, fmt.Errorf("%s %s: %w", list.kw, raw, err))
				continue
			}
			if !slices.Contains(*list.dst, s) {
				*list.dst = append(*list.dst, s)
			}
		}
	}
	if from("userknownhostsfile") {
		o.KnownHosts = cfg.UserKnownHostsFiles()
	}
	if from("globalknownhostsfile") {
		o.GlobalKnownHosts = nil
		for _, f := range cfg.GlobalKnownHostsFiles() {
			if strings.HasPrefix(f, "~") {
				if x, err := (sshconfig.Tokens{'d': toks['d']}).ExpandPath(f); err == nil {
					f = x
				}
			}
			o.GlobalKnownHosts = append(o.GlobalKnownHosts, f)
		}
	}
	if from("identityagent") {
		o.IdentityAgent = agentPath(value("identityagent"))
	}
	if from("forwardagent") {
		on, sock := cfg.ForwardAgent()
		o.ForwardAgent = on
		if sock != "" {
			o.ForwardAgentSocket = agentPath(sock)
		}
	}
	for _, list := range []struct {
		dst *[]Forward
		src []Forward
	}{{&o.LocalForwards, cfg.LocalForwards()}, {&o.RemoteForwards, cfg.RemoteForwards()}, {&o.DynamicForwards, cfg.DynamicForwards()}} {
		for _, f := range list.src {
			if !slices.Contains(*list.dst, f) {
				*list.dst = append(*list.dst, f)
			}
		}
	}
	o.SendEnv = append(o.SendEnv, cfg.Get("sendenv")...)
	if from("setenv") {
		o.SetEnv = cfg.Get("setenv")
	}

	for _, a := range []struct {
		kw   string
		kind algorithmKind
		set  func([]string)
	}{
		{"ciphers", kindCiphersCS, func(l []string) { o.CiphersCS, o.CiphersSC = l, slices.Clone(l) }},
		{"macs", kindHmacCS, func(l []string) { o.HmacCS, o.HmacSC = l, slices.Clone(l) }},
		{"kexalgorithms", kindKex, func(l []string) { o.KeyExchanges = l }},
		{"hostkeyalgorithms", kindHostKey, func(l []string) { o.HostKeyAlgorithms = l }},
		{"pubkeyacceptedalgorithms", kindPubkey, func(l []string) { o.PublicKeyAcceptedTypes = l }},
	} {
		if !from(a.kw) {
			continue
		}
		list, err := configAlgorithms(a.kind, cfg.AlgorithmSpec(a.kw), log)
		if err != nil {
			fail(a.kw, err)
			continue
		}
		a.set(list)
	}

	trueYes := map[string]string{"true": "yes", "false": "no"}
	if from("stricthostkeychecking") {
		apply("stricthostkeychecking", StrictHostKeyChecking(cmp.Or(trueYes[value("stricthostkeychecking")], value("stricthostkeychecking"))))
	}
	if from("preferredauthentications") {
		if methods := knownMethods(value("preferredauthentications"), log); methods != "" {
			apply("preferredauthentications", PreferredAuthentications(methods))
		}
	}
	if from("bindaddress") {
		apply("bindaddress", BindAddress(value("bindaddress")))
	}
	if from("connecttimeout") {
		o.Timeout = cfg.Duration("connecttimeout")
	}
	if from("serveraliveinterval") {
		o.ServerAliveInterval = cfg.Duration("serveraliveinterval")
	}
	if from("rekeylimit") {
		// A half the file leaves out is 0, the default, as in Options.
		o.RekeyLimitBytes, o.RekeyLimitInterval = cfg.RekeyLimit()
	}
	if from("loglevel") {
		if lv, err := parseLogLevel(value("loglevel")); err == nil {
			o.LogLevel = lv
		}
	}
	if from("addressfamily") {
		o.AddressFamily = value("addressfamily")
	}
	if from("requesttty") {
		o.RequestTTY = cmp.Or(trueYes[value("requesttty")], value("requesttty"))
	}
	for kw, dst := range map[string]*bool{
		"identitiesonly": &o.IdentitiesOnly, "hashknownhosts": &o.HashKnownHosts,
		"passwordauthentication": &o.PasswordAuthentication, "kbdinteractiveauthentication": &o.KbdInteractiveAuthentication,
		"batchmode": &o.BatchMode,
	} {
		if from(kw) {
			*dst = cfg.Bool(kw)
		}
	}
	if from("pubkeyauthentication") {
		// unbound and host-bound are "yes" here: the
		// publickey-hostbound extension is not implemented.
		o.PubkeyAuthentication = value("pubkeyauthentication") != "false"
	}
	if o.BatchMode && !cfg.IsSet("serveraliveinterval") && !pre["serveraliveinterval"] {
		o.ServerAliveInterval = 5 * time.Minute // OpenSSH's default in batch mode
	}
	if from("controlmaster") {
		apply("controlmaster", ControlMaster(cmp.Or(trueYes[value("controlmaster")], value("controlmaster"))))
	}
	if from("controlpath") {
		apply("controlpath", ControlPath(value("controlpath")))
	}
	if from("checkhostip") {
		apply("checkhostip", CheckHostIP(cfg.Bool("checkhostip")))
	}
	if from("numberofpasswordprompts") {
		o.NumberOfPasswordPrompts = cfg.Int("numberofpasswordprompts")
	}
	if from("serveralivecountmax") {
		o.ServerAliveCountMax = cfg.Int("serveralivecountmax")
	}
	return errors.Join(errs...)
}

// jumpSpec is the ProxyJump value as configured ("none" included).
func jumpSpec(cfg *sshconfig.Config) string {
	if v := cfg.Get("proxyjump"); len(v) > 0 {
		return v[0]
	}
	return "none"
}

// agentPath resolves an IdentityAgent or ForwardAgent value as ssh does
// when it uses it: "none" and "SSH_AUTH_SOCK" stay as they are, a legacy
// "$NAME" is read from the environment ("none" when unset); anything else
// sshconfig has already expanded.
func agentPath(v string) string {
	if strings.HasPrefix(v, "$") && !strings.HasPrefix(v, "${") {
		if e := os.Getenv(v[1:]); e != "" {
			return e
		}
		return "none"
	}
	return v
}

// logLevelNames maps OpenSSH's LogLevel names onto libssh's verbosities, as
// libssh's config parser does.
var logLevelNames = map[string]LogVerbosity{
	"quiet": LogNoLogging, "silent": LogNoLogging, "fatal": LogWarning, "error": LogWarning, "info": LogWarning,
	"verbose": LogProtocol, "debug": LogPacket, "debug1": LogPacket,
	"debug2": LogFunctions, "debug3": LogFunctions,
}

func parseLogLevel(s string) (LogVerbosity, error) {
	lv, ok := logLevelNames[strings.ToLower(s)]
	if !ok {
		return 0, fmt.Errorf("unsupported log level %q", s)
	}
	return lv, nil
}

// configAlgorithms resolves an algorithm list from a file. Names x/crypto
// does not implement (OpenSSH knows more: umac, sk- keys, sntrup) are
// dropped with a log message rather than failing the whole config; a list
// with nothing this library can use is an error.
func configAlgorithms(kind algorithmKind, spec string, log *slog.Logger) ([]string, error) {
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
		log.Info("ssh_config: algorithms not implemented by this library are skipped", "list", spec, "skipped", dropped)
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
func knownMethods(list string, log *slog.Logger) string {
	var keep []string
	for m := range strings.SplitSeq(list, ",") {
		switch m {
		case "none", "publickey", "password", "keyboard-interactive", "hostbased", "gssapi-with-mic":
			keep = append(keep, m)
		default:
			log.Info("ssh_config: unknown authentication method skipped", "method", m)
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
		line("proxyjump", sshconfig.FormatProxyJump(o.ProxyJump))
	}
	return b.String()
}
