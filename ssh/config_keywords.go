package ssh

import (
	"errors"
	"fmt"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"
)

type keywordID int

// The keywords with a meaning here. Every other keyword OpenSSH knows maps
// to kwIgnored.
const (
	kwIgnored keywordID = iota
	kwHost
	kwMatch
	kwInclude
	kwHostname
	kwPort
	kwUser
	kwIdentityFile
	kwIdentitiesOnly
	kwIdentityAgent
	kwCertificateFile
	kwUserKnownHostsFile
	kwGlobalKnownHostsFile
	kwStrictHostKeyChecking
	kwHashKnownHosts
	kwHostKeyAlias
	kwCheckHostIP
	kwProxyCommand
	kwProxyJump
	kwConnectTimeout
	kwBindAddress
	kwAddressFamily
	kwCiphers
	kwMACs
	kwKexAlgorithms
	kwHostKeyAlgorithms
	kwPubkeyAcceptedAlgorithms
	kwPreferredAuthentications
	kwPubkeyAuthentication
	kwPasswordAuthentication
	kwKbdInteractiveAuthentication
	kwNumberOfPasswordPrompts
	kwServerAliveInterval
	kwServerAliveCountMax
	kwForwardAgent
	kwSendEnv
	kwSetEnv
	kwRequestTTY
	kwLocalForward
	kwRemoteForward
	kwDynamicForward
	kwRekeyLimit
	kwLogLevel
	kwBatchMode
	kwIgnoreUnknown
	kwTag
	kwCanonicalizeHostname
)

type keywordSpec struct {
	id   keywordID
	name string // the canonical (lowercase) keyword, as `ssh -G` prints it
}

// configKeywords is every keyword OpenSSH's readconf.c knows (9.2, with the
// aliases, the deprecated and unsupported ones it accepts, Debian's GSSAPI
// additions, and the ones added up to 10.0), by lowercase name.
var configKeywords = func() map[string]keywordSpec {
	m := map[string]keywordSpec{}
	add := func(id keywordID, canonical string, aliases ...string) {
		for _, n := range append([]string{canonical}, aliases...) {
			m[n] = keywordSpec{id, canonical}
		}
	}
	add(kwHost, "host")
	add(kwMatch, "match")
	add(kwInclude, "include")
	add(kwHostname, "hostname")
	add(kwPort, "port")
	add(kwUser, "user")
	add(kwIdentityFile, "identityfile", "identityfile2")
	add(kwIdentitiesOnly, "identitiesonly")
	add(kwIdentityAgent, "identityagent")
	add(kwCertificateFile, "certificatefile")
	add(kwUserKnownHostsFile, "userknownhostsfile")
	add(kwGlobalKnownHostsFile, "globalknownhostsfile")
	add(kwStrictHostKeyChecking, "stricthostkeychecking")
	add(kwHashKnownHosts, "hashknownhosts")
	add(kwHostKeyAlias, "hostkeyalias")
	add(kwCheckHostIP, "checkhostip")
	add(kwProxyCommand, "proxycommand")
	add(kwProxyJump, "proxyjump")
	add(kwConnectTimeout, "connecttimeout")
	add(kwBindAddress, "bindaddress")
	add(kwAddressFamily, "addressfamily")
	add(kwCiphers, "ciphers")
	add(kwMACs, "macs")
	add(kwKexAlgorithms, "kexalgorithms")
	add(kwHostKeyAlgorithms, "hostkeyalgorithms")
	add(kwPubkeyAcceptedAlgorithms, "pubkeyacceptedalgorithms", "pubkeyacceptedkeytypes")
	add(kwPreferredAuthentications, "preferredauthentications")
	add(kwPubkeyAuthentication, "pubkeyauthentication", "dsaauthentication")
	add(kwPasswordAuthentication, "passwordauthentication")
	add(kwKbdInteractiveAuthentication, "kbdinteractiveauthentication",
		"challengeresponseauthentication", "skeyauthentication", "tisauthentication")
	add(kwNumberOfPasswordPrompts, "numberofpasswordprompts")
	add(kwServerAliveInterval, "serveraliveinterval")
	add(kwServerAliveCountMax, "serveralivecountmax")
	add(kwForwardAgent, "forwardagent")
	add(kwSendEnv, "sendenv")
	add(kwSetEnv, "setenv")
	add(kwRequestTTY, "requesttty")
	add(kwLocalForward, "localforward")
	add(kwRemoteForward, "remoteforward")
	add(kwDynamicForward, "dynamicforward")
	add(kwRekeyLimit, "rekeylimit")
	add(kwLogLevel, "loglevel")
	add(kwBatchMode, "batchmode")
	add(kwIgnoreUnknown, "ignoreunknown")
	add(kwTag, "tag")
	add(kwCanonicalizeHostname, "canonicalizehostname")
	for _, n := range ignoredKeywords {
		if _, dup := m[n]; !dup {
			m[n] = keywordSpec{kwIgnored, n}
		}
	}
	return m
}()

