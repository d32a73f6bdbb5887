package sshconfig

// ssh_config resolution with OpenSSH's semantics.
//
// The reference is OpenSSH's readconf.c (9.2, the version `ssh -G` runs in
// the tests, plus "Match tagged", "Match localnetwork", "Tag" and %j from
// 9.4): first obtained value wins; Host and Match blocks; Include; the
// tokens; and the final pass that "Match final" asks for.
//
// Why not github.com/kevinburke/ssh_config. Its v1.6.0 was evaluated
// against OpenSSH 9.2's `ssh -G` and gives a different answer exactly where
// this package needs OpenSSH's:
//   - Decode rejects the whole file on "Match final all" (Fedora's default
//     /etc/ssh/ssh_config.d ships it) and on every Match criterion but
//     "all" and "host", so one such line drops every setting of the file.
//   - Its '?' wildcard compiles to the regexp ".?", matching zero or one
//     character; OpenSSH's '?' matches exactly one ("Host a?" must not
//     match "a").
//   - SupportsMultiple looks lowercased keywords up in a table of
//     mixed-case keys, so it returns false even for IdentityFile; the table
//     also lists SetEnv, which OpenSSH takes from its first line only.
//   - Default's table is OpenSSH 7.4 on macOS (CBC ciphers,
//     ChallengeResponseAuthentication, ~/.ssh/identity), not what `ssh -G`
//     prints today.
//   - Tokens, ${ENV}, Include's depth limit and permission checks are not
//     implemented there.
// None of its parts gives OpenSSH's answer on its own, so the line
// tokenizer (OpenSSH's strdelim and argv_split), the pattern matcher and
// the resolution below are written here, and the module is not a
// dependency.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

// Limits that keep a hostile or broken config from costing more than
// milliseconds and a few megabytes.
const (
	// maxIncludeDepth is OpenSSH's READCONF_MAX_DEPTH: the file named
	// first is depth 0, and a file at depth 17 is an error.
	maxIncludeDepth = 16
	// maxConfigFileSize bounds one file; maxConfigLine one line.
	maxConfigFileSize = 4 << 20
	maxConfigLine     = 64 << 10
	// maxConfigFiles bounds the files one resolution opens, against
	// Include fan-out (a file including a glob of files that include
	// globs, 16 levels deep).
	maxConfigFiles = 4096
	// maxConfigListEntries is OpenSSH's SSH_MAX_IDENTITY_FILES and
	// SSH_MAX_CERTIFICATE_FILES; maxKnownHostsFiles SSH_MAX_HOSTS_FILES.
	maxConfigListEntries = 100
	maxKnownHostsFiles   = 32
)

// DefaultSystemConfig is the system-wide file read after the user's when
// Input.SystemConfig is "".
const DefaultSystemConfig = "/etc/ssh/ssh_config"

// Input is what a resolution starts from besides the host name: which
// files to read, what the command line of ssh would say, who and where the
// local user is, and the hooks for what needs the outside world. The zero
// value reads ~/.ssh/config and /etc/ssh/ssh_config for the current user,
// as `ssh -G host` does.
type Input struct {
	// ConfigFile, when set, is the only file read, like `ssh -F`: it must
	// exist, it is not permission-checked (what it includes is), and its
	// relative Includes resolve under SSHDir. "none" reads no file at all.
	ConfigFile string
	// UserConfig is the user's file, read first when ConfigFile is "";
	// "" means SSHDir/config, "none" skips it. It must be owned by the
	// user or root and not writable by others; a missing file is skipped.
	UserConfig string
	// SystemConfig is read after UserConfig when ConfigFile is ""; ""
	// means DefaultSystemConfig, "none" skips it. A missing file is
	// skipped; its relative Includes resolve in its own directory.
	SystemConfig string
	// SSHDir is where relative Includes of user files resolve; "" means
	// HomeDir/.ssh.
	SSHDir string

	// User and Port are ssh's -l and -p: when set they win over every
	// file, and Match user and exec see them. 0 and "" leave them to the
	// files (then to the local user and 22).
	User string
	Port int
	// Options are ssh's -o options, each a config line ("Keyword value"
	// or "Keyword=value"), read before any file: like any first value,
	// they win. Host and Match lines are refused.
	Options []string

	// LocalUser (%u, Match localuser), HomeDir (~, %d), UID (%i) and
	// LocalHostname (%l, %L) describe the local side; "" means the
	// current user's and the machine's.
	LocalUser, HomeDir, UID, LocalHostname string

	// Exec runs a Match exec command (already token-expanded) and reports
	// whether it succeeded (exit status 0). nil runs it through /bin/sh -c
	// with standard input and output on the null device, bounded by the
	// ctx given to Resolve (whose end kills its whole process group); on
	// Windows, nil makes Match exec an error matching errors.ErrUnsupported.
	Exec func(ctx context.Context, command string) (bool, error)
	// LookupHost resolves a name for CanonicalizeHostname (name ends in
	// "."): it returns the canonical name (a CNAME's target, or name
	// itself) and nil when the name resolves, an error when it does not.
	// nil means offline, as ssh is without DNS: no name resolves, so
	// CanonicalDomains never apply and CanonicalizeFallbackLocal no is an
	// error. LookupDNS is the real thing. (ssh also resolves a direct
	// host when CanonicalizePermittedCNAMEs is set, and exits when it does
	// not resolve; Resolve does not.)
	LookupHost func(ctx context.Context, name string) (string, error)
	// LocalAddrs returns the local addresses "Match localnetwork" checks;
	// nil means the addresses of the interfaces that are up.
	LocalAddrs func() ([]net.IP, error)
	// Logger receives debug messages (files read, ignored keywords); nil
	// discards them.
	Logger *slog.Logger
}

