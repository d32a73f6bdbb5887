package main

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/libssh-go/libssh/sshconfig"
)

// usageError is a command-line mistake after which ssh prints its usage
// text; the string says what is wrong ("" when the usage says it all).
type usageError string

func (e usageError) Error() string {
	if e == "" {
		return "usage"
	}
	return string(e)
}

// usageText is ssh(1)'s synopsis for the options gossh takes.
const usageText = `usage: gossh [-46AaCfGgKkNnqsTtVvx] [-b bind_address] [-c cipher_spec]
             [-D [bind_address:]port] [-E log_file] [-e escape_char]
             [-F configfile] [-i identity_file] [-J destination] [-L address]
             [-l login_name] [-m mac_spec] [-o option] [-p port] [-R address]
             [-S ctl_path] [-W host:port] destination [command [argument ...]]
`

// cmdline is what the command line says, before any configuration file is
// read. Flags that ssh turns into configuration values are kept as config
// lines in options, so that sshconfig.Resolve sees exactly what ssh's
// option table would hold.
type cmdline struct {
	destination string   // as given (user@host, ssh://...)
	host        string   // destination without user and port
	user        string   // -l, or the destination's user
	port        int      // -p, or an ssh:// URI's port; 0 = unset
	uriPort     int      // the port of an ssh:// destination
	configFile  string   // -F
	command     []string // the remote command and its arguments

	// options are config lines in the order ssh applies them: flags that
	// ssh assigns directly (they win over any -o) first, then -o, -i, -L,
	// -R and -D in the order given.
	options []string

	identities []string // -i, as given
	stdioFwd   string   // -W host:port
	printCfg   bool     // -G
	version    bool     // -V
	quiet      bool     // -q
	verbose    int      // number of -v
	logFile    string   // -E
	ttyFlags   int      // number of -t
	noTTY      bool     // -T
	noShell    bool     // -N
	subsystem  bool     // -s
	stdinNull  bool     // -n (or -f)
	fork       bool     // -f
}

// unsupported names the ssh(1) options gossh knows but does not implement.
var unsupported = map[byte]string{
	'1': "protocol 1", '2': "protocol selection",
	'B': "bind_interface", 'I': "PKCS#11", 'M': "ControlMaster mode (master)",
	'O': "multiplex control commands", 'P': "tag", 'Q': "queries",
	'w': "tunnel forwarding", 'X': "X11 forwarding", 'Y': "trusted X11 forwarding",
	'y': "syslog logging",
}

// takesArg lists the options that have an argument (ssh's getopt string).
const takesArg = "bcDeEFiJlLmopRSW" + "BIOPQw"

// flagsNoArg lists the options without an argument.
const flagsNoArg = "46AaCfGgKkNnqsTtVvx" + "12MXYy"

