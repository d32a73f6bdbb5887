package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"

	"github.com/libssh-go/libssh/cmd/gossh/internal/vis"
)

// lineHandler writes log records the way ssh's -v output looks:
// "debug1: message key=value", one line each, control characters made
// visible (messages can carry what a server sent).
type lineHandler struct {
	mu    *sync.Mutex
	w     io.Writer
	min   slog.Level
	attrs []slog.Attr
}

// newLogger returns a logger for ssh's verbosity: 0 (the default, INFO)
// shows warnings, -v debug1 (slog Info: the library's protocol level),
// -vv debug2 (slog Debug), -vvv debug3 (everything).
func newLogger(w io.Writer, verbose int) *slog.Logger {
	min := slog.LevelWarn
	switch verbose {
	case 1:
		min = slog.LevelInfo
	case 2:
		min = slog.LevelDebug
	case 3:
		min = slog.LevelDebug - 8
	}
	return slog.New(&lineHandler{mu: &sync.Mutex{}, w: w, min: min})
}

// logLevelVerbosity maps ssh's LogLevel names onto newLogger's verbosity.
func logLevelVerbosity(level string) int {
	switch strings.ToUpper(level) {
	case "VERBOSE", "DEBUG", "DEBUG1":
		return 1
	case "DEBUG2":
		return 2
	case "DEBUG3":
		return 3
	}
	return 0
}

func (h *lineHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.min }

func (h *lineHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	switch {
	case r.Level <= slog.LevelDebug-4:
		b.WriteString("debug3: ")
	case r.Level <= slog.LevelDebug:
		b.WriteString("debug2: ")
	case r.Level < slog.LevelWarn:
		b.WriteString("debug1: ")
	}
	b.WriteString(r.Message)
	write := func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	}
	for _, a := range h.attrs {
		write(a)
	}
	r.Attrs(write)
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := io.WriteString(h.w, vis.String(b.String())+"\n")
	return err
}

func (h *lineHandler) WithAttrs(as []slog.Attr) slog.Handler {
	n := *h
	n.attrs = append(append([]slog.Attr(nil), h.attrs...), as...)
	return &n
}

// WithGroup flattens groups: ssh's log lines have none.
func (h *lineHandler) WithGroup(string) slog.Handler { return h }