// Resolve resolves ssh_config for host (a name or address as given to ssh,
// without "user@") the way `ssh -G host` does, and returns every keyword's
// value. It reads the files Input names, with OpenSSH's semantics: for each
// keyword the first value obtained wins (Input.User, Port and Options
// first); IdentityFile, CertificateFile, LocalForward, RemoteForward,
// DynamicForward and SendEnv accumulate. Host and Match blocks, Include
// (globs, ~, depth 16), %-tokens and ${ENV}, "+"/"-"/"^" algorithm lists
// and OpenSSH's final pass ("Match final", CanonicalizeHostname) are
// honoured; host names are not canonicalised (no DNS is done). Where libssh
// and OpenSSH differ, OpenSSH is followed: "Host a,b" is the single pattern
// "a,b" (only Match host takes comma lists), and the final host name is
// lowercased.
//
// Nothing touches the network. Match exec commands may block; they are
// bounded by ctx. Errors match ErrInvalid and, for a file, are *Error with
// the file and line; a missing ConfigFile also matches fs.ErrNotExist, and
// an ended ctx during Match exec matches the ctx's error.
func Resolve(ctx context.Context, host string, in Input) (*Config, error) {
	if host == "" {
		return nil, &Error{Err: errors.New("no host name to resolve")}
	}
	if in.Port < 0 || in.Port > 65535 {
		return nil, &Error{Err: fmt.Errorf("bad port %d", in.Port)}
	}
	p := &parser{ctx: ctx, in: in, log: in.Logger, origHost: host, c: newConfig(host)}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	p.local = localInfo{user: in.LocalUser, uid: in.UID, home: in.HomeDir, hostname: in.LocalHostname}
	if p.local.user == "" {
		p.local.user = currentUser()
	}
	if p.local.uid == "" {
		p.local.uid = strconv.Itoa(os.Getuid())
	}
	if p.local.home == "" {
		p.local.home = homeDir()
	}
	if p.local.hostname == "" {
		p.local.hostname, _ = os.Hostname()
	}
	p.sshDir = in.SSHDir
	if p.sshDir == "" {
		p.sshDir = filepath.Join(p.local.home, ".ssh")
	}

	var files []configFile
	switch {
	case in.ConfigFile == "none":
	case in.ConfigFile != "":
		files = []configFile{{path: in.ConfigFile, flags: fileUser, mustExist: true}}
	default:
		if u := in.UserConfig; u != "none" {
			if u == "" {
				u = filepath.Join(p.sshDir, "config")
			}
			files = append(files, configFile{path: u, flags: fileUser | fileCheckPerm})
		}
		if s := in.SystemConfig; s != "none" {
			if s == "" {
				s = DefaultSystemConfig
			}
			files = append(files, configFile{path: s})
			p.sysDir = filepath.Dir(s)
		}
	}
	if p.sysDir == "" {
		p.sysDir = filepath.Dir(DefaultSystemConfig)
	}

	c := p.c
	if in.User != "" {
		c.obtain("user", "command line", in.User)
	}
	if in.Port != 0 {
		c.obtain("port", "command line", strconv.Itoa(in.Port))
	}
	for _, o := range in.Options {
		active := true
		if err := p.line(o, "", 0, &active, fileUser, 0, true); err != nil {
			var e *Error
			if errors.As(err, &e) {
				return nil, err
			}
			return nil, &Error{Err: fmt.Errorf("option %q: %w", o, err)}
		}
	}
	if err := p.resolve(files); err != nil {
		return nil, err
	}
	if err := p.finish(); err != nil {
		return nil, err
	}
	return c, nil
}

