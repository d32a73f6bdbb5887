package sshconfig

import (
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
)

type kwType int

const (
	tIgnored kwType = iota // deprecated or unsupported in OpenSSH too: accepted, no effect
	tLater                 // a keyword of a later OpenSSH: accepted and kept, not printed
	tHost
	tMatch
	tInclude
	tFlag    // yes/no/true/false, printed yes/no
	tYesNo   // yes/no only (Compression)
	tMulti   // one word of a table
	tInt     // a non-negative decimal integer
	tTime    // a time, printed in seconds; "none" leaves it unset
	tString  // one word
	tRest    // the rest of the line
	tAlgos   // an algorithm list with + - ^
	tList    // the first line's words, whole
	tSpecial // its own parser in keyword()
)

type keyword struct {
	name  string
	typ   kwType
	table [][2]string // tMulti: lowercase word, printed value
	algs  *algorithms // tAlgos
}

var (
	tabBool       = [][2]string{{"yes", "true"}, {"true", "true"}, {"no", "false"}, {"false", "false"}}
	tabYesNoAsk   = append(slices.Clone(tabBool), [2]string{"ask", "ask"})
	tabStrict     = append(slices.Clone(tabBool), [2]string{"off", "false"}, [2]string{"ask", "ask"}, [2]string{"accept-new", "accept-new"})
	tabControl    = append(slices.Clone(tabBool), [2]string{"auto", "auto"}, [2]string{"ask", "ask"}, [2]string{"autoask", "autoask"})
	tabTunnel     = [][2]string{{"yes", "point-to-point"}, {"true", "point-to-point"}, {"point-to-point", "point-to-point"}, {"ethernet", "ethernet"}, {"no", "false"}, {"false", "false"}}
	tabRequestTTY = append(slices.Clone(tabBool), [2]string{"force", "force"}, [2]string{"auto", "auto"})
	tabSession    = [][2]string{{"none", "none"}, {"subsystem", "subsystem"}, {"default", "default"}}
	tabCanon      = append(slices.Clone(tabBool), [2]string{"always", "always"})
	tabPubkey     = append(slices.Clone(tabBool), [2]string{"unbound", "unbound"}, [2]string{"host-bound", "host-bound"})
	tabFamily     = [][2]string{{"any", "any"}, {"inet", "inet"}, {"inet6", "inet6"}}
	tabDigest     = [][2]string{{"md5", "MD5"}, {"sha1", "SHA1"}, {"sha256", "SHA256"}, {"sha384", "SHA384"}, {"sha512", "SHA512"}}
	tabLogLevel   = [][2]string{{"quiet", "SILENT"}, {"silent", "SILENT"}, {"fatal", "FATAL"}, {"error", "ERROR"}, {"info", "INFO"},
		{"verbose", "VERBOSE"}, {"debug", "DEBUG"}, {"debug1", "DEBUG"}, {"debug2", "DEBUG2"}, {"debug3", "DEBUG3"}}
	tabFacility = [][2]string{{"daemon", "DAEMON"}, {"user", "USER"}, {"auth", "AUTH"}, {"authpriv", "AUTHPRIV"},
		{"local0", "LOCAL0"}, {"local1", "LOCAL1"}, {"local2", "LOCAL2"}, {"local3", "LOCAL3"},
		{"local4", "LOCAL4"}, {"local5", "LOCAL5"}, {"local6", "LOCAL6"}, {"local7", "LOCAL7"}}
)

