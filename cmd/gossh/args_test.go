package main

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParseArgs(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		check   func(t *testing.T, c *cmdline)
		wantErr string // substring; "" = no error
		usage   bool   // the error is a usageError
	}{
		{name: "destination only", args: []string{"host"}, check: func(t *testing.T, c *cmdline) {
			eq(t, c.host, "host")
			eq(t, c.user, "")
			eq(t, len(c.command), 0)
		}},
		{name: "user@host and command", args: []string{"alice@h", "ls", "-l"}, check: func(t *testing.T, c *cmdline) {
			eq(t, c.user, "alice")
			eq(t, c.host, "h")
			eq(t, strings.Join(c.command, " "), "ls -l")
		}},
		{name: "user with @ splits at the last", args: []string{"a@b@h"}, check: func(t *testing.T, c *cmdline) {
			eq(t, c.user, "a@b")
			eq(t, c.host, "h")
		}},
		{name: "host:port is not split, as in ssh", args: []string{"h:2222"}, check: func(t *testing.T, c *cmdline) {
			eq(t, c.host, "h:2222")
			eq(t, c.port, 0)
		}},
		{name: "ssh URI", args: []string{"ssh://bob@h:2200"}, check: func(t *testing.T, c *cmdline) {
			eq(t, c.user, "bob")
			eq(t, c.host, "h")
			eq(t, c.port, 2200)
		}},
		{name: "-p wins over URI port", args: []string{"-p", "9", "ssh://h:2200"}, check: func(t *testing.T, c *cmdline) {
			eq(t, c.port, 9)
		}},
		{name: "first user wins: -l before destination", args: []string{"-l", "x", "y@h"}, check: func(t *testing.T, c *cmdline) {
			eq(t, c.user, "x")
		}},
		{name: "first user wins: destination before -l", args: []string{"y@h", "-l", "x"}, check: func(t *testing.T, c *cmdline) {
			eq(t, c.user, "y")
		}},
		{name: "bundled flags and attached values", args: []string{"-vvvp2222", "-oUser=z", "-4", "h"}, check: func(t *testing.T, c *cmdline) {
			eq(t, c.verbose, 3)
			eq(t, c.port, 2222)
			has(t, c.options, "User=z")
			has(t, c.options, "AddressFamily inet")
			has(t, c.options, "LogLevel DEBUG3")
		}},
		{name: "options after the destination are parsed", args: []string{"h", "-p", "22", "-T", "cmd", "-p", "x"}, check: func(t *testing.T, c *cmdline) {
			eq(t, c.port, 22)
			eq(t, c.noTTY, true)
			eq(t, strings.Join(c.command, " "), "cmd -p x")
		}},
		{name: "-- ends options", args: []string{"h", "--", "-p", "1"}, check: func(t *testing.T, c *cmdline) {
			eq(t, strings.Join(c.command, " "), "-p 1")
		}},
		{name: "-o is repeatable and ordered", args: []string{"-o", "A=1", "-oB 2", "-o", "C=3", "h"}, check: func(t *testing.T, c *cmdline) {
			i, j, k := slices.Index(c.options, "A=1"), slices.Index(c.options, "B 2"), slices.Index(c.options, "C=3")
			if !(i >= 0 && i < j && j < k) {
				t.Errorf("options %q not in order", c.options)
			}
		}},
		{name: "direct flags come before -o so they win", args: []string{"-o", "ForwardAgent=no", "-A", "h"}, check: func(t *testing.T, c *cmdline) {
			if slices.Index(c.options, "ForwardAgent yes") > slices.Index(c.options, "ForwardAgent=no") {
				t.Errorf("options %q: -A must come first", c.options)
			}
		}},
		{name: "last direct flag wins", args: []string{"-4", "-6", "-A", "-a", "h"}, check: func(t *testing.T, c *cmdline) {
			has(t, c.options, "AddressFamily inet6")
			has(t, c.options, "ForwardAgent no")
		}},
		{name: "-t twice forces", args: []string{"-tt", "h"}, check: func(t *testing.T, c *cmdline) {
			has(t, c.options, "RequestTTY force")
		}},
		{name: "-T", args: []string{"-T", "h"}, check: func(t *testing.T, c *cmdline) {
			has(t, c.options, "RequestTTY no")
		}},
		{name: "-q after -v is quiet", args: []string{"-v", "-q", "h"}, check: func(t *testing.T, c *cmdline) {
			has(t, c.options, "LogLevel QUIET")
		}},
		{name: "-v after -q is debug1", args: []string{"-q", "-v", "h"}, check: func(t *testing.T, c *cmdline) {
			has(t, c.options, "LogLevel DEBUG1")
		}},
		{name: "forwards", args: []string{"-L", "8080:h:80", "-R", "9090:h:90", "-D", "1080", "h"}, check: func(t *testing.T, c *cmdline) {
			has(t, c.options, "LocalForward 8080 [h]:80")
			has(t, c.options, "RemoteForward 9090 [h]:90")
			has(t, c.options, "DynamicForward 1080")
		}},
		{name: "-W", args: []string{"-W", "[::1]:22", "j"}, check: func(t *testing.T, c *cmdline) {
			eq(t, c.stdioFwd, "[::1]:22")
			has(t, c.options, "SessionType none")
			has(t, c.options, "ExitOnForwardFailure yes")
			has(t, c.options, "ClearAllForwardings yes")
		}},
		{name: "-N -f -n", args: []string{"-Nfn", "h"}, check: func(t *testing.T, c *cmdline) {
			eq(t, c.fork, true)
			eq(t, c.stdinNull, true)
			has(t, c.options, "SessionType none")
			has(t, c.options, "ForkAfterAuthentication yes")
		}},
		{name: "-i and -F and -E and -e", args: []string{"-i", "k 1", "-F", "cfg", "-E", "log", "-e", "^A", "h"}, check: func(t *testing.T, c *cmdline) {
			has(t, c.options, `IdentityFile "k 1"`)
			eq(t, c.configFile, "cfg")
			eq(t, c.logFile, "log")
			has(t, c.options, "EscapeChar ^A")
		}},
		{name: "-J", args: []string{"-J", "u@j:22,k", "h"}, check: func(t *testing.T, c *cmdline) {
			has(t, c.options, "ProxyJump u@j:22,k")
		}},
		{name: "-V needs no destination", args: []string{"-V"}, check: func(t *testing.T, c *cmdline) {
			eq(t, c.version, true)
		}},
		{name: "service name port", args: []string{"-p", "ssh", "h"}, check: func(t *testing.T, c *cmdline) {
			eq(t, c.port, 22)
		}},

		{name: "no destination", args: []string{"-v"}, usage: true, wantErr: "usage"},
		{name: "unknown option", args: []string{"-Z", "h"}, usage: true, wantErr: "unknown option -- Z"},
		{name: "missing argument", args: []string{"h", "-p"}, usage: true, wantErr: "option requires an argument -- p"},
		{name: "bad port", args: []string{"-p", "0", "h"}, wantErr: "Bad port '0'"},
		{name: "unsupported X11", args: []string{"-X", "h"}, wantErr: "option -X (X11 forwarding) is not supported"},
		{name: "unsupported with argument", args: []string{"-w", "0:0", "h"}, wantErr: "option -w (tunnel forwarding)"},
		{name: "two -J", args: []string{"-J", "a", "-J", "b", "h"}, wantErr: "single -J"},
		{name: "bad -W", args: []string{"-W", "nocolon", "h"}, wantErr: "Bad stdio forwarding specification"},
		{name: "-s without subsystem", args: []string{"-s", "h"}, usage: true, wantErr: "specify a subsystem"},
		{name: "bad URI", args: []string{"ssh://h/path"}, wantErr: "Invalid destination"},
		{name: "bad URI port", args: []string{"ssh://h:99999"}, wantErr: "Invalid destination"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseArgs(tt.args)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseArgs(%q) error %v, want one containing %q", tt.args, err, tt.wantErr)
				}
				var ue usageError
				if errors.As(err, &ue) != tt.usage {
					t.Errorf("usage error = %v, want %v", !tt.usage, tt.usage)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseArgs(%q): %v", tt.args, err)
			}
			tt.check(t, c)
		})
	}
}

