package interactive

// The escape filter reads what the user types before it goes to the server,
// as OpenSSH's process_escapes (clientloop.c) does: the escape character
// (default '~') is special only as the first character of a line, that is at
// the start of the session or right after a CR or LF, and only the
// character after it decides what happens. "~~" sends one '~'; the escape
// character followed by anything it does not know sends both characters.

// escapeCommand is an action the user asked for with an escape sequence.
type escapeCommand int

const (
	escapeDisconnect   escapeCommand = iota + 1 // ~.
	escapeSuspend                               // ~^Z
	escapeBreak                                 // ~B
	escapeRekey                                 // ~R
	escapeListForwards                          // ~#
	escapeHelp                                  // ~?
)

// escapeStep is one piece of the filtered input, in order: either data for
// the server or a command (Data is then nil).
type escapeStep struct {
	Data    []byte
	Command escapeCommand
}

// escapeFilter is the state machine. Its zero value is not ready: use
// newEscapeFilter. It is not safe for concurrent use; the stdin pump owns it.
type escapeFilter struct {
	char       byte // the escape character
	pending    bool // the last byte was an escape character at a line start
	lineStart  bool // the next byte starts a line
	disabled   bool
	afterQuit  bool // ~. was seen: nothing after it is sent
	commandFor map[byte]escapeCommand
}

// newEscapeFilter returns a filter for escapeChar; -1 (OpenSSH's
// "EscapeChar none") returns a filter that passes everything through.
func newEscapeFilter(escapeChar int) *escapeFilter {
	f := &escapeFilter{lineStart: true}
	if escapeChar < 0 || escapeChar > 0xff {
		f.disabled = true
		return f
	}
	f.char = byte(escapeChar)
	f.commandFor = map[byte]escapeCommand{
		'.':      escapeDisconnect,
		'Z' - 64: escapeSuspend, // ^Z
		'B':      escapeBreak,
		'R':      escapeRekey,
		'#':      escapeListForwards,
		'?':      escapeHelp,
	}
	return f
}

// feed filters one read of input. The returned steps alias neither in nor
// each other's buffers beyond the call, so the caller may reuse in.
// After a disconnect command, feed returns nothing more: what the user typed
// after "~." is not the server's business.
func (f *escapeFilter) feed(in []byte) []escapeStep {
	if f.afterQuit || len(in) == 0 {
		return nil
	}
	if f.disabled {
		return []escapeStep{{Data: append([]byte(nil), in...)}}
	}
	var steps []escapeStep
	var data []byte
	flush := func() {
		if len(data) > 0 {
			steps = append(steps, escapeStep{Data: data})
			data = nil
		}
	}
	for _, c := range in {
		if f.pending {
			f.pending = false
			if cmd, ok := f.commandFor[c]; ok {
				flush()
				steps = append(steps, escapeStep{Command: cmd})
				if cmd == escapeDisconnect {
					f.afterQuit = true
					return steps
				}
				// OpenSSH stays at a line start after a command, so "~?~." works.
				continue
			}
			if c != f.char {
				data = append(data, f.char)
			}
			// Falls through: c itself is sent as a normal character.
		} else if f.lineStart && c == f.char {
			f.pending = true
			continue
		}
		f.lineStart = c == '\r' || c == '\n'
		data = append(data, c)
	}
	flush()
	return steps
}
