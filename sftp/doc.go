// Package sftp is an SFTP version 3 client (draft-ietf-secsh-filexfer-02
// with OpenSSH's extensions) over a channel of an ssh.Session, with the API
// of libssh-rs's Sftp in Go terms: a Client from New, Files that are
// io.Reader, io.Writer, io.ReaderAt, io.WriterAt, io.ReaderFrom and
// io.WriterTo, Metadata that is an fs.FileInfo, and FS for io/fs.
//
// It is written on the protocol for speed: requests are pipelined (up to
// MaxInFlight in flight, matched to answers by id by one reader goroutine),
// sized by the server's limits@openssh.com (255 KiB with OpenSSH, 32 KiB
// without the extension), and File's ReadFrom and WriteTo, which io.Copy
// uses, move data with one copy between the caller and the packet.
//
// Extensions are used when the server announces them:
// posix-rename@openssh.com (Rename), statvfs@openssh.com (StatVFS),
// hardlink@openssh.com (Hardlink), fsync@openssh.com (File.Sync),
// home-directory and expand-path@openssh.com (HomeDir) and
// limits@openssh.com.
//
// Errors: a server's refusal is a *StatusError matching fs.ErrNotExist,
// fs.ErrPermission, fs.ErrExist or errors.ErrUnsupported; a dead connection
// an error matching ssh.ErrDisconnected; a server breaking the protocol
// ErrProtocol, which closes the Client. Nothing a server sends makes the
// client hold more than the packet limit (MaxPacket) per answer.
package sftp