// ignoredKeywords are accepted and logged: this library has no use for them
// (or, for the deprecated and unsupported ones, neither has OpenSSH).
var ignoredKeywords = []string{
	// deprecated and unsupported in OpenSSH itself
	"protocol", "cipher", "fallbacktorsh", "globalknownhostsfile2", "rhostsauthentication",
	"userknownhostsfile2", "useroaming", "usersh", "useprivilegedport", "afstokenpassing",
	"kerberosauthentication", "kerberostgtpassing", "rsaauthentication",
	"rhostsrsaauthentication", "compressionlevel", "keepalive",
	// GSSAPI (with Debian's key exchange patch) and PKCS#11
	"gssapiauthentication", "gssapidelegatecredentials", "gssapikeyexchange",
	"gssapiclientidentity", "gssapiserveridentity", "gssapirenewalforcesrekey",
	"gssapitrustdns", "gssapikexalgorithms", "pkcs11provider", "smartcarddevice",
	// the rest of OpenSSH's client keywords
	"forwardx11", "forwardx11trusted", "forwardx11timeout", "exitonforwardfailure",
	"xauthlocation", "gatewayports", "kbdinteractivedevices", "hostbasedauthentication",
	"addkeystoagent", "permitremoteopen", "escapechar", "connectionattempts", "compression",
	"tcpkeepalive", "syslogfacility", "logverbose", "casignaturealgorithms",
	"bindinterface", "clearallforwardings", "enablesshkeysign", "verifyhostkeydns",
	"nohostauthenticationforlocalhost", "controlpath", "controlmaster", "controlpersist",
	"tunnel", "tunneldevice", "localcommand", "permitlocalcommand", "remotecommand",
	"visualhostkey", "ipqos", "sessiontype", "stdinnull", "forkafterauthentication",
	"proxyusefdpass", "canonicaldomains", "canonicalizefallbacklocal", "canonicalizemaxdots",
	"canonicalizepermittedcnames", "streamlocalbindmask", "streamlocalbindunlink",
	"revokedhostkeys", "fingerprinthash", "updatehostkeys", "hostbasedacceptedalgorithms",
	"hostbasedkeytypes", "securitykeyprovider", "knownhostscommand", "requiredrsasize",
	"enableescapecommandline", "usekeychain",
	// added after 9.2
	"obscurekeystroketiming", "channeltimeout", "refuseconnection", "warnweakcrypto",
	"versionaddendum", "pubkeyauthoptions",
}

// configValues is what the files say, keyword by keyword, before tokens are
// expanded: the first obtained value of each, and the accumulated lists.
type configValues struct {
	set map[string]bool // keyword (or "proxy") has its value: later lines are ignored
	cfg map[string]bool // ... and the value came from a file, not from SetOption
	pos map[string]string

	hostname     string
	hostnameDone bool   // hostname is already expanded (after the first pass)
	finalHost    string // the host name Host and Match host see in the final pass
	port         int
	user         string

	identityFiles, certificateFiles []string // raw, in order
	identitiesOnly                  bool
	identityAgent                   string
	userKnownHosts, globalKnownHost []string
	strictHostKeyChecking           string
	hashKnownHosts, checkHostIP     bool
	hostKeyAlias                    string
	proxyCommand, proxyJump         string
	connectTimeout                  time.Duration
	bindAddress, addressFamily      string
	ciphers, macs, kex              string
	hostKeyAlgorithms, pubkeyAlgs   string
	preferredAuth                   string
	pubkeyAuth, passwordAuth        bool
	kbdintAuth                      bool
	passwordPrompts                 int
	aliveInterval                   time.Duration
	aliveCountMax                   int
	forwardAgent                    bool
	forwardAgentSocket              string
	sendEnv, setEnv                 []string
	requestTTY                      string
	localFwd, remoteFwd, dynamicFwd []Forward
	rekeyBytes                      int64
	rekeyInterval                   time.Duration
	logLevel                        LogVerbosity
	batchMode                       bool
	ignoreUnknown                   string
	tag                             string
	canonicalize                    bool
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
}