func TestParseEscapeChar(t *testing.T) {
	for in, want := range map[string]int{"~": '~', "none": -1, "^A": 1, `\^B`: 2, "%": '%'} {
		got, err := parseEscapeChar(in)
		if err != nil || got != want {
			t.Errorf("parseEscapeChar(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "ab", "^AB"} {
		if _, err := parseEscapeChar(bad); err == nil {
			t.Errorf("parseEscapeChar(%q) succeeded", bad)
		}
	}
}

func TestWantPTY(t *testing.T) {
	tests := []struct {
		req                                    string
		cmd, none, tty, null, want, wantNotice bool
	}{
		{req: "auto", tty: true, want: true},
		{req: "auto", cmd: true, tty: true, want: false},
		{req: "auto", tty: false, want: false, wantNotice: true},
		{req: "yes", cmd: true, tty: true, want: true},
		{req: "yes", cmd: true, tty: false, want: false, wantNotice: true},
		{req: "force", cmd: true, tty: false, want: true},
		{req: "no", tty: true, want: false},
		{req: "auto", none: true, tty: true, want: false},
		{req: "auto", tty: true, null: true, want: false, wantNotice: true},
	}
	for _, tt := range tests {
		noticed := false
		got := wantPTY(tt.req, tt.cmd, tt.none, tt.tty, tt.null, func(string) { noticed = true })
		if got != tt.want || noticed != tt.wantNotice {
			t.Errorf("wantPTY(%+v) = %v (notice %v), want %v (notice %v)", tt, got, noticed, tt.want, tt.wantNotice)
		}
	}
}

func eq[T comparable](t *testing.T, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("got %v, want %v", got, want)
	}
}

func has(t *testing.T, list []string, want string) {
	t.Helper()
	if !slices.Contains(list, want) {
		t.Errorf("%q does not contain %q", list, want)
	}
}
