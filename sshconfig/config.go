package sshconfig

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Config is a resolved configuration: every keyword's value(s) for one
// host, as `ssh -G` has them. Get and String give them in `ssh -G` form;
// the typed accessors give what a client needs. A Config is read-only and
// safe for concurrent use; its zero value is not useful (Resolve makes
// one).
type Config struct {
	host  string
	vals  map[string][]string // keyword -> values; after finish, every keyword `ssh -G` prints
	set   map[string]bool     // a file or Input gave the keyword its value
	where map[string]string   // "FILE line N" of that value

	hostnameDone bool   // vals["hostname"] is expanded (after the first pass)
	finalHost    string // the host name Host and Match host see in the final pass

	localFwd, remoteFwd []fwd // LocalForward with DynamicForward, and RemoteForward, in order
	algSpec             map[string]string
	jumpNone            bool     // ProxyJump none (not a host named "none")
	identityFiles       []string // as configured, before defaults
	tokens              Tokens
}

func newConfig(host string) *Config {
	return &Config{host: host, vals: map[string][]string{}, set: map[string]bool{}, where: map[string]string{}, algSpec: map[string]string{}}
}

// obtain records the first value of kw.
func (c *Config) obtain(kw, where string, vals ...string) {
	c.vals[kw], c.set[kw], c.where[kw] = vals, true, where
}