// newConfigValues starts a resolution from the options set through the API:
// they are taken as OpenSSH takes command-line options, read before any
// file, so they win and Match user and exec see them.
func newConfigValues(o Options, explicit map[string]bool) *configValues {
	v := &configValues{set: map[string]bool{}, cfg: map[string]bool{}, pos: map[string]string{}}
	for name, kw := range optionKeywords {
		if explicit[name] {
			v.set[kw] = true
			if kw == "rekeylimit" {
				v.set["rekeylimit.interval"] = true
			}
		}
	}
	// Hostname("user@host") sets the user without marking User.
	if explicit["User"] || o.User != localUser() {
		v.set["user"] = true
	}
	if v.set["user"] {
		v.user = o.User
	}
	if v.set["port"] {
		v.port = o.Port
	}
	v.hostKeyAlias = o.HostKeyAlias
	if explicit["ProxyJump"] && !strings.EqualFold(o.ProxyJump, "none") {
		v.set["proxycommand"] = true // a jump host rules out ProxyCommand
	}
	return v
}

// first reports whether an active line sets key now (it had no value yet),
// and records that it has one.
func (v *configValues) first(key string, active bool, where string) bool {
	if !active || v.set[key] {
		return false
	}
	v.set[key], v.cfg[key], v.pos[key] = true, true, where
	return true
}

