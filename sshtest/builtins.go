package sshtest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// RunBuiltin runs ctx.Command, split on spaces, as one of the built-in
// commands, and returns its exit status. A Config.Exec handler may call it
// to fall back to them. The built-ins are:
//
//	whoami          prints the user name
//	echo ARGS...    prints ARGS joined by single spaces
//	true, false     exit 0 and 1
//	exit [N]        exits with status N (default 0)
//	cat             copies stdin to stdout until EOF
//	stderr TEXT...  prints TEXT to stderr
//	both OUT ERR    prints OUT to stdout, then ERR to stderr
//	printenv [NAME] prints the value of NAME (exit 1 if unset), or every
//	                variable as NAME=VALUE, sorted
//	kill [SIG]      ends by signal SIG (default TERM), message "killed"
//	sleep SECONDS   waits; a "signal" request ends it by that signal
//	yes N           prints exactly N bytes of 'y'
//	sha256          prints the hex SHA-256 of stdin
//	pty             prints the pty's TERM COLS ROWS (exit 1 without a pty)
//
// Every line printed ends in "\n". An unknown command prints
// "NAME: command not found" to stderr and exits 127, as sh does; an empty
// command exits 0. Wrong arguments print a usage line to stderr and exit 2.
func RunBuiltin(ctx ExecContext) int {
	ctx = ctx.withDefaults()
	args := strings.Fields(ctx.Command)
	if len(args) == 0 {
		return 0
	}
	name, args := args[0], args[1:]
	switch name {
	case "whoami":
		return printLine(ctx.Stdout, ctx.User)
	case "echo":
		return printLine(ctx.Stdout, strings.Join(args, " "))
	case "true":
		return 0
	case "false":
		return 1
	case "exit":
		code, ok := exitCode(args, 0)
		if !ok {
			return usage(ctx, "exit [N]")
		}
		return code
	case "cat":
		if _, err := io.Copy(ctx.Stdout, ctx.Stdin); err != nil {
			return 1
		}
		return 0
	case "stderr":
		return printLine(ctx.Stderr, strings.Join(args, " "))
	case "both":
		if len(args) != 2 {
			return usage(ctx, "both OUT ERR")
		}
		return max(printLine(ctx.Stdout, args[0]), printLine(ctx.Stderr, args[1]))
	case "printenv":
		return printenv(ctx, args)
	case "kill":
		sig := "TERM"
		if len(args) > 0 {
			sig = strings.TrimPrefix(args[0], "-")
		}
		ctx.SetExitSignal(sig, false, "killed")
		return 1
	case "sleep":
		return sleep(ctx, args)
	case "yes":
		return yes(ctx, args)
	case "sha256":
		h := sha256.New()
		if _, err := io.Copy(h, ctx.Stdin); err != nil {
			return 1
		}
		return printLine(ctx.Stdout, hex.EncodeToString(h.Sum(nil)))
	case "pty":
		if ctx.Pty == nil {
			printLine(ctx.Stderr, "pty: no pty requested")
			return 1
		}
		return printLine(ctx.Stdout, fmt.Sprintf("%s %d %d", ctx.Pty.Term, ctx.Pty.Cols, ctx.Pty.Rows))
	}
	printLine(ctx.Stderr, name+": command not found")
	return 127
}

// printLine writes s and a newline, returning 1 if the write failed.
func printLine(w io.Writer, s string) int {
	if _, err := io.WriteString(w, s+"\n"); err != nil {
		return 1
	}
	return 0
}

func usage(ctx ExecContext, synopsis string) int {
	printLine(ctx.Stderr, "usage: "+synopsis)
	return 2
}

// exitCode parses the optional status argument of "exit"; def is the status
// when there is none.
func exitCode(args []string, def int) (int, bool) {
	switch len(args) {
	case 0:
		return def, true
	case 1:
		n, err := strconv.Atoi(args[0])
		return n, err == nil
	}
	return 0, false
}

func printenv(ctx ExecContext, args []string) int {
	switch len(args) {
	case 0:
		for _, k := range slices.Sorted(maps.Keys(ctx.Env)) {
			if printLine(ctx.Stdout, k+"="+ctx.Env[k]) != 0 {
				return 1
			}
		}
		return 0
	case 1:
		v, ok := ctx.Env[args[0]]
		if !ok {
			return 1
		}
		return printLine(ctx.Stdout, v)
	}
	return usage(ctx, "printenv [NAME]")
}

// sleep waits for the given number of seconds (fractions allowed). A signal
// ends it by that signal, as it would a real process; the channel closing
// or the server closing ends it with status 1.
func sleep(ctx ExecContext, args []string) int {
	if len(args) != 1 {
		return usage(ctx, "sleep SECONDS")
	}
	secs, err := strconv.ParseFloat(args[0], 64)
	if err != nil || math.IsNaN(secs) || secs < 0 {
		return usage(ctx, "sleep SECONDS")
	}
	d := time.Duration(math.Min(secs, math.MaxInt64/float64(time.Second)) * float64(time.Second))
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return 0
	case sig := <-ctx.Signals:
		ctx.SetExitSignal(sig, false, "")
		return 1
	case <-ctx.Ctx.Done():
		return 1
	}
}

// yes writes exactly N bytes of 'y', stopping early only if the command is
// cancelled or the writes fail.
func yes(ctx ExecContext, args []string) int {
	if len(args) != 1 {
		return usage(ctx, "yes N")
	}
	n, err := strconv.ParseInt(args[0], 10, 64)
	if err != nil || n < 0 {
		return usage(ctx, "yes N")
	}
	chunk := bytes.Repeat([]byte{'y'}, 32*1024)
	for n > 0 {
		if ctx.Ctx.Err() != nil {
			return 1
		}
		w := chunk[:min(n, int64(len(chunk)))]
		if _, err := ctx.Stdout.Write(w); err != nil {
			return 1
		}
		n -= int64(len(w))
	}
	return 0
}
