package ssh

// ssh_config resolution with OpenSSH's semantics.
//
// The reference is OpenSSH's readconf.c (9.2, the version `ssh -G` runs in
// the tests, plus "Match tagged", "Match localnetwork", "Tag" and %j from
// 9.4): first obtained value wins; Host and Match blocks; Include; the
// tokens; and the final pass that "Match final" asks for.
//
// Why not github.com/kevinburke/ssh_config. Its v1.6.0 was evaluated
// against OpenSSH 9.2's `ssh -G` and gives a different answer exactly where
// this file needs OpenSSH's:
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
//     prints today, and this library's defaults are x/crypto's anyway.
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
	"maps"
	"os"
	"path/filepath"
	"strings"
	"time"
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

// defaultSystemConfig is read after the user's config when
// OptionsParseConfig is given "".
const defaultSystemConfig = "/etc/ssh/ssh_config"

// ConfigError reports an ssh_config file that could not be used: a bad
// line (File and Line say where), a file that cannot be read, or one whose
// owner or permissions OpenSSH would refuse. It matches ErrInvalidOption.
type ConfigError struct {
	File string // the file in error
	Line int    // 1-based; 0 when the error is about the whole file
	Err  error  // what is wrong
}

// Error says where ("ssh: FILE line N: ...") and what.
func (e *ConfigError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("ssh: %s line %d: %v", e.File, e.Line, e.Err)
	}
	return fmt.Sprintf("ssh: %s: %v", e.File, e.Err)
}

// Unwrap lets errors.Is match ErrInvalidOption and the cause.
func (e *ConfigError) Unwrap() []error { return []error{ErrInvalidOption, e.Err} }