// keyword applies one line of a keyword other than Host, Match and Include.
// Values are checked whether or not the line is active, as OpenSSH does.
func (p *configParser) keyword(spec keywordSpec, args []string, raw string, active bool, file string, line int) error {
	v := p.v
	where := fmt.Sprintf("%s line %d", file, line)
	kw := spec.name
	first := func() bool { return v.first(kw, active, where) }
	switch spec.id {
	case kwIgnored:
		if active {
			p.log.Debug("ssh_config: keyword ignored by this library", "keyword", kw, "file", file, "line", line)
		}
		return nil
	case kwProxyCommand:
		// OpenSSH 9.2 takes the rest of the line, comment included. A
		// ProxyJump to a host came first if proxycommand is set ("none").
		if v.first("proxycommand", active, where) {
			v.proxyCommand = strings.TrimLeft(raw, " \t\r\n=")
		}
		return nil
	case kwProxyJump:
		spec := strings.TrimLeft(raw, " \t\r\n=")
		if i := strings.IndexByte(spec, '#'); i >= 0 {
			spec = strings.TrimRight(spec[:i], " \t\r\n")
		}
		if !strings.EqualFold(spec, "none") {
			if _, err := parseJumpList(spec); err != nil {
				return fmt.Errorf("invalid ProxyJump %q: %w", spec, err)
			}
		}
		// Any ProxyCommand (even "none") or earlier ProxyJump wins; a jump
		// host then rules out a later ProxyCommand, but "none" does not.
		if active && !v.set["proxycommand"] && v.first("proxyjump", true, where) {
			v.proxyJump = spec
			if !strings.EqualFold(spec, "none") {
				v.first("proxycommand", true, where)
				v.proxyCommand = "none"
			}
		}
		return nil
	case kwSendEnv:
		for _, a := range args {
			if a == "" || strings.Contains(a, "=") {
				return errors.New("invalid environment name")
			}
			if !active {
				continue
			}
			if strings.HasPrefix(a, "-") {
				v.sendEnv = slices.DeleteFunc(v.sendEnv, func(e string) bool { return matchGlob(a[1:], e) })
				continue
			}
			v.sendEnv = append(v.sendEnv, a)
		}
		return nil
	case kwSetEnv:
		// OpenSSH takes the first SetEnv line that applies, whole.
		take := active && !v.set[kw]
		for _, a := range args {
			name, _, ok := strings.Cut(a, "=")
			if !ok {
				return errors.New("invalid SetEnv")
			}
			if !take || slices.ContainsFunc(v.setEnv, func(e string) bool { n, _, _ := strings.Cut(e, "="); return n == name }) {
				continue
			}
			v.setEnv = append(v.setEnv, a)
		}
		if take && len(v.setEnv) > 0 {
			v.first(kw, true, where)
		}
		return nil
	case kwUserKnownHostsFile, kwGlobalKnownHostsFile:
		for i, a := range args {
			if a == "" {
				return fmt.Errorf("keyword %s: empty argument", kw)
			}
			if strings.EqualFold(a, "none") && (i > 0 || len(args) > 1) {
				return fmt.Errorf("keyword %s: \"none\" argument must appear alone", kw)
			}
		}
		if len(args) > maxKnownHostsFiles {
			return fmt.Errorf("too many %s entries", kw)
		}
		if len(args) > 0 && first() {
			if spec.id == kwUserKnownHostsFile {
				v.userKnownHosts = args
			} else {
				v.globalKnownHost = args
			}
		}
		return nil
	case kwLocalForward, kwRemoteForward, kwDynamicForward:
		return p.forward(spec.id, args, active)
	case kwRekeyLimit:
		return p.rekeyLimit(args, active, where)
	}

	// The rest take exactly one argument.
	if len(args) == 0 || args[0] == "" {
		return fmt.Errorf("missing argument for %s", kw)
	}
	arg := args[0]
	if len(args) > 1 {
		return fmt.Errorf("keyword %s extra arguments at end of line", kw)
	}
	// Keywords whose one argument is kept as it is, first value winning.
	plain := map[keywordID]*string{
		kwHostname: &v.hostname, kwUser: &v.user, kwHostKeyAlias: &v.hostKeyAlias,
		kwBindAddress: &v.bindAddress, kwPreferredAuthentications: &v.preferredAuth,
		kwIgnoreUnknown: &v.ignoreUnknown, kwTag: &v.tag,
	}
	if dst, ok := plain[spec.id]; ok {
		if first() {
			*dst = arg
		}
		return nil
	}
	switch spec.id {
	case kwPort:
		port, err := parsePort(arg)
		if err != nil {
			return err
		}
		if first() {
			v.port = port
		}
	case kwIdentityFile, kwCertificateFile:
		if !active {
			return nil
		}
		list := &v.identityFiles
		if spec.id == kwCertificateFile {
			list = &v.certificateFiles
		}
		if len(*list) >= maxConfigListEntries {
			return fmt.Errorf("too many %s entries (max %d)", kw, maxConfigListEntries)
		}
		if !slices.Contains(*list, arg) {
			*list = append(*list, arg)
		}
	case kwIdentityAgent:
		if err := checkAgentPath(arg); err != nil {
			return err
		}
		if first() {
			v.identityAgent = arg
		}
	case kwForwardAgent:
		if b, err := parseFlag(arg); err == nil {
			if first() {
				v.forwardAgent = b
			}
			return nil
		}
		if err := checkAgentPath(arg); err != nil {
			return err
		}
		if first() {
			v.forwardAgent = true
		}
		if v.first("forwardagent.socket", active, where) {
			v.forwardAgentSocket = arg
		}
	case kwIdentitiesOnly, kwHashKnownHosts, kwCheckHostIP, kwPasswordAuthentication,
		kwKbdInteractiveAuthentication, kwBatchMode:
		b, err := parseFlag(arg)
		if err != nil {
			return fmt.Errorf("%s: %w", kw, err)
		}
		if first() {
			*map[keywordID]*bool{
				kwIdentitiesOnly: &v.identitiesOnly, kwHashKnownHosts: &v.hashKnownHosts,
				kwCheckHostIP: &v.checkHostIP, kwPasswordAuthentication: &v.passwordAuth,
				kwKbdInteractiveAuthentication: &v.kbdintAuth, kwBatchMode: &v.batchMode,
			}[spec.id] = b
		}
	case kwPubkeyAuthentication:
		var b bool
		switch strings.ToLower(arg) {
		case "yes", "true", "unbound", "host-bound":
			b = true
		case "no", "false":
		default:
			return fmt.Errorf("%s: unsupported value %q", kw, arg)
		}
		if first() {
			v.pubkeyAuth = b
		}
	case kwStrictHostKeyChecking:
		s, ok := multistate(arg, "off", "ask", "accept-new")
		if !ok {
			return fmt.Errorf("%s: unsupported value %q", kw, arg)
		}
		if first() {
			v.strictHostKeyChecking = s
		}
	case kwRequestTTY:
		s, ok := multistate(arg, "force", "auto")
		if !ok {
			return fmt.Errorf("%s: unsupported value %q", kw, arg)
		}
		if first() {
			v.requestTTY = s
		}
	case kwAddressFamily:
		s := strings.ToLower(arg)
		if s != "any" && s != "inet" && s != "inet6" {
			return fmt.Errorf("%s: unsupported value %q", kw, arg)
		}
		if first() {
			v.addressFamily = s
		}
	case kwCanonicalizeHostname:
		var on bool
		switch strings.ToLower(arg) {
		case "yes", "true", "always":
			on = true
		case "no", "false":
		default:
			return fmt.Errorf("%s: unsupported value %q", kw, arg)
		}
		if first() {
			// Canonicalization itself (DNS lookups in CanonicalDomains)
			// is not done; turning it on still brings OpenSSH's final
			// pass, which "Match canonical" blocks need.
			v.canonicalize = on
		}
	case kwLogLevel:
		lv, err := parseLogLevel(arg)
		if err != nil {
			return err
		}
		if first() {
			v.logLevel = lv
		}
	case kwConnectTimeout, kwServerAliveInterval:
		if arg == "none" {
			return nil // "none" leaves the keyword unset, as in OpenSSH
		}
		secs, err := convtime(arg)
		if err != nil {
			return fmt.Errorf("%s: %w", kw, err)
		}
		d := durationSeconds(secs)
		if first() {
			if spec.id == kwConnectTimeout {
				v.connectTimeout = d
			} else {
				v.aliveInterval = d
			}
		}
	case kwNumberOfPasswordPrompts, kwServerAliveCountMax:
		n, err := strconv.Atoi(arg)
		if err != nil || n < 0 {
			return fmt.Errorf("%s: bad number %q", kw, arg)
		}
		if first() {
			if spec.id == kwNumberOfPasswordPrompts {
				v.passwordPrompts = n
			} else {
				v.aliveCountMax = n
			}
		}
	case kwCiphers, kwMACs, kwKexAlgorithms, kwHostKeyAlgorithms, kwPubkeyAcceptedAlgorithms:
		if first() {
			*map[keywordID]*string{
				kwCiphers: &v.ciphers, kwMACs: &v.macs, kwKexAlgorithms: &v.kex,
				kwHostKeyAlgorithms: &v.hostKeyAlgorithms, kwPubkeyAcceptedAlgorithms: &v.pubkeyAlgs,
			}[spec.id] = arg
		}
	default:
		return fmt.Errorf("keyword %s not handled", kw)
	}
	return nil
}