// keywords is every keyword OpenSSH 9.2's readconf.c knows (with the
// aliases, the deprecated and unsupported ones it accepts, and Debian's
// GSSAPI additions) and the ones added up to 10.0, by lowercase name.
var keywords = func() map[string]keyword {
	m := map[string]keyword{}
	add := func(k keyword, aliases ...string) {
		for _, n := range append([]string{k.name}, aliases...) {
			m[n] = k
		}
	}
	for _, n := range []string{"host"} {
		add(keyword{name: n, typ: tHost})
	}
	add(keyword{name: "match", typ: tMatch})
	add(keyword{name: "include", typ: tInclude})
	for _, n := range []string{"batchmode", "canonicalizefallbacklocal", "checkhostip", "clearallforwardings",
		"enablesshkeysign", "exitonforwardfailure", "forwardx11", "forwardx11trusted", "gatewayports",
		"gssapiauthentication", "gssapikeyexchange", "gssapidelegatecredentials", "gssapitrustdns",
		"gssapirenewalforcesrekey", "hashknownhosts", "hostbasedauthentication", "identitiesonly",
		"nohostauthenticationforlocalhost", "passwordauthentication", "permitlocalcommand", "proxyusefdpass",
		"stdinnull", "forkafterauthentication", "streamlocalbindunlink", "visualhostkey",
		"enableescapecommandline"} {
		add(keyword{name: n, typ: tFlag})
	}
	add(keyword{name: "kbdinteractiveauthentication", typ: tFlag}, "challengeresponseauthentication", "skeyauthentication", "tisauthentication")
	add(keyword{name: "tcpkeepalive", typ: tFlag}, "keepalive")
	add(keyword{name: "compression", typ: tYesNo})
	for n, tab := range map[string][][2]string{
		"addressfamily": tabFamily, "canonicalizehostname": tabCanon, "controlmaster": tabControl,
		"requesttty": tabRequestTTY, "sessiontype": tabSession,
		"stricthostkeychecking": tabStrict, "tunnel": tabTunnel, "verifyhostkeydns": tabYesNoAsk,
		"updatehostkeys": tabYesNoAsk, "fingerprinthash": tabDigest, "loglevel": tabLogLevel,
		"syslogfacility": tabFacility,
	} {
		add(keyword{name: n, typ: tMulti, table: tab})
	}
	add(keyword{name: "pubkeyauthentication", typ: tMulti, table: tabPubkey}, "dsaauthentication")
	for _, n := range []string{"canonicalizemaxdots", "connectionattempts", "numberofpasswordprompts",
		"serveralivecountmax", "requiredrsasize"} {
		add(keyword{name: n, typ: tInt})
	}
	for _, n := range []string{"connecttimeout", "serveraliveinterval", "forwardx11timeout"} {
		add(keyword{name: n, typ: tTime})
	}
	for _, n := range []string{"hostname", "user", "bindaddress", "bindinterface", "controlpath", "hostkeyalias",
		"kbdinteractivedevices", "preferredauthentications", "revokedhostkeys", "securitykeyprovider",
		"xauthlocation", "gssapiclientidentity", "gssapiserveridentity", "ignoreunknown"} {
		add(keyword{name: n, typ: tString})
	}
	add(keyword{name: "pkcs11provider", typ: tString}, "smartcarddevice")
	for _, n := range []string{"proxycommand", "localcommand", "remotecommand", "knownhostscommand"} {
		add(keyword{name: n, typ: tRest})
	}
	add(keyword{name: "ciphers", typ: tAlgos, algs: &algCiphers})
	add(keyword{name: "macs", typ: tAlgos, algs: &algMACs})
	add(keyword{name: "kexalgorithms", typ: tAlgos, algs: &algKex})
	add(keyword{name: "hostkeyalgorithms", typ: tAlgos, algs: &algHostKey})
	add(keyword{name: "pubkeyacceptedalgorithms", typ: tAlgos, algs: &algPubkey}, "pubkeyacceptedkeytypes")
	add(keyword{name: "hostbasedacceptedalgorithms", typ: tAlgos, algs: &algHostbased}, "hostbasedkeytypes")
	add(keyword{name: "casignaturealgorithms", typ: tAlgos, algs: &algCASig})
	add(keyword{name: "gssapikexalgorithms", typ: tAlgos, algs: &algGSSKex})
	for _, n := range []string{"canonicaldomains", "logverbose", "permitremoteopen", "canonicalizepermittedcnames",
		"sendenv", "setenv", "userknownhostsfile", "globalknownhostsfile"} {
		add(keyword{name: n, typ: tList})
	}
	for _, n := range []string{"port", "identityfile", "certificatefile", "identityagent", "forwardagent",
		"localforward", "remoteforward", "dynamicforward", "rekeylimit", "addkeystoagent", "controlpersist",
		"escapechar", "ipqos", "tunneldevice", "streamlocalbindmask", "proxyjump"} {
		add(keyword{name: n, typ: tSpecial})
	}
	m["identityfile2"] = m["identityfile"]
	// Deprecated and unsupported in OpenSSH itself: accepted silently.
	for _, n := range []string{"protocol", "cipher", "fallbacktorsh", "globalknownhostsfile2",
		"rhostsauthentication", "userknownhostsfile2", "useroaming", "usersh", "useprivilegedport",
		"afstokenpassing", "kerberosauthentication", "kerberostgtpassing", "rsaauthentication",
		"rhostsrsaauthentication", "compressionlevel", "usekeychain"} {
		add(keyword{name: n, typ: tIgnored})
	}
	// Added after 9.2 (Tag is used by Match tagged).
	for _, n := range []string{"tag", "obscurekeystroketiming", "channeltimeout", "refuseconnection",
		"warnweakcrypto", "versionaddendum", "pubkeyauthoptions"} {
		add(keyword{name: n, typ: tLater})
	}
	return m
}()