// parseArgs parses args as ssh(1) does: getopt-style bundled flags ("-vvv",
// "-p22", "-oKey=value"), then the destination, after which option parsing
// starts again (ssh accepts "host -p 22 cmd"); the first argument that is
// not an option after the destination begins the command, and "--" ends
// the options. A usageError means the usage text should follow.
func parseArgs(args []string) (*cmdline, error) {
	c := &cmdline{}
	direct := map[string]string{} // keyword -> value, last assignment wins as in ssh
	var directOrder []string
	setDirect := func(kw, v string) {
		if _, ok := direct[kw]; !ok {
			directOrder = append(directOrder, kw)
		}
		direct[kw] = v
	}
	var ordered []string
	logLevel := "" // what -q/-v leave in options.log_level
	requestTTY := ""
	jumpSet := false

	i := 0
	sawDest := false
	for i < len(args) {
		a := args[i]
		if a == "--" {
			i++
			break
		}
		if len(a) < 2 || a[0] != '-' {
			if sawDest {
				break // the command starts here
			}
			c.destination = a
			sawDest = true
			hadUser := c.user != ""
			if err := c.splitDestination(); err != nil {
				return nil, err
			}
			// ssh takes the destination's user and an ssh:// port at this
			// point, each only if no earlier option set it.
			if !hadUser && c.user != "" {
				ordered = append(ordered, "User "+quoteConfig(c.user))
			}
			if c.uriPort != 0 {
				ordered = append(ordered, "Port "+strconv.Itoa(c.uriPort))
			}
			i++
			continue
		}
		i++
		for j := 1; j < len(a); j++ {
			o := a[j]
			switch {
			case strings.IndexByte(takesArg, o) >= 0:
				var val string
				if j+1 < len(a) {
					val = a[j+1:]
				} else if i < len(args) {
					val = args[i]
					i++
				} else {
					return nil, usageError(fmt.Sprintf("option requires an argument -- %c", o))
				}
				if name, ok := unsupported[o]; ok {
					return nil, fmt.Errorf("option -%c (%s) is not supported by gossh", o, name)
				}
				switch o {
				case 'b':
					setDirect("BindAddress", val)
				case 'c':
					setDirect("Ciphers", val)
				case 'm':
					setDirect("MACs", val)
				case 'D':
					ordered = append(ordered, "DynamicForward "+val)
				case 'L':
					line, err := forwardLine(val, false)
					if err != nil {
						return nil, fmt.Errorf("Bad local forwarding specification '%s'", val)
					}
					ordered = append(ordered, "LocalForward "+line)
				case 'R':
					line, err := forwardLine(val, true)
					if err != nil {
						return nil, fmt.Errorf("Bad remote forwarding specification '%s'", val)
					}
					ordered = append(ordered, "RemoteForward "+line)
				case 'e':
					setDirect("EscapeChar", val)
				case 'E':
					c.logFile = val
				case 'F':
					c.configFile = val
				case 'i':
					c.identities = append(c.identities, val)
					ordered = append(ordered, "IdentityFile "+quoteConfig(val))
				case 'J':
					if jumpSet {
						return nil, errors.New("Only a single -J option is permitted")
					}
					jumpSet = true
					setDirect("ProxyJump", val)
				case 'l':
					ordered = append(ordered, "User "+quoteConfig(val))
					if c.user == "" {
						c.user = val
					}
				case 'o':
					ordered = append(ordered, val)
				case 'p':
					p, err := sshconfig.ParsePort(val)
					if err != nil {
						return nil, fmt.Errorf("Bad port '%s'", val)
					}
					ordered = append(ordered, "Port "+strconv.Itoa(p))
					if c.port == 0 {
						c.port = p
					}
				case 'S':
					setDirect("ControlPath", quoteConfig(val))
				case 'W':
					if c.stdioFwd != "" {
						return nil, errors.New("stdio forward already specified")
					}
					if _, _, err := splitHostPort(val); err != nil {
						return nil, fmt.Errorf("Bad stdio forwarding specification '%s'", val)
					}
					c.stdioFwd = val
					setDirect("ClearAllForwardings", "yes")
					setDirect("ExitOnForwardFailure", "yes")
					requestTTY = "no"
					setDirect("SessionType", "none")
				}
				j = len(a)
			case strings.IndexByte(flagsNoArg, o) >= 0:
				if name, ok := unsupported[o]; ok {
					return nil, fmt.Errorf("option -%c (%s) is not supported by gossh", o, name)
				}
				switch o {
				case '4':
					setDirect("AddressFamily", "inet")
				case '6':
					setDirect("AddressFamily", "inet6")
				case 'A':
					setDirect("ForwardAgent", "yes")
				case 'a':
					setDirect("ForwardAgent", "no")
				case 'C':
					setDirect("Compression", "yes")
				case 'f':
					c.fork = true
					c.stdinNull = true
					setDirect("ForkAfterAuthentication", "yes")
					setDirect("StdinNull", "yes")
				case 'G':
					c.printCfg = true
				case 'g':
					setDirect("GatewayPorts", "yes")
				case 'K':
					setDirect("GSSAPIAuthentication", "yes")
					setDirect("GSSAPIDelegateCredentials", "yes")
				case 'k':
					setDirect("GSSAPIDelegateCredentials", "no")
				case 'N':
					c.noShell = true
					setDirect("SessionType", "none")
					requestTTY = "no"
				case 'n':
					c.stdinNull = true
					setDirect("StdinNull", "yes")
				case 'q':
					c.quiet = true
					c.verbose = 0
					logLevel = "QUIET"
				case 's':
					c.subsystem = true
					setDirect("SessionType", "subsystem")
				case 'T':
					c.noTTY = true
					requestTTY = "no"
				case 't':
					c.ttyFlags++
					if requestTTY == "yes" {
						requestTTY = "force"
					} else {
						requestTTY = "yes"
					}
				case 'V':
					c.version = true
				case 'v':
					// ssh: the first -v sets DEBUG1 (even after -q),
					// each further one raises the level up to DEBUG3.
					c.quiet = false
					c.verbose++
					if c.verbose > 3 {
						c.verbose = 3
					}
					logLevel = "DEBUG" + strconv.Itoa(c.verbose)
				case 'x':
					setDirect("ForwardX11", "no")
				}
			default:
				return nil, usageError(fmt.Sprintf("unknown option -- %c", o))
			}
		}
	}
	c.command = args[i:]
	if logLevel != "" {
		setDirect("LogLevel", logLevel)
	}
	if requestTTY != "" {
		setDirect("RequestTTY", requestTTY)
	}
	if c.version {
		return c, nil
	}
	if c.destination == "" {
		return nil, usageError("")
	}
	if c.port == 0 {
		c.port = c.uriPort
	}
	if c.subsystem && len(c.command) == 0 {
		return nil, usageError("You must specify a subsystem to invoke.")
	}
	for _, kw := range directOrder {
		c.options = append(c.options, kw+" "+direct[kw])
	}
	c.options = append(c.options, ordered...)
	return c, nil
}