func parseFlag(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "yes", "true":
		return true, nil
	case "no", "false":
		return false, nil
	}
	return false, fmt.Errorf("want yes or no, not %q", s)
}

// parsePort is OpenSSH's a2port: 1-65535 or a service name.
func parsePort(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil {
		if n, err = net.LookupPort("tcp", s); err != nil {
			return 0, fmt.Errorf("bad port %q", s)
		}
	}
	if n <= 0 || n > 65535 {
		return 0, fmt.Errorf("bad port %q", s)
	}
	return n, nil
}

// convtime parses OpenSSH's time format: a sequence of numbers, each
// optionally followed by s, m, h, d or w (any case); a bare number is
// seconds. It returns seconds.
func convtime(s string) (int64, error) {
	if s == "" {
		return 0, errors.New("empty time value")
	}
	var total int64
	for len(s) > 0 {
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == 0 {
			return 0, fmt.Errorf("invalid time value %q", s)
		}
		n, err := strconv.ParseInt(s[:i], 10, 64)
		if err != nil || n > math.MaxInt32 {
			return 0, fmt.Errorf("invalid time value %q", s)
		}
		mult := int64(1)
		if i < len(s) {
			switch s[i] {
			case 's', 'S':
			case 'm', 'M':
				mult = 60
			case 'h', 'H':
				mult = 3600
			case 'd', 'D':
				mult = 86400
			case 'w', 'W':
				mult = 7 * 86400
			default:
				return 0, fmt.Errorf("invalid time value %q", s)
			}
			i++
		}
		if n > math.MaxInt32/mult || total > math.MaxInt32-n*mult {
			return 0, fmt.Errorf("time value %q too large", s)
		}
		total += n * mult
		s = s[i:]
	}
	return total, nil
}