// OptionsParseConfig resolves ssh_config for the configured Hostname, as
// libssh's ssh_options_parse_config and OpenSSH's ssh do, and applies what
// it finds to the session's options. path "" reads the user's config
// (SSHDir/config, which must be owned by the user or root and not writable
// by others) and then /etc/ssh/ssh_config, skipping a file that does not
// exist; another path reads only that file (like `ssh -F`), which must
// exist.
//
// Resolution follows OpenSSH: for each keyword the first value obtained
// wins, and a value set through SetOption wins over every file.
// IdentityFile, CertificateFile, LocalForward, RemoteForward,
// DynamicForward and SendEnv accumulate (after the values set through the
// API). Host and Match blocks, Include, %-tokens and ${ENV}, "+"/"-"/"^"
// algorithm lists and OpenSSH's final pass ("Match final") are honoured;
// Options().String() prints the result as `ssh -G` does. Where libssh and
// OpenSSH differ, OpenSSH is followed: "Host a,b" is the single pattern
// "a,b" (only Match host takes comma lists), and the final host name is
// lowercased.
//
// Keywords this library does not use are accepted and logged as ignored;
// an unknown keyword is an error unless IgnoreUnknown covers it. Match exec
// commands run through /bin/sh -c and may block; they are not bounded by
// any timeout (Connect bounds them by its ctx). Errors are *ConfigError
// (matching ErrInvalidOption), or ErrHostnameRequired when no Hostname is
// set. On error the options are left unchanged. Connect calls this itself
// with "" unless ProcessConfig(false) was set or a parse already ran.
func (s *Session) OptionsParseConfig(path string) error {
	return s.parseConfig(context.Background(), path)
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

	var files []configFile
	if path != "" {
		files = []configFile{{path: path, flags: fileUser, mustExist: true}}
	} else {
		sys := opts.systemConfig
		if sys == "" {
			sys = defaultSystemConfig
		}
		files = []configFile{
			{path: filepath.Join(opts.SSHDir, "config"), flags: fileUser | fileCheckPerm},
			{path: sys},
		}
	}
	p := &configParser{
		ctx:      ctx,
		log:      opts.logger(),
		local:    currentLocalInfo(),
		sshDir:   opts.SSHDir,
		sysDir:   filepath.Dir(filesSystemPath(files)),
		origHost: opts.Host,
		v:        newConfigValues(opts, explicit),
	}
	if err := p.resolve(files); err != nil {
		return err
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	next := s.opts.clone()
	if err := p.v.applyTo(&next, explicit, p); err != nil {
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

func filesSystemPath(files []configFile) string {
	for _, f := range files {
		if f.flags&fileUser == 0 {
			return f.path
		}
	}
	return defaultSystemConfig
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

// configParser is one resolution: the files, in one or two passes, into v.
type configParser struct {
	ctx      context.Context
	log      *slog.Logger
	local    localInfo
	sshDir   string // where a user config's relative Includes resolve
	sysDir   string // where the system config's relative Includes resolve
	origHost string // the host name as given (%n, Match originalhost)

	// runExec runs a Match exec command; nil means runMatchExec. Fuzzing
	// replaces it so that generated configs never run commands.
	runExec func(command string) (bool, error)

	final     bool // the second pass that "Match final" asked for
	wantFinal bool
	stack     []string // the Include chain, to name a loop
	opened    int      // files opened, against maxConfigFiles

	v *configValues
}

// resolve runs the first pass and, when "Match final" appeared or
// CanonicalizeHostname is on, OpenSSH's final pass over the same files with
// the host name resolved so far.
func (p *configParser) resolve(files []configFile) error {
	if err := p.pass(files); err != nil {
		return err
	}
	if !p.wantFinal && !p.v.canonicalize {
		return nil
	}
	host, err := p.v.resolvedHost(p.origHost)
	if err != nil {
		return err
	}
	// ssh.c: the host name is fixed (expanded and lowercased) before the
	// configuration is read again with "final" true; Host lines then
	// match it rather than the name given.
	p.v.hostname, p.v.hostnameDone = host, true
	p.v.set["hostname"] = true
	p.v.finalHost = host
	p.final = true
	return p.pass(files)
}

func (p *configParser) pass(files []configFile) error {
	for _, f := range files {
		active := true
		found, err := p.readFile(f.path, f.flags, &active, 0)
		if err != nil {
			return err
		}
		if !found && f.mustExist {
			return &ConfigError{File: f.path, Err: fs.ErrNotExist}
		}
	}
	return nil
}

// readFile parses one file into p.v; found is false when it does not exist.
// *active is the Host/Match state, which an included file inherits and may
// change only for itself.
func (p *configParser) readFile(path string, flags fileFlags, active *bool, depth int) (found bool, err error) {
	if depth > maxIncludeDepth {
		return false, &ConfigError{File: path, Err: fmt.Errorf("too many recursive configuration includes (more than %d)", maxIncludeDepth)}
	}
	for _, f := range p.stack {
		if f == path {
			return false, &ConfigError{File: path, Err: fmt.Errorf("include loop: %s", strings.Join(append(p.stack, path), " -> "))}
		}
	}
	p.opened++
	if p.opened > maxConfigFiles {
		return false, &ConfigError{File: path, Err: fmt.Errorf("more than %d configuration files included", maxConfigFiles)}
	}
	data, err := readConfigFile(path, flags&fileCheckPerm != 0)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, &ConfigError{File: path, Err: err}
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
			return true, &ConfigError{File: path, Line: n, Err: fmt.Errorf("line longer than %d bytes", maxConfigLine)}
		}
		if err := p.line(string(line), path, n, active, flags, depth); err != nil {
			var ce *ConfigError
			if errors.As(err, &ce) {
				return true, err
			}
			return true, &ConfigError{File: path, Line: n, Err: err}
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

// line processes one line, as OpenSSH's process_config_line_depth.
func (p *configParser) line(line, file string, n int, active *bool, flags fileFlags, depth int) error {
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
	spec, known := configKeywords[kw]
	if !known {
		if p.v.ignoreUnknown != "" && matchPatternList(kw, p.v.ignoreUnknown, true) == 1 {
			p.log.Debug("ssh_config: ignored unknown option", "file", file, "line", n, "keyword", kw)
			return nil
		}
		return fmt.Errorf("bad configuration option: %s", kw)
	}
	args, err := argvSplit(rest)
	if err != nil {
		return err
	}
	switch spec.id {
	case kwHost:
		return p.host(args, active, flags)
	case kwMatch:
		hit, err := p.evalMatch(rest)
		if err != nil {
			return fmt.Errorf("bad Match condition: %w", err)
		}
		*active = hit && flags&fileNeverMatch == 0
		return nil
	case kwInclude:
		return p.include(args, file, active, flags, depth)
	}
	return p.keyword(spec, args, rest, *active, file, n)
}

// host applies a Host line: a space-separated list of patterns, each
// matched whole against the host name (no comma lists, case-sensitive, as
// OpenSSH's match_pattern); a matching negated pattern vetoes the block.
func (p *configParser) host(args []string, active *bool, flags fileFlags) error {
	host := p.origHost
	if p.final {
		host = p.v.finalHost
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
		if matchGlob(strings.TrimPrefix(a, "!"), host) {
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
// only), and relative paths under SSHDir (user configs) or /etc/ssh (the
// system config). A pattern that matches nothing is skipped. Included files
// are permission-checked, and parsed without applying anything when the
// Include line sits in an inactive block.
func (p *configParser) include(args []string, file string, active *bool, flags fileFlags, depth int) error {
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
			t, err := expandTilde(a)
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

// durationSeconds converts whole seconds.
func durationSeconds(n int64) time.Duration { return time.Duration(n) * time.Second }
