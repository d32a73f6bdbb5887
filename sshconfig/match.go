package sshconfig

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"

	"github.com/libssh-go/libssh/internal/pattern"
)

// maxSubpattern mirrors the 1024-byte buffer of OpenSSH's
// match_pattern_list: a longer element never matches.
const maxSubpattern = 1023

func globMatch(pat, s string) bool { return pattern.Match(pat, s) }

// MatchPatternList matches s against a comma-separated pattern list, each
// element optionally negated with '!', as OpenSSH's match_pattern_list: 1
// if an element matched and no negated one did, -1 if a negated element
// matched, 0 otherwise. "*" matches any run of bytes, "?" exactly one.
func MatchPatternList(s, list string) int { return matchPatternList(s, list, false) }

// matchPatternList is MatchPatternList; lower lowercases the patterns (s is
// taken as is).
func matchPatternList(s, list string, lower bool) int {
	got := 0
	for _, sub := range strings.Split(list, ",") {
		negated := strings.HasPrefix(sub, "!")
		if negated {
			sub = sub[1:]
		}
		if len(sub) >= maxSubpattern {
			return 0
		}
		if lower {
			sub = strings.ToLower(sub)
		}
		if globMatch(sub, s) {
			if negated {
				return -1
			}
			got = 1
		}
	}
	return got
}

// matchHostname is OpenSSH's match_hostname: a case-insensitive pattern list.
func matchHostname(host, list string) bool {
	return matchPatternList(strings.ToLower(host), list, true) == 1
}

// evalMatch evaluates the criteria of one Match line, following OpenSSH's
// match_cfg_line: every criterion must hold; "all" stands alone (or after
// "canonical"/"final", as in Fedora's "Match final all"); '!' negates one
// criterion; "exec" runs only when the criteria before it held. It also
// records that a final pass is wanted when "final" appears.
func (p *parser) evalMatch(cond string) (bool, error) {
	c := p.c
	port, _ := strconv.Atoi(c.first1("port"))
	if port <= 0 {
		port = 22
	}
	ruser := c.first1("user")
	if ruser == "" {
		ruser = p.local.user
	}
	host := p.origHost
	switch {
	case p.final:
		host = c.finalHost
	case c.set["hostname"]:
		h, err := expandTokens(c.first1("hostname"), Tokens{'h': p.origHost}, TokensHostname, false, false)
		if err != nil {
			return false, err
		}
		host = h
	}

	result, attributes := true, 0
	rest, more := cond, true
	for {
		attrib, r, m, ok := strdelim(rest, more)
		rest, more = r, m
		if !ok || attrib == "" || attrib[0] == '#' {
			break
		}
		negate := attrib[0] == '!'
		name := strings.ToLower(strings.TrimPrefix(attrib, "!"))
		if name == "all" {
			arg, _, _, ok := strdelim(rest, more)
			if attributes > 1 || ok && arg != "" && arg[0] != '#' {
				return false, fmt.Errorf("'%s' cannot be combined with other Match attributes", attrib)
			}
			if result {
				result = !negate
			}
			return result, nil
		}
		attributes++
		if name == "canonical" || name == "final" {
			if name == "final" {
				p.wantFinal = true
			}
			if p.final == negate {
				result = false
			}
			continue
		}
		arg, r, m, ok := strdelim(rest, more)
		rest, more = r, m
		if !ok || arg == "" || arg[0] == '#' {
			return false, fmt.Errorf("missing Match criteria for %s", attrib)
		}
		var hit bool
		switch name {
		case "host":
			hit = matchHostname(host, arg)
		case "originalhost":
			hit = matchHostname(p.origHost, arg)
		case "user":
			hit = matchPatternList(ruser, arg, false) == 1
		case "localuser":
			hit = matchPatternList(p.local.user, arg, false) == 1
		case "tagged":
			// OpenSSH 9.4+: the Tag keyword's value ("" when unset).
			hit = matchPatternList(c.first1("tag"), arg, false) == 1
		case "localnetwork":
			nets, err := parseCIDRList(arg)
			if err != nil {
				return false, err
			}
			if hit, err = p.localNetworkMatch(nets); err != nil {
				return false, err
			}
		case "exec":
			if !result {
				continue // an earlier criterion failed: OpenSSH skips the command
			}
			alias := c.first1("hostkeyalias") // match_cfg_line: %k falls back to the host, not the name given
			if alias == "" {
				alias = host
			}
			toks := connectionTokens(p.local, host, p.origHost, port, ruser, alias, "")
			cmd, err := expandTokens(arg, toks, TokensExec, false, true)
			if err != nil {
				return false, err
			}
			run := p.in.Exec
			if run == nil {
				run = p.runMatchExec
			}
			if hit, err = run(p.ctx, cmd); err != nil {
				return false, err
			}
		default:
			return false, fmt.Errorf("unsupported Match attribute %s", attrib)
		}
		if hit == negate {
			result = false
		}
	}
	if attributes == 0 {
		return false, errors.New("one or more attributes required for Match")
	}
	return result, nil
}