// keyword applies one line of a keyword other than Host, Match and Include.
// Values are checked whether or not the line is active, as OpenSSH does.
func (p *parser) keyword(k keyword, args []string, raw string, active bool, where string) error {
	c := p.c
	kw := k.name
	first := func(vals ...string) {
		if active && !c.set[kw] {
			c.obtain(kw, where, vals...)
		}
	}
	switch k.typ {
	case tIgnored:
		if active {
			p.log.Debug("ssh_config: deprecated or unsupported keyword ignored", "keyword", kw, "at", where)
		}
		return nil
	case tRest:
		// OpenSSH 9.2 takes the rest of the line, comment included. A
		// ProxyJump to a host came first if proxycommand is set ("none").
		first(strings.TrimLeft(raw, " \t\r\n="))
		return nil
	case tList:
		return p.list(kw, args, active, where)
	case tSpecial:
		return p.special(kw, args, raw, active, where)
	}

	// The rest take exactly one argument.
	if len(args) == 0 || args[0] == "" {
		return fmt.Errorf("missing argument for %s", kw)
	}
	arg := args[0]
	if len(args) > 1 && k.typ != tLater {
		return fmt.Errorf("keyword %s extra arguments at end of line", kw)
	}
	switch k.typ {
	case tLater:
		first(args...)
	case tString:
		first(arg)
	case tFlag, tYesNo:
		b, err := parseFlag(arg)
		if err != nil || k.typ == tYesNo && !strings.EqualFold(arg, "yes") && !strings.EqualFold(arg, "no") {
			return fmt.Errorf("unsupported option %q", arg)
		}
		first(yesno(b))
	case tMulti:
		i := slices.IndexFunc(k.table, func(e [2]string) bool { return strings.EqualFold(e[0], arg) })
		if i < 0 {
			return fmt.Errorf("unsupported option %q", arg)
		}
		if kw == "syslogfacility" && !c.set[kw] {
			// OpenSSH 9.2 takes the first SyslogFacility of the files
			// even in a block that does not apply.
			c.obtain(kw, where, k.table[i][1])
		}
		first(k.table[i][1])
	case tInt:
		n, err := strconv.ParseUint(arg, 10, 31)
		if err != nil {
			return fmt.Errorf("integer value %q invalid", arg)
		}
		first(strconv.FormatUint(n, 10))
	case tTime:
		if arg == "none" {
			return nil // "none" leaves the keyword unset, as in OpenSSH
		}
		secs, err := convtime(arg)
		if err != nil {
			return fmt.Errorf("%s: %w", kw, err)
		}
		first(strconv.FormatInt(secs, 10))
	case tAlgos:
		if err := k.algs.valid(arg); err != nil {
			return fmt.Errorf("bad %s %q: %w", kw, arg, err)
		}
		first(arg)
	default:
		return fmt.Errorf("keyword %s not handled", kw)
	}
	return nil
}

