package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/libssh-go/libssh/sshconfig"
)

// wantPTY is ssh's tty_flag decision (ssh.c): RequestTTY yes/force asks
// for one; no command (and no RemoteCommand) asks for one unless
// RequestTTY no; RequestTTY no, SessionType none or subsystem never; and
// a stdin that is not a terminal (or -n) drops the request except with
// force (-tt), saying so as ssh does.
func wantPTY(requestTTY string, hasCommand, sessionNone, stdinTTY, stdinNull bool, say func(string)) bool {
	tty := requestTTY == "yes" || requestTTY == "force"
	if !hasCommand {
		tty = requestTTY != "no"
	}
	if requestTTY == "no" || sessionNone {
		tty = false
	}
	if (!stdinTTY || stdinNull) && requestTTY != "force" {
		if tty && say != nil {
			say("Pseudo-terminal will not be allocated because stdin is not a terminal.")
		}
		tty = false
	}
	return tty
}

// parseEscapeChar is ssh's -e / EscapeChar: a single character, "^X" for
// a control character, or "none" (-1).
func parseEscapeChar(s string) (int, error) {
	s = strings.TrimPrefix(s, `\`) // ssh -G prints ^X as \^X
	switch {
	case s == "none":
		return -1, nil
	case len(s) == 1:
		return int(s[0]), nil
	case len(s) == 2 && s[0] == '^':
		return int(s[1] & 31), nil
	}
	return 0, fmt.Errorf("Bad escape character '%s'.", s)
}

// sessionEnv is the environment sent with the session (SendEnv patterns
// matched against the local environment, "-pattern" removing earlier ones,
// then SetEnv), as ssh sends it.
func sessionEnv(sendEnv, setEnv []string) map[string]string {
	env := map[string]string{}
	var patterns []string
	for _, p := range sendEnv {
		if rest, ok := strings.CutPrefix(p, "-"); ok {
			var kept []string
			for _, q := range patterns {
				if sshconfig.MatchPatternList(q, rest) != 1 {
					kept = append(kept, q)
				}
			}
			patterns = kept
			continue
		}
		patterns = append(patterns, p)
	}
	for _, kv := range os.Environ() {
		name, value, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		for _, p := range patterns {
			if sshconfig.MatchPatternList(name, p) == 1 {
				env[name] = value
				break
			}
		}
	}
	for _, kv := range setEnv {
		if name, value, ok := strings.Cut(kv, "="); ok {
			env[name] = value
		}
	}
	return env
}