func homeDir() string {
	if u, err := user.Current(); err == nil && u.HomeDir != "" {
		return u.HomeDir // OpenSSH uses the passwd entry, not $HOME
	}
	if h, err := os.UserHomeDir(); err == nil {
		return h
	}
	return "."
}

func currentUser() string {
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
	return "unknown"
}

type fileFlags int

const (
	fileUser       fileFlags = 1 << iota // a user config: "~" and relative Includes resolve under SSHDir
	fileCheckPerm                        // refuse a file writable by others or owned by someone else
	fileNeverMatch                       // included from an inactive block: parse only
)

type configFile struct {
	path      string
	flags     fileFlags
	mustExist bool
}

// parser is one resolution: the files, in one or two passes, into c.
type parser struct {
	ctx      context.Context
	in       Input
	log      *slog.Logger
	local    localInfo
	sshDir   string // where a user config's relative Includes resolve
	sysDir   string // where the system config's relative Includes resolve
	origHost string // the host name as given (%n, Match originalhost)

	final     bool // the second pass that "Match final" asked for
	wantFinal bool
	stack     []string // the Include chain, to name a loop
	opened    int      // files opened, against maxConfigFiles

	c *Config
}

// resolve runs the first pass, fixes the host name as ssh.c does (an
// address in its numeric form; CanonicalizeHostname's domains), and, when
// "Match final" appeared or CanonicalizeHostname is on, OpenSSH's final
// pass over the same files with that host name.
func (p *parser) resolve(files []configFile) error {
	if err := p.pass(files); err != nil {
		return err
	}
	c := p.c
	host0, err := c.resolvedHost()
	if err != nil {
		return err
	}
	host := host0
	canon := c.first1("canonicalizehostname")
	on := canon == "true" || canon == "always"
	if addr, ok := numericHost(host); ok {
		host = addr
	} else if on {
		if host, err = p.canonicalize(host, canon == "always"); err != nil {
			return err
		}
	}
	if host != host0 {
		c.vals["hostname"], c.hostnameDone = []string{host}, true
	}
	if !p.wantFinal && !on {
		return nil
	}
	// ssh.c: the host name is fixed (expanded and lowercased) before the
	// configuration is read again with "final" true; Host lines then
	// match it rather than the name given.
	c.vals["hostname"] = []string{host}
	c.set["hostname"] = true
	c.hostnameDone = true
	c.finalHost = host
	p.final = true
	return p.pass(files)
}

// direct reports whether the connection goes straight to the host, with
// no ProxyCommand or ProxyJump.
func (c *Config) direct() bool {
	pc, pj := c.first1("proxycommand"), c.first1("proxyjump")
	return (pc == "" || strings.EqualFold(pc, "none")) && (pj == "" || strings.EqualFold(pj, "none"))
}