// list handles the keywords that take several words on their first line.
func (p *parser) list(kw string, args []string, active bool, where string) error {
	c := p.c
	take := active && !c.set[kw]
	switch kw {
	case "sendenv":
		for _, a := range args {
			if a == "" || strings.Contains(a, "=") {
				return errors.New("invalid environment name")
			}
			if !active {
				continue
			}
			if strings.HasPrefix(a, "-") {
				c.vals[kw] = slices.DeleteFunc(c.vals[kw], func(e string) bool { return globMatch(a[1:], e) })
				continue
			}
			c.vals[kw] = append(c.vals[kw], a)
			c.set[kw] = true
		}
		if active {
			c.where[kw] = where
		}
		return nil
	case "setenv":
		// OpenSSH takes the first SetEnv line that applies, whole.
		var list []string
		for _, a := range args {
			name, _, ok := strings.Cut(a, "=")
			if !ok {
				return errors.New("invalid SetEnv")
			}
			if slices.ContainsFunc(list, func(e string) bool { n, _, _ := strings.Cut(e, "="); return n == name }) {
				continue
			}
			list = append(list, a)
		}
		if take && len(list) > 0 {
			c.obtain(kw, where, list...)
		}
		return nil
	case "userknownhostsfile", "globalknownhostsfile", "permitremoteopen", "canonicaldomains":
		single := map[string][]string{"permitremoteopen": {"any", "none"}, "canonicaldomains": {"none"}}[kw]
		if kw == "userknownhostsfile" || kw == "globalknownhostsfile" {
			single = []string{"none"}
		}
		for _, a := range args {
			if a == "" {
				return fmt.Errorf("keyword %s: empty argument", kw)
			}
			for _, s := range single {
				if strings.EqualFold(a, s) && len(args) > 1 {
					return fmt.Errorf("keyword %s %q argument must appear alone", kw, s)
				}
			}
			if kw == "permitremoteopen" && !slices.ContainsFunc(single, func(s string) bool { return strings.EqualFold(a, s) }) && !validPermitOpen(a) {
				return fmt.Errorf("bad port number in %s %q", kw, a)
			}
		}
		if len(args) > maxKnownHostsFiles && strings.HasSuffix(kw, "knownhostsfile") {
			return fmt.Errorf("too many %s entries", kw)
		}
		if kw == "canonicaldomains" && !(len(args) == 1 && strings.EqualFold(args[0], "none")) {
			for i, a := range args {
				d, err := validDomain(a)
				if err != nil {
					return fmt.Errorf("invalid CanonicalDomains %q: %w", a, err)
				}
				args[i] = d
			}
		}
		if take && len(args) > 0 {
			if kw == "canonicaldomains" && strings.EqualFold(args[0], "none") {
				return nil
			}
			c.obtain(kw, where, args...)
		}
		return nil
	case "logverbose":
		if len(args) > 1 && slices.ContainsFunc(args, func(a string) bool { return strings.EqualFold(a, "none") }) {
			return fmt.Errorf("keyword %s \"none\" argument must appear alone", kw)
		}
		if len(args) == 1 && strings.EqualFold(args[0], "none") {
			return nil
		}
		// OpenSSH 9.2 keeps only the first word of the first line.
		if take && len(args) > 0 {
			c.obtain(kw, where, args[0])
		}
		return nil
	case "canonicalizepermittedcnames":
		for _, a := range args {
			if strings.EqualFold(a, "none") {
				if len(args) > 1 {
					return fmt.Errorf("keyword %s \"none\" argument must appear alone", kw)
				}
				continue
			}
			if !strings.Contains(a, ":") {
				return fmt.Errorf("invalid permitted CNAME %q", a)
			}
		}
		if take && len(args) > 0 && !strings.EqualFold(args[0], "none") {
			c.obtain(kw, where, args...)
		}
		return nil
	}
	return fmt.Errorf("keyword %s not handled", kw)
}