// splitDestination takes the user (and, for an ssh:// URI, the port) out of
// the destination, as ssh does: "user@host" splits at the last '@';
// "host:port" is not split (ssh resolves "host:port" as a name, and so
// fails); "ssh://[user@]host[:port]" is a URI. The first user named wins
// (a -l before the destination, else the destination's), and -p wins over
// the URI's port, as in ssh.
func (c *cmdline) splitDestination() error {
	d := c.destination
	if strings.HasPrefix(d, "ssh://") {
		u, err := url.Parse(d)
		if err != nil || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
			return fmt.Errorf("Invalid destination: %s", d)
		}
		if u.User != nil && c.user == "" {
			c.user = u.User.Username()
		}
		c.host = u.Hostname()
		if p := u.Port(); p != "" {
			n, err := strconv.Atoi(p)
			if err != nil || n < 1 || n > 65535 {
				return fmt.Errorf("Invalid destination: %s", d)
			}
			c.uriPort = n
		}
	} else if at := strings.LastIndexByte(d, '@'); at >= 0 {
		if c.user == "" {
			c.user = d[:at]
		}
		c.host = d[at+1:]
	} else {
		c.host = d
	}
	if c.host == "" {
		return fmt.Errorf("Invalid destination: %s", d)
	}
	return nil
}

// forwardLine turns a -L/-R argument ("[bind:]port:host:hostport", one
// colon-separated spec as ssh's parse_forward takes it) into the value of
// a LocalForward/RemoteForward line ("[bind:]port host:hostport"). A -R
// with no destination is a dynamic remote forward.
func forwardLine(spec string, remote bool) (string, error) {
	f, err := sshconfig.ParseForward(spec, false, remote)
	if err != nil && remote {
		f, err = sshconfig.ParseForward(spec, true, true)
	}
	if err != nil {
		return "", err
	}
	return f.String(), nil
}

// quoteConfig quotes a value for a config line when it has blanks.
func quoteConfig(v string) string {
	if strings.ContainsAny(v, " \t") {
		return `"` + v + `"`
	}
	return v
}

// splitHostPort splits -W's host:port (with [v6]:port).
func splitHostPort(s string) (string, int, error) {
	i := strings.LastIndexByte(s, ':')
	if i <= 0 {
		return "", 0, errors.New("missing port")
	}
	host, ps := s[:i], s[i+1:]
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	p, err := strconv.Atoi(ps)
	if err != nil || p < 1 || p > 65535 || host == "" {
		return "", 0, errors.New("bad port")
	}
	return host, p, nil
}