// canonicalize is OpenSSH's resolve_canonicalize and check_follow_cname
// for a name (not an address): with no ProxyCommand or ProxyJump (or with
// CanonicalizeHostname always), a name with at most CanonicalizeMaxDots
// dots is tried with each CanonicalDomains suffix through
// Input.LookupHost, and a name ending in "." as it is; a CNAME a
// CanonicalizePermittedCNAMEs rule allows is followed. When nothing
// resolves, CanonicalizeFallbackLocal no is an error.
func (p *parser) canonicalize(host string, always bool) (string, error) {
	c := p.c
	if !c.direct() && !always {
		return host, nil
	}
	lookup := func(name string) (string, bool) {
		if p.in.LookupHost == nil {
			return "", false // offline: nothing resolves
		}
		cname, err := p.in.LookupHost(p.ctx, name)
		return strings.TrimSuffix(cname, "."), err == nil
	}
	found := func(name, cname string) string {
		if cname == "" || cname == name || c.first1("canonicalizepermittedcnames") == "" {
			return name
		}
		for _, rule := range c.vals["canonicalizepermittedcnames"] {
			src, dst, _ := strings.Cut(rule, ":")
			if matchPatternList(name, src, true) == 1 && matchPatternList(cname, dst, true) == 1 {
				return cname
			}
		}
		return name
	}
	if strings.HasSuffix(host, ".") {
		if cname, ok := lookup(host); ok {
			return found(host, cname), nil
		}
	} else {
		maxDots := 1
		if v := c.first1("canonicalizemaxdots"); v != "" {
			maxDots, _ = strconv.Atoi(v)
		}
		if strings.Count(host, ".") > maxDots {
			return host, nil
		}
		for _, d := range c.vals["canonicaldomains"] {
			if strings.EqualFold(d, "none") {
				break
			}
			if cname, ok := lookup(host + "." + d + "."); ok {
				return found(host+"."+d, cname), nil
			}
		}
	}
	if c.first1("canonicalizefallbacklocal") == "no" {
		return "", c.errAt("canonicalizefallbacklocal", fmt.Errorf("could not resolve host %q", host))
	}
	return host, nil
}

// numericHost reports whether host is an IPv4 or IPv6 address in any form
// getaddrinfo's AI_NUMERICHOST takes (inet_aton's "127.1", octal and hex
// parts too), and returns it as getnameinfo prints it: ssh.c puts an
// address in that form before anything uses it.
func numericHost(host string) (string, bool) {
	if a, err := netip.ParseAddr(host); err == nil && a.Is6() {
		return a.String(), true
	}
	parts := strings.Split(host, ".")
	if len(parts) > 4 || host == "" {
		return "", false
	}
	var nums []uint64
	for _, part := range parts {
		n, err := strconv.ParseUint(part, 0, 32)
		if err != nil || part == "" || strings.HasPrefix(part, "+") {
			return "", false
		}
		if len(part) > 1 && part[0] == '0' && part[1] != 'x' && part[1] != 'X' {
			if n, err = strconv.ParseUint(part[1:], 8, 32); err != nil {
				return "", false
			}
		}
		nums = append(nums, n)
	}
	// The last part fills the remaining bytes: a.b.c.d, a.b.(c16), a.(b24), (a32).
	var v uint64
	for i, n := range nums[:len(nums)-1] {
		if n > 255 {
			return "", false
		}
		v |= n << (24 - 8*i)
	}
	last := nums[len(nums)-1]
	if last >= 1<<(8*(5-len(nums))) {
		return "", false
	}
	v |= last
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}).String(), true
}

func (p *parser) pass(files []configFile) error {
	for _, f := range files {
		active := true
		found, err := p.readFile(f.path, f.flags, &active, 0)
		if err != nil {
			return err
		}
		if !found && f.mustExist {
			return &Error{File: f.path, Err: fs.ErrNotExist}
		}
	}
	return nil
}

// readFile parses one file into p.c; found is false when it does not exist.
// *active is the Host/Match state, which an included file inherits and may
// change only for itself.
func (p *parser) readFile(path string, flags fileFlags, active *bool, depth int) (found bool, err error) {
	if depth > maxIncludeDepth {
		return false, &Error{File: path, Err: fmt.Errorf("too many recursive configuration includes (more than %d)", maxIncludeDepth)}
	}
	for _, f := range p.stack {
		if f == path {
			return false, &Error{File: path, Err: fmt.Errorf("include loop: %s", strings.Join(append(p.stack, path), " -> "))}
		}
	}
	p.opened++
	if p.opened > maxConfigFiles {
		return false, &Error{File: path, Err: fmt.Errorf("more than %d configuration files included", maxConfigFiles)}
	}
	data, err := readConfigFile(path, flags&fileCheckPerm != 0)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, &Error{File: path, Err: err}
	}
	p.stack = append(p.stack, path)
	defer func() { p.stack = p.stack[:len(p.stack)-1] }()
	p.log.Debug("ssh_config: reading", "file", path, "depth", depth, "final", p.final)

	for n := 1; len(data) > 0; n++ {
		var line []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			line, data = data, nil
		}
		if len(line) > maxConfigLine {
			return true, &Error{File: path, Line: n, Err: fmt.Errorf("line longer than %d bytes", maxConfigLine)}
		}
		if err := p.line(string(line), path, n, active, flags, depth, false); err != nil {
			var e *Error
			if errors.As(err, &e) {
				return true, err
			}
			return true, &Error{File: path, Line: n, Err: err}
		}
	}
	return true, nil
}

