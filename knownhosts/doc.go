// Package knownhosts reads and writes OpenSSH known_hosts files (sshd(8)
// "SSH_KNOWN_HOSTS FILE FORMAT") and judges host keys by them the way
// OpenSSH's ssh does. It depends only on golang.org/x/crypto/ssh and can be
// used without the rest of libssh-go.
//
// What it covers:
//
//   - Lines: ParseLine reads "[@cert-authority|@revoked] hosts keytype
//     base64 [comment]" with comma-separated patterns ("*", "?", "!"
//     negation), "[host]:port" names and hashed "|1|salt|hash" names;
//     Entry.Match matches a name in time linear in the name and the
//     patterns (x/crypto's and OpenSSH's matchers are exponential in the
//     number of "*").
//   - A database: Load reads the user and global files in order with
//     bounded memory (MaxFileSize per file, lines over MaxLineLength
//     skipped), and every entry knows its file and line. Malformed lines
//     are skipped, never fatal; files that exist but cannot be read fail
//     the load, so host keys fail closed.
//   - Lookups: DB.Lookup and DB.Check give libssh's states (OK, Changed,
//     Other, Unknown, NotFound) and the deciding entry, with @revoked
//     keys and CAs, and host certificates checked against
//     @cert-authority lines (type, principal, validity, signature).
//   - Algorithm ordering: DB.HostKeyAlgorithms puts the key types known
//     for a host first, as OpenSSH does, so the server shows a key the
//     files hold (the classic x/crypto "key mismatch").
//   - Recording: Lines and Append write a new key, hashed or not, with
//     one locked O_APPEND write, refusing host names that would inject
//     another line, host or pattern.
//   - x/crypto: HostKeyCallback gives an ssh.HostKeyCallback that refuses
//     with a *KeyError carrying the state and the conflicting lines.
//
// The libssh-go ssh package uses this package for IsKnownServer,
// UpdateKnownHostsFile and its StrictHostKeyChecking policy.
package knownhosts
