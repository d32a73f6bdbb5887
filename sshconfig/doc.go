// Package sshconfig resolves OpenSSH client configuration (ssh_config(5))
// for a host the way `ssh -G host` does, without a network connection or
// an SSH session: it reads ~/.ssh/config and /etc/ssh/ssh_config (or the
// one file of `ssh -F`), applies Host and Match blocks, Include, %-tokens
// and ${ENV}, first-value-wins and the lists that accumulate, fills in
// OpenSSH's defaults, and returns every keyword's value.
//
//	cfg, err := sshconfig.Resolve(ctx, "web", sshconfig.Input{})
//	if err != nil { ... }
//	fmt.Println(cfg.Hostname(), cfg.Port(), cfg.User())
//	fmt.Print(cfg) // exactly what `ssh -G web` prints
//
// The reference is OpenSSH 9.2 (Debian's build, with its GSSAPI keywords):
// Config.String prints the same lines as its `ssh -G`, in the same order
// and spelling, and the package's tests compare the two line by line over
// a corpus of configurations. Keywords and Match criteria of later
// versions (Tag, Match tagged, Match localnetwork, %j, ...) are accepted
// too, and so is Apple's UseKeychain.
//
// Nothing here touches the network. CanonicalizeHostname's lookups go
// through Input.LookupHost: nil is offline (no name resolves, as ssh
// without DNS), LookupDNS is the system resolver. Checks ssh makes on its
// own invocation rather than on the configuration (a jump host loop,
// ForkAfterAuthentication without a command, resolving a direct host
// because CanonicalizePermittedCNAMEs is set) are left to the caller.
//
// What needs the outside world goes through Input: the files, the
// command-line values of ssh (-l, -p, -o), the local user, home directory
// and host name, and hooks for Match exec and Match localnetwork, so that
// a resolution can be made fully deterministic in tests. Errors match
// ErrInvalid and, when a file is at fault, are *Error with the file and
// line.
//
// The ssh package of this module uses Resolve for Session.OptionsParseConfig
// and maps the Config onto its Options.
package sshconfig