// special handles the keywords with their own syntax.
func (p *parser) special(kw string, args []string, raw string, active bool, where string) error {
	c := p.c
	first := func(vals ...string) bool {
		if active && !c.set[kw] {
			c.obtain(kw, where, vals...)
			return true
		}
		return false
	}
	switch kw {
	case "proxyjump":
		// OpenSSH 9.2 reads the line up to a '#' and takes its first
		// word; more words are ignored.
		// "none" must be the whole rest of the line ("none # x" is a
		// host named none).
		rest := strings.TrimLeft(raw, " \t\r\n=")
		none := strings.EqualFold(rest, "none")
		spec := rest
		if i := strings.IndexByte(spec, '#'); i >= 0 {
			spec = spec[:i]
		}
		if f := strings.Fields(spec); len(f) > 0 {
			spec = f[0]
		}
		if !none {
			if _, err := ParseProxyJump(spec); err != nil {
				return fmt.Errorf("invalid ProxyJump %q: %w", spec, err)
			}
		}
		// Any ProxyCommand (even "none") or earlier ProxyJump wins; a jump
		// host then rules out a later ProxyCommand, but "none" does not.
		if active && !c.set["proxycommand"] && !c.set[kw] {
			c.obtain(kw, where, spec)
			c.jumpNone = none
			if !none {
				c.obtain("proxycommand", where, "none")
			}
		}
		return nil
	case "localforward", "remoteforward", "dynamicforward":
		return p.forward(kw, args, active)
	case "rekeylimit":
		return p.rekeyLimit(args, active, where)
	case "addkeystoagent":
		return p.addKeysToAgent(args, active, where)
	}
	if len(args) == 0 || args[0] == "" {
		return fmt.Errorf("missing argument for %s", kw)
	}
	arg := args[0]
	if len(args) > 1 && kw != "ipqos" && kw != "tunneldevice" || len(args) > 2 {
		return fmt.Errorf("keyword %s extra arguments at end of line", kw)
	}
	switch kw {
	case "port":
		port, err := ParsePort(arg)
		if err != nil {
			return err
		}
		first(strconv.Itoa(port))
	case "identityfile", "certificatefile":
		if !active {
			return nil
		}
		if len(c.vals[kw]) >= maxConfigListEntries {
			return fmt.Errorf("too many %s entries (max %d)", kw, maxConfigListEntries)
		}
		if !slices.Contains(c.vals[kw], arg) {
			c.vals[kw] = append(c.vals[kw], arg)
		}
		c.set[kw] = true
		if c.where[kw] == "" {
			c.where[kw] = where
		}
	case "identityagent":
		if err := checkAgentPath(arg); err != nil {
			return err
		}
		first(arg)
	case "forwardagent":
		if b, err := parseFlag(arg); err == nil {
			first(yesno(b))
			return nil
		}
		if err := checkAgentPath(arg); err != nil {
			return err
		}
		if first("yes") {
			c.obtain("forwardagent.socket", where, arg)
		}
	case "controlpersist":
		// Its yes and no are case-sensitive in OpenSSH 9.2.
		switch arg {
		case "yes", "true":
			first("yes")
			return nil
		case "no", "false":
			first("no")
			return nil
		}
		secs, err := convtime(arg)
		if err != nil {
			return fmt.Errorf("bad ControlPersist argument: %w", err)
		}
		if secs == 0 {
			first("yes")
		} else {
			first(strconv.FormatInt(secs, 10))
		}
	case "escapechar":
		var ch string
		switch {
		case arg == "none":
			ch = "none"
		case len(arg) == 1:
			ch = vis(arg[0])
		case len(arg) == 2 && arg[0] == '^':
			ch = vis(arg[1] & 31)
		default:
			return errors.New("bad escape character")
		}
		first(ch)
	case "ipqos":
		a, ok := parseIPQoS(arg)
		if !ok {
			return fmt.Errorf("bad IPQoS value: %s", arg)
		}
		b := a
		if len(args) == 2 {
			if b, ok = parseIPQoS(args[1]); !ok {
				return fmt.Errorf("bad IPQoS value: %s", args[1])
			}
		}
		first(a + " " + b)
	case "tunneldevice":
		if len(args) > 1 {
			return fmt.Errorf("keyword %s extra arguments at end of line", kw)
		}
		l, r, hasR := strings.Cut(arg, ":")
		lv, ok1 := tunID(l)
		rv, ok2 := "any", true
		if hasR {
			rv, ok2 = tunID(r)
		}
		if !ok1 || !ok2 {
			return errors.New("bad tun device")
		}
		first(lv + ":" + rv)
	case "streamlocalbindmask":
		// strtol(arg, &end, 8): the leading octal digits count, the rest
		// of the word is ignored.
		digits := strings.TrimLeft(arg, "+")
		end := 0
		for end < len(digits) && digits[end] >= '0' && digits[end] <= '7' {
			end++
		}
		n64, err := strconv.ParseUint(digits[:end], 8, 63)
		n := int64(int32(uint32(n64))) // strtol's long, stored in an int
		if err != nil || n < 0 || n > 0o777 || len(digits) < len(arg)-1 {
			return errors.New("bad mask")
		}
		// OpenSSH 9.2 takes every StreamLocalBindMask line, active or
		// not: the last one wins.
		c.obtain(kw, where, "0"+strconv.FormatInt(n, 8))
	default:
		return fmt.Errorf("keyword %s not handled", kw)
	}
	return nil
}

