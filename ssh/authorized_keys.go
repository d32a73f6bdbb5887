package ssh

import (
	"fmt"
	"strings"

	gossh "golang.org/x/crypto/ssh"
)

// AuthorizedKeysEntry is one parsed authorized_keys line (sshd(8)
// "AUTHORIZED_KEYS FILE FORMAT"). The zero value holds no key.
type AuthorizedKeysEntry struct {
	// Options are the comma-separated options before the key, each as
	// written, e.g. `command="uptime"` or "no-pty"; nil when there are none.
	Options []string
	Key     *Key
	Comment string // "" if none
}

// ParseAuthorizedKeysLine parses one authorized_keys line,
// "[options] keytype base64 [comment]". A trailing newline is allowed; a
// blank line, a comment, a line with a newline or NUL inside, or one without
// a valid key gives an error wrapping ErrInvalidKnownHosts and ErrInvalidKey.
func ParseAuthorizedKeysLine(line string) (AuthorizedKeysEntry, error) {
	line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if strings.ContainsAny(line, "\x00\r\n") {
		return AuthorizedKeysEntry{}, fmt.Errorf("%w: %w: NUL, CR or newline inside the line", ErrInvalidKnownHosts, ErrInvalidKey)
	}
	pub, comment, options, _, err := gossh.ParseAuthorizedKey([]byte(line))
	if err != nil {
		return AuthorizedKeysEntry{}, fmt.Errorf("%w: %w: %w", ErrInvalidKnownHosts, ErrInvalidKey, err)
	}
	return AuthorizedKeysEntry{Options: options, Key: NewKey(pub), Comment: comment}, nil
}

// String prints the entry as one authorized_keys line without a newline.
func (e AuthorizedKeysEntry) String() string {
	var parts []string
	if len(e.Options) > 0 {
		parts = append(parts, strings.Join(e.Options, ","))
	}
	if k := e.Key.AuthorizedKey(); k != "" {
		parts = append(parts, k)
	}
	if e.Comment != "" {
		parts = append(parts, e.Comment)
	}
	return strings.Join(parts, " ")
}
