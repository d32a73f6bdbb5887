package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/libssh-go/libssh/cmd/gossh/internal/vis"
	"github.com/libssh-go/libssh/ssh"
)

// errHostKeyVerification is the failure ssh reports as "Host key
// verification failed.": the connection ends with status 255.
var errHostKeyVerification = errors.New("Host key verification failed.")

// hostKeyCheck holds what the host key decision needs.
type hostKeyCheck struct {
	s        *ssh.Session
	policy   string // StrictHostKeyChecking: ask, yes, accept-new, no
	lookup   string // the known_hosts name: "host" or "[host]:port"
	userFile string // the first UserKnownHostsFile, named in the warnings
	ask      func(question string, echo bool) (string, error)
	info     io.Writer // where ssh's logit() messages go (nil when quiet)
	stderr   io.Writer
}

// verify decides about the server's key as OpenSSH's check_host_key does:
// a known key passes; an unknown one is asked about (ask), refused (yes),
// or recorded with a warning (accept-new, no); a changed or revoked one is
// refused with OpenSSH's warning under every policy. Nothing is written to
// known_hosts unless the key is accepted.
func (h *hostKeyCheck) verify() error {
	m, err := h.s.KnownHostsMatch()
	key, kerr := h.s.ServerPublicKey()
	if kerr != nil {
		return kerr
	}
	typ := keyTypeName(key)
	fp := key.Fingerprint()
	var hk *ssh.HostKeyError
	switch {
	case errors.As(err, &hk) && errors.Is(err, ssh.ErrHostKeyRevoked):
		fmt.Fprintf(h.stderr, "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\r\n"+
			"@       WARNING: REVOKED HOST KEY DETECTED!               @\r\n"+
			"@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\r\n"+
			"The %s host key for %s is marked as revoked.\r\n"+
			"This could mean that a stolen key is being used to\r\n"+
			"impersonate this host.\r\n", typ, h.lookup)
		return errHostKeyVerification
	case err != nil:
		return err
	}
	switch m.State {
	case ssh.KnownHostsOK:
		return nil
	case ssh.KnownHostsChanged:
		h.changedWarning(typ, fp, m)
		fmt.Fprintf(h.stderr, "Host key for %s has changed and you have requested strict checking.\r\n", h.lookup)
		return errHostKeyVerification
	}
	// Unknown, Other (only keys of other types recorded) or NotFound.
	switch h.policy {
	case "yes":
		fmt.Fprintf(h.stderr, "No %s host key is known for %s and you have requested strict checking.\r\n", typ, h.lookup)
		return errHostKeyVerification
	case "ask":
		q := fmt.Sprintf("The authenticity of host '%s (%s)' can't be established.\n"+
			"%s key fingerprint is %s.\n"+
			"This key is not known by any other names.\n"+
			"Are you sure you want to continue connecting (yes/no/[fingerprint])? ",
			vis.String(h.lookup), vis.String(h.lookup), typ, fp)
		ok, err := h.confirm(q, fp)
		if err != nil || !ok {
			return errHostKeyVerification
		}
	}
	if err := h.s.UpdateKnownHostsFile(); err != nil {
		// ssh goes on with the key for this connection when the file
		// cannot be written, after saying so.
		fmt.Fprintf(h.stderr, "Failed to add the host to the list of known hosts (%s).\r\n", h.userFile)
		return h.s.AcceptHostKey()
	}
	if h.info != nil {
		fmt.Fprintf(h.info, "Warning: Permanently added '%s' (%s) to the list of known hosts.\r\n", vis.String(h.lookup), typ)
	}
	return nil
}

// confirm asks q until the answer is yes, no, or the fingerprint (which
// accepts), as OpenSSH's confirm(): other answers re-ask with its retry
// prompt; end of input or an error is no.
func (h *hostKeyCheck) confirm(q, fp string) (bool, error) {
	for {
		a, err := h.ask(q, true)
		if err != nil {
			return false, err
		}
		a = strings.TrimSpace(a)
		switch {
		case strings.EqualFold(a, "yes"), a == fp:
			return true, nil
		case strings.EqualFold(a, "no"):
			return false, nil
		}
		q = "Please type 'yes', 'no' or the fingerprint: "
	}
}

// changedWarning prints OpenSSH's warning for a key that differs from the
// recorded one, naming the file and line of the offending entry.
func (h *hostKeyCheck) changedWarning(typ, fp string, m ssh.KnownHostsMatch) {
	w := h.stderr
	fmt.Fprint(w, "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\r\n"+
		"@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\r\n"+
		"@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\r\n"+
		"IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!\r\n"+
		"Someone could be eavesdropping on you right now (man-in-the-middle attack)!\r\n"+
		"It is also possible that a host key has just been changed.\r\n")
	fmt.Fprintf(w, "The fingerprint for the %s key sent by the remote host is\n%s.\r\n", typ, fp)
	fmt.Fprint(w, "Please contact your system administrator.\r\n")
	fmt.Fprintf(w, "Add correct host key in %s to get rid of this message.\r\n", h.userFile)
	if m.File != "" {
		offType := typ
		if m.Entry.Key != nil {
			offType = keyTypeName(m.Entry.Key)
		}
		fmt.Fprintf(w, "Offending %s key in %s:%d\r\n", offType, m.File, m.Line)
		fmt.Fprintf(w, "  remove with:\r\n  ssh-keygen -f \"%s\" -R \"%s\"\r\n", m.File, h.lookup)
	}
}

// keyTypeName is OpenSSH's sshkey_type(): "ED25519", "ECDSA", "RSA", with
// "-CERT" for certificates.
func keyTypeName(k *ssh.Key) string {
	t := k.Type()
	cert := strings.Contains(t, "-cert-")
	var name string
	switch {
	case strings.Contains(t, "ed25519"):
		name = "ED25519"
	case strings.Contains(t, "ecdsa"):
		name = "ECDSA"
	case strings.Contains(t, "rsa"):
		name = "RSA"
	case strings.Contains(t, "dss"):
		name = "DSA"
	default:
		name = strings.ToUpper(t)
	}
	if strings.HasPrefix(t, "sk-") {
		name += "-SK"
	}
	if cert {
		name += "-CERT"
	}
	return name
}