// validDomain is OpenSSH's valid_domain: it returns the name lowercased.
func validDomain(s string) (string, error) {
	if s == "" {
		return "", errors.New("empty domain name")
	}
	s = strings.ToLower(s)
	if !isAlnum(s[0]) {
		return "", errors.New("domain name starts with invalid character")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if i > 0 && c == '.' && s[i-1] == '.' {
			return "", errors.New("domain name contains consecutive separators")
		}
		if c != '.' && c != '-' && c != '_' && !isAlnum(c) {
			return "", errors.New("domain name contains invalid characters")
		}
	}
	if s[len(s)-1] == '.' {
		return "", errors.New("domain name ends with invalid character")
	}
	return s, nil
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// validPermitOpen is OpenSSH's check of a PermitRemoteOpen entry:
// host:port or [host]:port, the port a port number, a service or "*".
func validPermitOpen(a string) bool {
	var port string
	if strings.HasPrefix(a, "[") {
		end := strings.IndexByte(a, ']')
		if end < 0 || end+1 >= len(a) || a[end+1] != ':' {
			return false
		}
		port = a[end+2:]
	} else {
		i := strings.IndexByte(a, ':')
		if i < 0 {
			return false
		}
		port = a[i+1:]
	}
	if port == "*" {
		return true
	}
	_, err := ParsePort(port)
	return err == nil
}

func tunID(s string) (string, bool) {
	if strings.EqualFold(s, "any") {
		return "any", true
	}
	n, err := strconv.ParseUint(s, 10, 31)
	if err != nil || n > math.MaxInt32-2 {
		return "", false
	}
	return strconv.FormatUint(n, 10), true
}

// ipqosNames is OpenSSH's table, in its order: a value prints as the first
// name that has it.
var ipqosNames = []struct {
	name string
	v    int
}{
	{"none", math.MaxInt32}, {"af11", 0x28}, {"af12", 0x30}, {"af13", 0x38}, {"af21", 0x48}, {"af22", 0x50},
	{"af23", 0x58}, {"af31", 0x68}, {"af32", 0x70}, {"af33", 0x78}, {"af41", 0x88}, {"af42", 0x90},
	{"af43", 0x98}, {"cs0", 0x00}, {"cs1", 0x20}, {"cs2", 0x40}, {"cs3", 0x60}, {"cs4", 0x80}, {"cs5", 0xa0},
	{"cs6", 0xc0}, {"cs7", 0xe0}, {"ef", 0xb8}, {"le", 0x04}, {"lowdelay", 0x10}, {"throughput", 0x08},
	{"reliability", 0x04},
}

// parseIPQoS reads a name or a number (0-255, C syntax) and returns what
// `ssh -G` prints for it.
func parseIPQoS(s string) (string, bool) {
	v := -1
	for _, e := range ipqosNames {
		if strings.EqualFold(e.name, s) {
			v = e.v
			break
		}
	}
	if v < 0 {
		n, err := strconv.ParseInt(s, 0, 32)
		if err != nil || n < 0 || n > 255 {
			return "", false
		}
		v = int(n)
	}
	for _, e := range ipqosNames {
		if e.v == v {
			return e.name, true
		}
	}
	return fmt.Sprintf("0x%02x", v), true
}

// vis prints one byte as OpenBSD's vis(3) with VIS_WHITE does.
func vis(c byte) string {
	var b strings.Builder
	if c&0x80 != 0 {
		b.WriteString(`\M-`)
		c &= 0x7f
		if c == ' ' || c == '\t' || c == '\n' {
			return b.String() + string(rune(c))
		}
	}
	switch {
	case c == '\\':
		b.WriteString(`\\`)
	case c == ' ':
		b.WriteString(`\040`)
	case c == 0x7f:
		b.WriteString(`\^?`)
	case c < ' ':
		b.WriteString(`\^` + string(rune(c+'@')))
	default:
		b.WriteByte(c)
	}
	return b.String()
}

// addKeysToAgent parses "AddKeysToAgent yes|no|ask|confirm [time]" or a
// bare time, as OpenSSH 9.2.
func (p *parser) addKeysToAgent(args []string, active bool, where string) error {
	if len(args) == 0 || args[0] == "" || len(args) > 2 {
		return errors.New("unsupported option")
	}
	tab := append(slices.Clone(tabBool), [2]string{"ask", "ask"}, [2]string{"confirm", "confirm"})
	i := slices.IndexFunc(tab, func(e [2]string) bool { return strings.EqualFold(e[0], args[0]) })
	var v string
	switch {
	case i >= 0 && tab[i][1] == "confirm" && len(args) == 2:
		secs, err := convtime(args[1])
		if err != nil {
			return errors.New("invalid time value")
		}
		v = "confirm"
		if secs > 0 {
			v += " " + strconv.FormatInt(secs, 10)
		}
	case i < 0 && len(args) == 1:
		secs, err := convtime(args[0])
		if err != nil {
			return errors.New("unsupported option")
		}
		v = "true"
		if secs > 0 {
			v = strconv.FormatInt(secs, 10)
		}
	case i < 0 || len(args) == 2:
		return errors.New("unsupported option")
	default:
		v = tab[i][1]
	}
	if active && !p.c.set["addkeystoagent"] {
		p.c.obtain("addkeystoagent", where, v)
	}
	return nil
}

func yesno(b bool) string {
	if b {
		return "yes"
	}
	return "no"
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

// rekeyLimit parses "RekeyLimit bytes [time]": bytes may be "default" (0),
// time "none" (left unset). The two halves each keep their first value.
func (p *parser) rekeyLimit(args []string, active bool, where string) error {
	c := p.c
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
	if active && !c.set["rekeylimit.bytes"] {
		c.obtain("rekeylimit.bytes", where, strconv.FormatInt(n, 10))
		c.set["rekeylimit"], c.where["rekeylimit"] = true, where
	}
	if len(args) == 2 && args[1] != "none" {
		secs, err := convtime(args[1])
		if err != nil {
			return fmt.Errorf("rekeylimit: %w", err)
		}
		if active && !c.set["rekeylimit.time"] {
			c.obtain("rekeylimit.time", where, strconv.FormatInt(secs, 10))
			c.set["rekeylimit"], c.where["rekeylimit"] = true, where
		}
	}
	return nil
}

// forward parses LocalForward, RemoteForward and DynamicForward, as OpenSSH
// does: ${ENV} is expanded first, and equal forwards are kept once.
func (p *parser) forward(kw string, args []string, active bool) error {
	if len(args) == 0 || args[0] == "" {
		return errors.New("missing port argument")
	}
	spec := args[0]
	dynamic := kw == "dynamicforward"
	if !dynamic {
		if len(args) < 2 || args[1] == "" {
			if kw != "remoteforward" {
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
	f, err := ParseForward(spec, dynamic, kw == "remoteforward")
	if err != nil {
		return err
	}
	if !active {
		return nil
	}
	e := fwd{f, dynamic}
	list := &p.c.localFwd
	if kw == "remoteforward" {
		list = &p.c.remoteFwd
	}
	if !slices.Contains(*list, e) {
		*list = append(*list, e)
	}
	return nil
}

// fwd is a forward with OpenSSH's "socks" destination flag.
type fwd struct {
	f       Forward
	dynamic bool
}

// checkAgentPath is OpenSSH's validation of IdentityAgent and ForwardAgent
// paths: ${VAR} references must be well formed and set, and a legacy "$VAR"
// must name a valid variable.
func checkAgentPath(s string) error {
	for i := 0; i+1 < len(s); i++ {
		if s[i] == '$' && s[i+1] == '{' {
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 || !validEnvName(s[i+2:i+2+end]) {
				return fmt.Errorf("invalid environment expansion %s", s)
			}
			if _, ok := os.LookupEnv(s[i+2 : i+2+end]); !ok {
				return fmt.Errorf("invalid environment expansion %s: ${%s} has no value", s, s[i+2:i+2+end])
			}
		}
	}
	if strings.HasPrefix(s, "$") && !strings.HasPrefix(s, "${") && !validEnvName(s[1:]) {
		return fmt.Errorf("invalid environment name %s", s)
	}
	return nil
}

// ParsePort is OpenSSH's a2port: 1-65535 or a service name from the
// local services database. Errors match ErrInvalid.
func ParsePort(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil {
		if n, err = net.LookupPort("tcp", s); err != nil {
			return 0, invalidf("bad port %q", s)
		}
	}
	if n <= 0 || n > 65535 {
		return 0, invalidf("bad port %q", s)
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