func (c *Config) first1(kw string) string {
	if v := c.vals[kw]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func (c *Config) errAt(kw string, err error) error {
	file, line := c.where[kw], 0
	if f, n, ok := strings.Cut(file, " line "); ok {
		file = f
		line, _ = strconv.Atoi(n)
	}
	if file == "command line" {
		file = ""
	}
	return &Error{File: file, Line: line, Err: err}
}

// resolvedHost is the host name the resolution ends with: HostName with %h
// expanded, or the name given, lowercased as ssh does.
func (c *Config) resolvedHost() (string, error) {
	if c.hostnameDone {
		return c.first1("hostname"), nil
	}
	h := c.host
	if c.set["hostname"] {
		var err error
		if h, err = expandTokens(c.first1("hostname"), Tokens{'h': c.host}, TokensHostname, false, false); err != nil {
			return "", c.errAt("hostname", err)
		}
	}
	return strings.ToLower(h), nil
}

// defaults are OpenSSH 9.2's (Debian's build, as `ssh -G` prints them) for
// the keywords whose default does not depend on others.
var defaults = map[string]string{
	"addressfamily": "any", "batchmode": "no", "canonicalizefallbacklocal": "yes", "canonicalizehostname": "false",
	"checkhostip": "no", "compression": "no", "controlmaster": "false", "enablesshkeysign": "no",
	"clearallforwardings": "no", "exitonforwardfailure": "no", "fingerprinthash": "SHA256", "forwardx11": "no",
	"forwardx11trusted": "yes", "gatewayports": "no", "gssapiauthentication": "no", "gssapikeyexchange": "no",
	"gssapidelegatecredentials": "no", "gssapitrustdns": "no", "gssapirenewalforcesrekey": "no",
	"hashknownhosts": "no", "hostbasedauthentication": "no", "identitiesonly": "no",
	"kbdinteractiveauthentication": "yes", "nohostauthenticationforlocalhost": "no", "passwordauthentication": "yes",
	"permitlocalcommand": "no", "proxyusefdpass": "no", "pubkeyauthentication": "true", "requesttty": "auto",
	"sessiontype": "default", "stdinnull": "no", "forkafterauthentication": "no", "streamlocalbindunlink": "no",
	"stricthostkeychecking": "ask", "tcpkeepalive": "yes", "tunnel": "false", "verifyhostkeydns": "false",
	"visualhostkey": "no", "enableescapecommandline": "no", "canonicalizemaxdots": "1", "connectionattempts": "1",
	"forwardx11timeout": "1200", "numberofpasswordprompts": "3", "serveralivecountmax": "3", "requiredrsasize": "1024",
	"loglevel": "INFO", "securitykeyprovider": "internal", "xauthlocation": "/usr/bin/xauth",
	"canonicaldomains": "none", "globalknownhostsfile": "/etc/ssh/ssh_known_hosts /etc/ssh/ssh_known_hosts2",
	"logverbose": "none", "permitremoteopen": "any", "addkeystoagent": "false", "forwardagent": "no",
	"connecttimeout": "none", "tunneldevice": "any:any", "canonicalizepermittedcnames": "none", "controlpersist": "no",
	"escapechar": "~", "ipqos": "lowdelay throughput", "streamlocalbindmask": "0177", "syslogfacility": "USER",
}

// DefaultIdentityFiles returns the list OpenSSH 9.2 tries when no
// IdentityFile is configured, as `ssh -G` prints it (a new slice each
// call).
func DefaultIdentityFiles() []string {
	return []string{"~/.ssh/id_rsa", "~/.ssh/id_ecdsa", "~/.ssh/id_ecdsa_sk",
		"~/.ssh/id_ed25519", "~/.ssh/id_ed25519_sk", "~/.ssh/id_xmss", "~/.ssh/id_dsa"}
}

// finish is OpenSSH's fill_default_options and what ssh.c does before
// `ssh -G` prints: defaults, the algorithm lists, and the expansions.
func (p *parser) finish() error {
	c := p.c
	host, err := c.resolvedHost()
	if err != nil {
		return err
	}
	c.vals["hostname"] = []string{host}
	c.vals["host"] = []string{c.host}
	if !c.set["user"] {
		c.vals["user"] = []string{p.local.user}
	}
	if !c.set["port"] {
		c.vals["port"] = []string{"22"}
	}
	for kw, d := range defaults {
		if !c.set[kw] {
			c.vals[kw] = strings.Split(d, "\x00")
		}
	}
	// OpenSSH's assemble_algorithms, in its order: when a list keeps
	// nothing (KexAlgorithms naming only GSSAPI exchanges), it and the
	// ones after it are left unset and not printed.
	failed := false
	for _, kw := range []string{"ciphers", "macs", "kexalgorithms", "hostbasedacceptedalgorithms",
		"pubkeyacceptedalgorithms", "casignaturealgorithms", "hostkeyalgorithms", "gssapikexalgorithms"} {
		spec := c.first1(kw)
		if !c.set[kw] {
			spec = ""
		}
		c.algSpec[kw] = spec
		list, err := keywords[kw].algs.assemble(spec)
		if kw == "hostkeyalgorithms" {
			failed = false // assembled on its own
		}
		switch {
		case failed || errors.Is(err, errNoAlgorithm):
			failed = kw != "hostkeyalgorithms" && kw != "gssapikexalgorithms"
			delete(c.vals, kw)
		case err != nil:
			return c.errAt(kw, err)
		default:
			c.vals[kw] = []string{list}
		}
	}
	for _, kw := range []string{"globalknownhostsfile", "canonicaldomains", "permitremoteopen", "canonicalizepermittedcnames"} {
		c.vals[kw] = []string{strings.Join(c.vals[kw], " ")}
	}
	// Debian: BatchMode sets a 300 s keepalive unless one is configured.
	if !c.set["serveraliveinterval"] {
		c.vals["serveraliveinterval"] = []string{"0"}
		if c.first1("batchmode") == "yes" {
			c.vals["serveraliveinterval"] = []string{"300"}
		}
	}
	userKH := c.vals["userknownhostsfile"]
	if !c.set["userknownhostsfile"] {
		userKH = []string{"~/.ssh/known_hosts", "~/.ssh/known_hosts2"}
	}
	if !c.set["updatehostkeys"] {
		c.vals["updatehostkeys"] = []string{"false"}
		if c.first1("verifyhostkeydns") == "false" && (!c.set["userknownhostsfile"] ||
			len(userKH) == 1 && userKH[0] == "~/.ssh/known_hosts") {
			c.vals["updatehostkeys"] = []string{"true"}
		}
	} else if c.first1("updatehostkeys") == "ask" && c.first1("batchmode") == "yes" {
		c.vals["updatehostkeys"] = []string{"false"}
	}
	if c.first1("clearallforwardings") == "yes" {
		c.localFwd, c.remoteFwd = nil, nil
		c.vals["tunnel"] = []string{"false"}
	}
	c.identityFiles = slices.Clone(c.vals["identityfile"])
	if len(c.vals["identityfile"]) == 0 {
		c.vals["identityfile"] = DefaultIdentityFiles()
	}
	bytes, secs := c.first1("rekeylimit.bytes"), c.first1("rekeylimit.time")
	c.vals["rekeylimit"] = []string{cmpOr(bytes, "0") + " " + cmpOr(secs, "0")}

	// ssh.c refuses these before it prints, lowercases HostKeyAlias, and
	// treats "none" as unset for these commands and paths.
	if c.first1("connectionattempts") == "0" {
		return c.errAt("connectionattempts", errors.New("invalid number of ConnectionAttempts"))
	}
	if a := c.first1("hostkeyalias"); a != "" {
		c.vals["hostkeyalias"] = []string{strings.ToLower(a)}
	}
	for _, kw := range []string{"knownhostscommand", "localcommand", "remotecommand", "pkcs11provider",
		"revokedhostkeys", "securitykeyprovider"} {
		if strings.EqualFold(c.first1(kw), "none") {
			delete(c.vals, kw)
		}
	}

	// The connection's tokens, then what ssh.c expands before printing.
	port, _ := strconv.Atoi(c.first1("port"))
	jump := c.first1("proxyjump")
	if c.jumpNone {
		jump = ""
	}
	alias := c.first1("hostkeyalias")
	c.tokens = connectionTokens(p.local, host, c.host, port, c.first1("user"), alias, jump)
	expandPath := func(kw, s string) (string, error) {
		x, err := c.tokens.ExpandPath(s)
		if err != nil {
			return "", c.errAt(kw, fmt.Errorf("%s %s: %w", kw, s, err))
		}
		return x, nil
	}
	if cp := c.first1("controlpath"); cp != "" {
		if cp == "none" {
			delete(c.vals, "controlpath")
		} else {
			x, err := expandPath("controlpath", cp)
			if err != nil {
				return err
			}
			c.vals["controlpath"] = []string{x}
		}
	}
	if rc := c.first1("remotecommand"); rc != "" {
		x, err := c.tokens.Expand(rc, TokensPath)
		if err != nil {
			return c.errAt("remotecommand", err)
		}
		c.vals["remotecommand"] = []string{x}
	}
	for _, kw := range []string{"identityagent", "forwardagent.socket"} {
		if v := c.first1(kw); v != "" {
			x, err := expandPath(strings.TrimSuffix(kw, ".socket"), v)
			if err != nil {
				return err
			}
			c.vals[kw] = []string{x}
		}
	}
	if s := c.first1("forwardagent.socket"); s != "" {
		c.vals["forwardagent"] = []string{s}
	}
	var kh []string
	for _, f := range userKH {
		x, err := expandPath("userknownhostsfile", f)
		if err != nil {
			return err
		}
		kh = append(kh, x)
	}
	c.vals["userknownhostsfile"] = []string{strings.Join(kh, " ")}
	for _, list := range [][]fwd{c.localFwd, c.remoteFwd} {
		for i := range list {
			f := &list[i].f
			for _, path := range []*string{&f.ListenPath, &f.ConnectPath} {
				if *path == "" {
					continue
				}
				if *path, err = c.tokens.Expand(*path, TokensPath); err != nil {
					return &Error{Err: fmt.Errorf("forward path: %w", err)}
				}
			}
		}
	}
	c.vals["dynamicforward"], c.vals["localforward"], c.vals["remoteforward"] = nil, nil, nil
	for _, e := range c.localFwd {
		// OpenSSH 9.2's dump lists a forward to a Unix socket under
		// dynamicforward too.
		if e.dynamic || e.f.ConnectHost == "" {
			c.vals["dynamicforward"] = append(c.vals["dynamicforward"], listenString(e.f))
		}
		if !e.dynamic {
			c.vals["localforward"] = append(c.vals["localforward"], e.f.String())
		}
	}
	for _, e := range c.remoteFwd {
		s := e.f.String()
		if e.dynamic {
			s += " [socks]:0"
		}
		c.vals["remoteforward"] = append(c.vals["remoteforward"], s)
	}
	pc := c.first1("proxycommand")
	if strings.EqualFold(pc, "none") {
		delete(c.vals, "proxycommand")
	}
	if strings.EqualFold(jump, "") {
		delete(c.vals, "proxyjump")
	} else {
		c.vals["proxyjump"] = []string{FormatProxyJump(jump)}
		delete(c.vals, "proxycommand")
	}
	return nil
}

func listenString(f Forward) string {
	return Forward{ListenHost: f.ListenHost, ListenPort: f.ListenPort, ListenPath: f.ListenPath}.String()
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// dumpOrder is the order `ssh -G` (OpenSSH 9.2, Debian) prints keywords in.
var dumpOrder = strings.Fields(`host user hostname port
addressfamily batchmode canonicalizefallbacklocal canonicalizehostname checkhostip compression controlmaster
enablesshkeysign clearallforwardings exitonforwardfailure fingerprinthash forwardx11 forwardx11trusted gatewayports
gssapiauthentication gssapikeyexchange gssapidelegatecredentials gssapitrustdns gssapirenewalforcesrekey
gssapiclientidentity gssapiserveridentity gssapikexalgorithms hashknownhosts hostbasedauthentication identitiesonly
kbdinteractiveauthentication nohostauthenticationforlocalhost passwordauthentication permitlocalcommand
proxyusefdpass pubkeyauthentication requesttty sessiontype stdinnull forkafterauthentication streamlocalbindunlink
stricthostkeychecking tcpkeepalive tunnel verifyhostkeydns visualhostkey updatehostkeys enableescapecommandline
canonicalizemaxdots connectionattempts forwardx11timeout numberofpasswordprompts serveralivecountmax
serveraliveinterval requiredrsasize
bindaddress bindinterface ciphers controlpath hostkeyalgorithms hostkeyalias hostbasedacceptedalgorithms
identityagent ignoreunknown kbdinteractivedevices kexalgorithms casignaturealgorithms localcommand remotecommand
loglevel macs pkcs11provider securitykeyprovider preferredauthentications pubkeyacceptedalgorithms revokedhostkeys
xauthlocation knownhostscommand
dynamicforward localforward remoteforward
identityfile canonicaldomains certificatefile globalknownhostsfile userknownhostsfile sendenv setenv logverbose
permitremoteopen addkeystoagent forwardagent connecttimeout tunneldevice canonicalizepermittedcnames controlpersist
escapechar ipqos rekeylimit streamlocalbindmask syslogfacility proxycommand proxyjump`)

// String prints the configuration exactly as `ssh -G` (OpenSSH 9.2)
// does: one "keyword value" line per value, in its order, with its
// spellings (true/false where it prints them, times in seconds, the
// default identity files). As in `ssh -G`, IdentityFile, CertificateFile,
// GlobalKnownHostsFile, ProxyCommand, LocalCommand and KnownHostsCommand
// are printed as written (tokens and ~ not expanded); UserKnownHostsFile,
// ControlPath, IdentityAgent, ForwardAgent, RemoteCommand and forward
// socket paths expanded.
func (c *Config) String() string {
	var b strings.Builder
	for _, kw := range dumpOrder {
		name := kw
		if kw == "canonicalizepermittedcnames" {
			name = "canonicalizePermittedcnames" // sic: OpenSSH's spelling
		}
		for _, v := range c.vals[kw] {
			b.WriteString(name + " " + v + "\n")
		}
	}
	return b.String()
}

// Get returns the values of keyword (any case; aliases such as
// PubkeyAcceptedKeyTypes name their keyword) as `ssh -G` prints them, one
// element per line it prints: defaults included, nil for a keyword it
// does not print (unset strings such as BindAddress). Keywords of later
// OpenSSH versions that this package accepts (Tag, ...) return what was
// configured.
func (c *Config) Get(keyword string) []string {
	kw, ok := canonical(keyword)
	if !ok {
		return nil
	}
	return slices.Clone(c.vals[kw])
}

// IsSet reports whether keyword got its value from a file or from Input
// rather than from OpenSSH's default.
func (c *Config) IsSet(keyword string) bool {
	kw, ok := canonical(keyword)
	return ok && c.set[kw]
}

// Where returns "FILE line N" (or "command line") for the line that set
// keyword, "" when it has its default.
func (c *Config) Where(keyword string) string {
	kw, _ := canonical(keyword)
	return c.where[kw]
}

// canonical is the keyword's canonical name; "host" is the name given.
func canonical(keyword string) (string, bool) {
	kw := strings.ToLower(keyword)
	if kw == "host" {
		return kw, true
	}
	k, ok := keywords[kw]
	return k.name, ok
}

// Host is the host name Resolve was given.
func (c *Config) Host() string { return c.host }

// Hostname is the host to connect to: HostName with %h expanded, or the
// name given, lowercased.
func (c *Config) Hostname() string { return c.first1("hostname") }

// User is the remote user: configured, or the local user.
func (c *Config) User() string { return c.first1("user") }

// Port is the remote port: configured, or 22.
func (c *Config) Port() int { n, _ := strconv.Atoi(c.first1("port")); return n }

// Bool reports a yes/no (or true/false) keyword's value: true for "yes"
// and "true"; false for anything else, including other words of
// multi-valued keywords ("ask", "auto").
func (c *Config) Bool(keyword string) bool {
	v := c.Get(keyword)
	return len(v) == 1 && (v[0] == "yes" || v[0] == "true")
}

// Int returns an integer keyword's value (ConnectionAttempts,
// NumberOfPasswordPrompts, ServerAliveCountMax, ...), -1 when it has none
// or is not a number.
func (c *Config) Int(keyword string) int {
	v := c.Get(keyword)
	if len(v) != 1 {
		return -1
	}
	n, err := strconv.Atoi(v[0])
	if err != nil {
		return -1
	}
	return n
}

// Duration returns a time keyword's value (ConnectTimeout,
// ServerAliveInterval, ForwardX11Timeout); 0 when it is unset ("none").
func (c *Config) Duration(keyword string) time.Duration {
	n := c.Int(keyword)
	if n < 0 {
		return 0
	}
	return time.Duration(n) * time.Second
}

// IdentityFiles returns the IdentityFile values configured, in order, as
// written (expand them with Tokens().ExpandPath); nil when none is, where
// OpenSSH uses DefaultIdentityFiles.
func (c *Config) IdentityFiles() []string { return slices.Clone(c.identityFiles) }

// CertificateFiles returns the CertificateFile values, as written.
func (c *Config) CertificateFiles() []string { return c.Get("certificatefile") }

// UserKnownHostsFiles returns the UserKnownHostsFile paths, expanded; nil
// for "none".
func (c *Config) UserKnownHostsFiles() []string { return fileList(c.first1("userknownhostsfile")) }

// GlobalKnownHostsFiles returns the GlobalKnownHostsFile paths as written
// (OpenSSH expands only "~" in them); nil for "none".
func (c *Config) GlobalKnownHostsFiles() []string { return fileList(c.first1("globalknownhostsfile")) }

func fileList(s string) []string {
	if strings.EqualFold(s, "none") {
		return nil
	}
	return strings.Fields(s)
}

// Algorithms returns an algorithm keyword's resolved list (Ciphers, MACs,
// KexAlgorithms, HostKeyAlgorithms, PubkeyAcceptedAlgorithms,
// HostbasedAcceptedAlgorithms, CASignatureAlgorithms): OpenSSH's default
// with the configured "+", "-" or "^" applied and patterns expanded.
func (c *Config) Algorithms(keyword string) []string {
	v := c.Get(keyword)
	if len(v) != 1 {
		return nil
	}
	return strings.Split(v[0], ",")
}

// AlgorithmSpec returns an algorithm keyword's value as configured
// ("+aes128-cbc", a list), "" when it has OpenSSH's default; a client
// with another set of algorithms applies it to its own defaults.
func (c *Config) AlgorithmSpec(keyword string) string {
	kw, _ := canonical(keyword)
	return c.algSpec[kw]
}

// LocalForwards, RemoteForwards and DynamicForwards return the forwards,
// in order, with tokens expanded in their socket paths. A dynamic
// RemoteForward has no Connect side.
func (c *Config) LocalForwards() []Forward { return c.forwards(c.localFwd, false) }

// RemoteForwards: see LocalForwards.
func (c *Config) RemoteForwards() []Forward {
	var out []Forward
	for _, e := range c.remoteFwd {
		out = append(out, e.f)
	}
	return out
}

// DynamicForwards: see LocalForwards.
func (c *Config) DynamicForwards() []Forward { return c.forwards(c.localFwd, true) }

func (c *Config) forwards(list []fwd, dynamic bool) []Forward {
	var out []Forward
	for _, e := range list {
		if e.dynamic == dynamic {
			out = append(out, e.f)
		}
	}
	return out
}

// ForwardAgent reports whether the agent is forwarded and, when the
// keyword named one, the socket (expanded; a legacy "$NAME" as written).
func (c *Config) ForwardAgent() (on bool, socket string) {
	return c.first1("forwardagent") != "no", c.first1("forwardagent.socket")
}

// RekeyLimit returns RekeyLimit's byte count and interval; 0 means the
// default for each.
func (c *Config) RekeyLimit() (bytes int64, interval time.Duration) {
	bytes, _ = strconv.ParseInt(c.first1("rekeylimit.bytes"), 10, 64)
	secs, _ := strconv.ParseInt(c.first1("rekeylimit.time"), 10, 64)
	return bytes, time.Duration(secs) * time.Second
}

// Tokens returns the %-token values of the resolved connection (%h the
// final host name, %n the name given, %p, %r, %u, %d, %k, %C, %j, ...),
// for expanding IdentityFile and the other paths as ssh does when it uses
// them.
func (c *Config) Tokens() Tokens {
	t := Tokens{}
	for k, v := range c.tokens {
		t[k] = v
	}
	return t
}