// readConfigFile reads a config file without ever blocking or growing
// without bound: it must be a regular file (a FIFO or a device such as
// /dev/zero is refused before anything is read), at most maxConfigFileSize
// bytes, and, with checkPerm, owned by the user or root and not writable by
// group or others (OpenSSH's check for ~/.ssh/config and included files).
func readConfigFile(path string, checkPerm bool) ([]byte, error) {
	f, err := openConfigFile(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Mode()&fs.ModeCharDevice != 0 && path == os.DevNull {
		return nil, nil // "-F /dev/null" is the usual way to say "no config"
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("not a regular file (%s)", fi.Mode().Type())
	}
	if checkPerm {
		if err := checkConfigOwner(fi); err != nil {
			return nil, err
		}
	}
	data, err := io.ReadAll(io.LimitReader(f, maxConfigFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxConfigFileSize {
		return nil, fmt.Errorf("larger than %d bytes", maxConfigFileSize)
	}
	return data, nil
}

// line processes one line, as OpenSSH's process_config_line_depth. cmdline
// marks an Input option, where Host and Match make no sense.
func (p *parser) line(line, file string, n int, active *bool, flags fileFlags, depth int, cmdline bool) error {
	line = strings.TrimRight(line, " \t\r\n\f")
	if line == "" {
		return nil
	}
	kw, rest, more, ok := strdelim(line, true)
	if ok && kw == "" {
		kw, rest, more, ok = strdelim(rest, more)
	}
	if !ok || kw == "" || kw[0] == '#' {
		return nil
	}
	kw = strings.ToLower(kw)
	if more {
		rest = strings.TrimLeft(rest, " \t\r\n")
	}
	if !more || rest == "" {
		return fmt.Errorf("no argument after keyword %q", kw)
	}
	spec, known := keywords[kw]
	if !known {
		if ign := p.c.first1("ignoreunknown"); ign != "" && matchPatternList(kw, ign, true) == 1 {
			p.log.Debug("ssh_config: ignored unknown option", "file", file, "line", n, "keyword", kw)
			return nil
		}
		return fmt.Errorf("bad configuration option: %s", kw)
	}
	args, err := argvSplit(rest)
	if err != nil {
		return err
	}
	if cmdline && (spec.typ == tHost || spec.typ == tMatch) {
		return fmt.Errorf("%s is not allowed as an option", spec.name)
	}
	switch spec.typ {
	case tHost:
		return p.host(args, active, flags)
	case tMatch:
		hit, err := p.evalMatch(rest)
		if err != nil {
			return fmt.Errorf("bad Match condition: %w", err)
		}
		*active = hit && flags&fileNeverMatch == 0
		return nil
	case tInclude:
		return p.include(args, file, active, flags, depth)
	}
	where := "command line"
	if file != "" {
		where = fmt.Sprintf("%s line %d", file, n)
	}
	return p.keyword(spec, args, rest, *active, where)
}

// host applies a Host line: a space-separated list of patterns, each
// matched whole against the host name (no comma lists, case-sensitive, as
// OpenSSH's match_pattern); a matching negated pattern vetoes the block.
func (p *parser) host(args []string, active *bool, flags fileFlags) error {
	host := p.origHost
	if p.final {
		host = p.c.finalHost
	}
	*active = false
	for _, a := range args {
		if a == "" {
			return errors.New("keyword host: empty argument")
		}
		if flags&fileNeverMatch != 0 {
			return nil
		}
		negated := strings.HasPrefix(a, "!")
		if globMatch(strings.TrimPrefix(a, "!"), host) {
			if negated {
				*active = false
				return nil
			}
			*active = true
		}
	}
	return nil
}

// include reads the files an Include line names: globs, "~" (user configs
// only), and relative paths under SSHDir (user configs) or the system
// config's directory. A pattern that matches nothing is skipped. Included
// files are permission-checked, and parsed without applying anything when
// the Include line sits in an inactive block.
func (p *parser) include(args []string, file string, active *bool, flags fileFlags, depth int) error {
	for _, a := range args {
		if a == "" {
			return errors.New("keyword include: empty argument")
		}
		if strings.HasPrefix(a, "~") && flags&fileUser == 0 {
			return fmt.Errorf("bad include path %s", a)
		}
		pattern := a
		switch {
		case strings.HasPrefix(a, "~"):
			t, err := expandTilde(a, p.local.home)
			if err != nil {
				return err
			}
			pattern = t
		case !filepath.IsAbs(a) && flags&fileUser != 0:
			pattern = filepath.Join(p.sshDir, a)
		case !filepath.IsAbs(a):
			pattern = filepath.Join(p.sysDir, a)
		}
		matches, err := filepath.Glob(pattern)
		if err != nil {
			return fmt.Errorf("glob failed for %s: %w", pattern, err)
		}
		outer := *active
		sub := flags | fileCheckPerm
		if !outer {
			sub |= fileNeverMatch
		}
		for _, m := range matches {
			if _, err := p.readFile(m, sub, active, depth+1); err != nil {
				return err
			}
			// A Match in the included file must not clobber the
			// state of the block that includes it.
			*active = outer
		}
	}
	return nil
}

// isWindows: Match exec needs /bin/sh.
var isWindows = runtime.GOOS == "windows"

// strdelim splits the next word off s as OpenSSH's strdelim does: words end
// at white space or one '=', and a word may be "quoted". ok is false where
// OpenSSH returns NULL: no input left (more false) or an unmatched quote.
// rest and restMore are the input after the word.
func strdelim(s string, more bool) (tok, rest string, restMore, ok bool) {
	if !more {
		return "", "", false, false
	}
	i := strings.IndexAny(s, " \t\r\n\"=")
	if i < 0 {
		return s, "", false, true
	}
	if s[i] == '"' {
		after := s[i+1:]
		j := strings.IndexByte(after, '"')
		if j < 0 {
			return "", "", false, false
		}
		return s[:i] + after[:j], strings.TrimLeft(after[j+1:], " \t\r\n"), true, true
	}
	equals := s[i] == '='
	tok, rest = s[:i], strings.TrimLeft(s[i+1:], " \t\r\n")
	if !equals && strings.HasPrefix(rest, "=") {
		rest = strings.TrimLeft(rest[1:], " \t\r\n")
	}
	return tok, rest, true, true
}

// argvSplit splits a keyword's arguments as OpenSSH's argv_split with
// comment termination: words separated by spaces or tabs, '"' and '\”
// quoting (also mid-word), backslash escapes of quotes, backslash and
// (outside quotes) space, and a word starting with '#' ends the line.
func argvSplit(s string) ([]string, error) {
	var args []string
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' || s[i] == '\t' {
			continue
		}
		if s[i] == '#' {
			break
		}
		var arg strings.Builder
		quote := byte(0)
		for ; i < len(s); i++ {
			c := s[i]
			switch {
			case c == '\\' && i+1 < len(s) && (s[i+1] == '\'' || s[i+1] == '"' || s[i+1] == '\\' || quote == 0 && s[i+1] == ' '):
				i++
				arg.WriteByte(s[i])
				continue
			case quote == 0 && (c == ' ' || c == '\t'):
			case quote == 0 && (c == '"' || c == '\''):
				quote = c
				continue
			case quote != 0 && c == quote:
				quote = 0
				continue
			default:
				arg.WriteByte(c)
				continue
			}
			break
		}
		if quote != 0 {
			return nil, errors.New("invalid quotes")
		}
		args = append(args, arg.String())
	}
	return args, nil
}

// LookupDNS is a LookupHost for Input that asks the system's resolver
// (net.DefaultResolver), as ssh does: it is the one part of this package
// that uses the network, and only when a caller passes it.
func LookupDNS(ctx context.Context, name string) (string, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if _, err := net.DefaultResolver.LookupHost(ctx, name); err != nil {
		return "", err
	}
	cname, err := net.DefaultResolver.LookupCNAME(ctx, name)
	if err != nil {
		return name, nil
	}
	return cname, nil
}
