// Package scp copies files over SSH with the legacy scp protocol (the
// remote side runs "scp -f" to send and "scp -t" to receive), for servers
// that have no sftp subsystem: Dropbear on routers, busybox systems, old
// appliances. Where the server has sftp, package sftp is faster and can do
// more; this package is independent of it.
//
// Get copies a remote file (or, with Recursive, a tree) to a local path,
// Put copies a local file or tree to the server. Both run one "scp"
// command on a new session channel of an authenticated *ssh.Session, which
// stays usable for other channels.
//
// Remote names: the remote path is always passed to the remote shell
// inside single quotes (each ' in it is closed, escaped and reopened), after "--", so spaces,
// quotes, $(...), ;, * and a leading "-" reach scp as written and are never
// interpreted. The remote shell must understand POSIX single quotes, as sh,
// bash, dash, ash, zsh and csh do. A remote path is taken literally: "~" is
// not expanded, and a relative path is relative to the login directory.
// Names containing a newline or NUL cannot be carried by the protocol and
// are refused with ErrInvalidName before anything is sent.
//
// Hostile servers: every name the server sends is checked. It must be one
// path element (no "/", not "." or "..", not empty), and the top-level name
// must be the base name that was asked for (OpenSSH's fix for
// CVE-2019-6111: a server may not send files that were not requested). A
// file's data is exactly the size announced in its record; more or less is
// an error. Every file is written to a temporary name beside the target and
// renamed only once its last byte arrived and the server confirmed it, so a
// cut transfer never leaves a short file under the target's name. Every wait
// ends when ctx does.
//
// Errors: Get and Put return an *Error naming the operation and the remote
// path. It wraps ErrRemote when the remote scp reported a failure (its
// message is in Error.Message and also matches fs.ErrNotExist or
// fs.ErrPermission when it says so), ErrProtocol when the server broke the
// protocol, ErrTruncated when the data stopped early, ErrInvalidName for a
// name that cannot be sent or was refused, or the underlying error: an error
// matching ssh.ErrDisconnected when the connection ended, ctx's error, a
// local *fs.PathError.
package scp