// runMatchExec runs a Match exec command through /bin/sh -c, with stdin and
// stdout on the null device, and reports whether it exited with status 0.
// OpenSSH uses $SHELL; this package always uses /bin/sh, so that a login
// shell's startup files cannot change what a config means. A command that
// cannot be started at all is an error, as in OpenSSH.
//
// OpenSSH waits for the command however long it takes; here ctx bounds
// it. When the ctx ends, the command's whole process group is killed, so
// nothing it started outlives the ctx, and the error matches the ctx's.
// What it leaves running in the background after exiting by itself is
// left alone, as OpenSSH does.
func (p *parser) runMatchExec(ctx context.Context, command string) (bool, error) {
	if isWindows {
		return false, fmt.Errorf("Match exec needs a POSIX shell: %w", errors.ErrUnsupported)
	}
	if ctx == nil {
		ctx = context.Background()
	}
	p.log.Debug("ssh_config: Match exec", "command", command)
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", command)
	killGroupOnCancel(cmd)
	err := cmd.Run()
	if ctx.Err() != nil {
		return false, fmt.Errorf("Match exec %q: %w", command, context.Cause(ctx))
	}
	if err == nil {
		return true, nil
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return false, nil
	}
	return false, fmt.Errorf("Match exec %q: %w", command, err)
}

// parseCIDRList parses OpenSSH's addr_match_cidr_list syntax: a comma list of
// addresses and address/prefix networks.
func parseCIDRList(list string) ([]*net.IPNet, error) {
	var nets []*net.IPNet
	for _, e := range strings.Split(list, ",") {
		if e == "" {
			return nil, fmt.Errorf("empty entry in network list %q", list)
		}
		if strings.Contains(e, "/") {
			ip, n, err := net.ParseCIDR(e)
			if err != nil || !ip.Equal(n.IP) {
				return nil, fmt.Errorf("invalid network %q", e)
			}
			nets = append(nets, n)
			continue
		}
		ip := net.ParseIP(e)
		if ip == nil {
			return nil, fmt.Errorf("invalid address %q", e)
		}
		bits := 128
		if ip4 := ip.To4(); ip4 != nil {
			ip, bits = ip4, 32
		}
		nets = append(nets, &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)})
	}
	return nets, nil
}

// localNetworkMatch reports whether a local address lies in one of nets
// (OpenSSH 9.4+ "Match localnetwork"): Input.LocalAddrs, or the addresses
// of the interfaces that are up.
func (p *parser) localNetworkMatch(nets []*net.IPNet) (bool, error) {
	var ips []net.IP
	if p.in.LocalAddrs != nil {
		var err error
		if ips, err = p.in.LocalAddrs(); err != nil {
			return false, fmt.Errorf("Match localnetwork: %w", err)
		}
	} else {
		ifaces, err := net.Interfaces()
		if err != nil {
			return false, nil
		}
		for _, ifc := range ifaces {
			if ifc.Flags&net.FlagUp == 0 {
				continue
			}
			addrs, err := ifc.Addrs()
			if err != nil {
				continue
			}
			for _, a := range addrs {
				if ipn, ok := a.(*net.IPNet); ok {
					ips = append(ips, ipn.IP)
				}
			}
		}
	}
	for _, ip := range ips {
		for _, n := range nets {
			if n.Contains(ip) {
				return true, nil
			}
		}
	}
	return false, nil
}