// scanScaled parses a byte count with an optional K, M, G, T, P or E suffix
// (powers of 1024, as OpenBSD's scan_scaled), for RekeyLimit.
func scanScaled(s string) (int64, error) {
	num, unit := s, byte(0)
	if s != "" && strings.ContainsAny(s[len(s)-1:], "bBkKmMgGtTpPeE") {
		num, unit = s[:len(s)-1], s[len(s)-1]|0x20
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f < 0 || num == "" || strings.ContainsAny(num, "eEnNxXpP+-") {
		return 0, fmt.Errorf("bad number %q", s)
	}
	shift := strings.IndexByte("bkmgtpe", unit)
	if unit == 0 {
		shift = 0
	}
	f *= math.Pow(1024, float64(shift))
	if f >= math.MaxInt64 {
		return 0, fmt.Errorf("number %q too large", s)
	}
	return int64(f), nil
}

// rekeyLimit parses "RekeyLimit bytes [time]": bytes may be "default" (0),
// time "none" (left unset). The two halves each keep their first value.
func (p *configParser) rekeyLimit(args []string, active bool, where string) error {
	v := p.v
	if len(args) == 0 || args[0] == "" {
		return errors.New("missing argument for rekeylimit")
	}
	if len(args) > 2 {
		return errors.New("keyword rekeylimit extra arguments at end of line")
	}
	var n int64
	if args[0] != "default" {
		var err error
		if n, err = scanScaled(args[0]); err != nil {
			return fmt.Errorf("rekeylimit: %w", err)
		}
		if n != 0 && n < 16 {
			return errors.New("rekeylimit: RekeyLimit too small")
		}
	}
	if v.first("rekeylimit", active, where) {
		v.rekeyBytes = n
	}
	if len(args) == 2 && args[1] != "none" {
		secs, err := convtime(args[1])
		if err != nil {
			return fmt.Errorf("rekeylimit: %w", err)
		}
		if v.first("rekeylimit.interval", active, where) {
			v.rekeyInterval = durationSeconds(secs)
		}
	}
	return nil
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

// checkAgentPath is OpenSSH's validation of IdentityAgent and ForwardAgent
// paths: ${VAR} references must be well formed, and a legacy "$VAR" must
// name a valid variable.
func checkAgentPath(s string) error {
	for i := 0; i+1 < len(s); i++ {
		if s[i] == '$' && s[i+1] == '{' {
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 || !validEnvName(s[i+2:i+2+end]) {
				return fmt.Errorf("invalid environment expansion %s", s)
			}
		}
	}
	if strings.HasPrefix(s, "$") && !strings.HasPrefix(s, "${") && !validEnvName(s[1:]) {
		return fmt.Errorf("invalid environment name %s", s)
	}
	return nil
}

// forward parses LocalForward, RemoteForward and DynamicForward, as OpenSSH
// does: ${ENV} is expanded first, and equal forwards are kept once.
func (p *configParser) forward(id keywordID, args []string, active bool) error {
	if len(args) == 0 || args[0] == "" {
		return errors.New("missing port argument")
	}
	spec := args[0]
	dynamic := id == kwDynamicForward
	if !dynamic {
		if len(args) < 2 || args[1] == "" {
			if id != kwRemoteForward {
				return errors.New("missing target argument")
			}
			dynamic = true
		} else {
			spec += ":" + args[1]
			args = args[1:]
		}
	}
	if len(args) > 1 {
		return errors.New("extra arguments at end of line")
	}
	f, err := parseForward(spec, dynamic, id == kwRemoteForward)
	if err != nil {
		return err
	}
	if !active {
		return nil
	}
	list := map[keywordID]*[]Forward{kwLocalForward: &p.v.localFwd, kwRemoteForward: &p.v.remoteFwd, kwDynamicForward: &p.v.dynamicFwd}[id]
	if !slices.Contains(*list, f) {
		*list = append(*list, f)
	}
	return nil
}

// multistate reads a keyword that takes yes/no (also true/false, written
// back as yes/no) or one of its own words, as OpenSSH's multistate tables
// do; the result is lowercase.
func multistate(arg string, words ...string) (string, bool) {
	switch a := strings.ToLower(arg); a {
	case "yes", "true":
		return "yes", true
	case "no", "false":
		return "no", true
	default:
		return a, slices.Contains(words, a)
	}
}
