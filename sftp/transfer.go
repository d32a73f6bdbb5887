package sftp

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"time"
)

// Errors of Get and Put, wrapped in a *TransferError.
var (
	// ErrResumeMismatch means Resume found a partial destination that cannot be the beginning
	// of the source: it is longer than the source, or its last bytes (up to 64 KiB before the
	// resume point) differ from the source's bytes at the same offsets. The partial file is
	// left as it was.
	ErrResumeMismatch = errors.New("sftp: partial destination is not a prefix of the source")

	// ErrIsDirectory means the source of Get or Put is a directory and Recursive was not given.
	ErrIsDirectory = errors.New("sftp: source is a directory (Recursive copies trees)")

	// ErrNotRegular means the source is neither a regular file nor a directory (a device, a
	// socket, a fifo, or a symbolic link to one of those or to nothing).
	ErrNotRegular = errors.New("sftp: source is not a regular file")

	// ErrUnsafeName means a directory listing held a name that is not a plain file name ("",
	// ".", "..", or one with a path separator), which a hostile server could use to write
	// outside the destination tree. The transfer stops at that directory.
	ErrUnsafeName = errors.New("sftp: directory entry is not a plain file name")

	// ErrSizeMismatch means the destination did not have the source's size when every byte had
	// been written (the source changed, or the destination's storage lost data). The file is
	// not renamed to its final name.
	ErrSizeMismatch = errors.New("sftp: destination size differs from the source's")

	// ErrTreeTooLarge means a tree holds more than maxTreeEntries entries; Get and Put refuse
	// it rather than hold an unbounded list.
	ErrTreeTooLarge = errors.New("sftp: tree has too many entries")
)

// TransferError is the error of Get and Put. It names the operation, the file being copied and,
// when the failure is tied to a place in the file, the offset of the first byte that did not
// arrive: everything before Offset was written (and, with Resume, is kept), nothing at or after
// it counts. Offset is -1 when the failure is not inside the data (opening, listing, renaming).
//
// Unwrap returns the cause, so errors.Is(err, ssh.ErrDisconnected), errors.Is(err,
// fs.ErrNotExist), errors.Is(err, context.DeadlineExceeded) and errors.As(err, &*StatusError)
// work through it.
type TransferError struct {
	Op     string // "get" or "put"
	Path   string // the source file (remote for get, local for put) the failure concerns
	Offset int64  // first byte offset not transferred, or -1
	Err    error  // the cause
}

func (e *TransferError) Error() string {
	if e.Offset >= 0 {
		return fmt.Sprintf("sftp: %s %s at offset %d: %v", e.Op, e.Path, e.Offset, e.Err)
	}
	return fmt.Sprintf("sftp: %s %s: %v", e.Op, e.Path, e.Err)
}

// Unwrap returns the cause.
func (e *TransferError) Unwrap() error { return e.Err }

// Transfer limits.
const (
	// MaxTransferBuffer is the most memory one Get or Put holds for file data, across all its
	// requests and channels: the chunk size is lowered (to 32 KiB at least) and then the
	// number of requests in flight, until Channels × Concurrency × chunk fits.
	MaxTransferBuffer = 16 << 20

	// DefaultConcurrency is the number of read or write requests a transfer keeps in flight on
	// each channel when Concurrency is not given.
	DefaultConcurrency = 16

	// DefaultChannels is the most sftp channels a transfer uses for a file of at least
	// MultiChannelThreshold bytes when Channels is not given: it takes one channel, plus one
	// for each LaneRoundTrip of the round-trip time the Client measured when it started
	// (limits@openssh.com, or INIT when the server lacks it).
	//
	// Measured against OpenSSH 9.2's sshd on this project's 2-core test machine (shared, so
	// ±30%), 256 MiB, medians of 3 (sshbench -sftp): on loopback one channel moved get 314 /
	// put 327 MB/s and four 231 / 184, since every channel costs both CPUs work; through a
	// relay adding 50 ms, one channel's window caps it near 40 MB/s and four moved 87 / 95
	// (OpenSSH's sftp 36 / 37). Eight only add work for the CPUs.
	DefaultChannels = 4

	// MultiChannelThreshold is the file size from which a transfer spreads over several
	// channels by default. Opening the extra channels costs about four round trips (they open
	// in parallel), 0.2 s at 50 ms: at the rates above that pays off from about 14 MB, and
	// the threshold leaves a margin of two.
	MultiChannelThreshold = 32 << 20

	// LaneRoundTrip is the round-trip time that one more channel of a large transfer pays
	// for (see DefaultChannels): at 5 ms one channel's 2 MiB window still moves 400 MB/s,
	// more than this machine's sshd encrypts.
	LaneRoundTrip = 5 * time.Millisecond

	transferChunk    = 256 << 10 // bytes per request; sftp-server's limits@openssh.com allow 255 KiB + header
	minTransferChunk = 32 << 10
	maxConcurrency   = 256
	maxChannels      = 32
	maxTreeEntries   = 1 << 22
	resumeTail       = 64 << 10 // bytes compared before a resume point

	// A tree copy runs up to treeParallel files at once, each of at most treeSmallFile bytes
	// (so at most 1 MiB of buffers each); a larger file runs alone, with the whole buffer.
	treeParallel  = 8
	treeSmallFile = 1 << 20
)

// resumeBackoff is how far before the end of a partial file Resume starts (see prepareResume).
// Tests lower it to see a resume start in the middle of a small file.
var resumeBackoff int64 = MaxTransferBuffer

// SymlinkPolicy is what a Recursive transfer does with the symbolic links it finds inside the
// tree. The top-level source is always followed, as OpenSSH's sftp does.
type SymlinkPolicy int

const (
	// SymlinksSkip leaves symbolic links out of the copy, as OpenSSH's `sftp get -r` and
	// `put -r` do (they log "not a regular file"). It is the zero value and the default.
	SymlinksSkip SymlinkPolicy = iota
	// SymlinksFollow copies what a link to a regular file points at as a regular file (scp -r
	// follows links too). Links to directories and dangling links are skipped, so a link cycle
	// cannot make a tree endless.
	SymlinksFollow
	// SymlinksCopy recreates each link with the same target text, unchanged (a link pointing
	// outside the tree still points there), as `cp -a` and `rsync -l` do.
	SymlinksCopy
)

// TransferOption configures Get and Put.
type TransferOption func(*transferConfig)

type transferConfig struct {
	progress     func(done, total int64)
	resume       bool
	recursive    bool
	preserveTime bool
	preserveMode bool
	concurrency  int
	channels     int // 0 = default by size
	symlinks     SymlinkPolicy
	fsync        bool
}

// Progress sets a callback that Get and Put call with the bytes done so far and the total to
// transfer (for a tree, the sum of every file's size as listed before the copy began; bytes
// already present when resuming count as done). Calls come from the goroutine that called Get
// or Put, one at a time, with done never decreasing; the first call reports the starting point
// and, on success, the last reports done == total. A slow callback slows the transfer only
// between calls, never while requests are in flight. Nil (the default) reports nothing.
func Progress(fn func(done, total int64)) TransferOption {
	return func(c *transferConfig) { c.progress = fn }
}

// Resume continues an interrupted transfer instead of starting again. The destination's
// partial data is looked for first under the name ".NAME.part" beside the target (what a Get
// or Put with Resume leaves when it fails), then at the target's own name if that file is
// shorter than the source (what an interrupted OpenSSH `sftp get` leaves; it is renamed to
// .NAME.part while the copy continues). A target exactly as long as the source, with the same
// last 64 KiB, counts as complete and is not copied again.
//
// The copy restarts 16 MiB (MaxTransferBuffer) before the end of the partial file, or at its
// start if it is shorter: a transfer cut off without a chance to clean up (a dead connection,
// a killed process) may have had that much in flight, written out of order, so the last part of
// the file can hold holes. Below that point Resume trusts sizes: it compares the 64 KiB before
// the restart point with the source but does not read the whole prefix, so a partial file that
// differs from the source only earlier than that is not detected. A partial file longer than
// the source, or whose compared bytes differ, fails with ErrResumeMismatch and is left as it
// was.
//
// Without Resume, Get and Put write to a temporary ".NAME.part-RANDOM" and remove it on
// failure (a remote one cannot be removed over a connection that died). With Resume a failed
// transfer keeps ".NAME.part", cut back where it can be to the first byte that did not arrive
// (TransferError.Offset), for the next Resume.
func Resume() TransferOption {
	return func(c *transferConfig) { c.resume = true }
}

// Recursive lets Get and Put copy a directory and everything below it. Directories are
// created as needed (an existing directory is merged into), regular files are copied as single
// files are, symbolic links are handled as Symlinks says (skipped by default), and other
// entries (devices, sockets, fifos) are skipped. The tree is listed first (at most 4,194,304
// entries, else ErrTreeTooLarge), so that Progress knows the total; then up to 8 files of at
// most 1 MiB are copied at once, their round trips overlapping, while a larger file is copied
// alone. With PreserveTimes or PreserveMode directories get their attributes after their
// contents. Without Recursive a directory source fails with ErrIsDirectory.
func Recursive() TransferOption {
	return func(c *transferConfig) { c.recursive = true }
}

// Symlinks sets what a Recursive transfer does with symbolic links inside the tree; the
// default is SymlinksSkip.
func Symlinks(p SymlinkPolicy) TransferOption {
	return func(c *transferConfig) { c.symlinks = p }
}

// PreserveTimes sets the destination's access and modification times to the source's, as
// `sftp -p` does, on files and (after their contents) directories. Without it the destination
// has the time it was written.
func PreserveTimes() TransferOption {
	return func(c *transferConfig) { c.preserveTime = true }
}

// PreserveMode sets the destination's permission bits to the source's, as `sftp -p` does
// (setuid, setgid and sticky bits are not copied). Without it a new file gets the source's
// permission bits with the owner's write bit added, masked by the umask of whoever creates it
// (the local process for Get, sftp-server for Put), as OpenSSH's sftp does.
func PreserveMode() TransferOption {
	return func(c *transferConfig) { c.preserveMode = true }
}

// Fsync flushes each file's data to stable storage before it is renamed to its final name, as
// `sftp -f` does: locally with fsync(2) for Get, on the server with fsync@openssh.com for Put
// (skipped if the server does not offer it). Without it (the default, as in OpenSSH) the
// rename still happens only after every byte was written and the size checked, but a crash of
// the destination's operating system soon after may lose data the file's name promised.
func Fsync() TransferOption {
	return func(c *transferConfig) { c.fsync = true }
}

// Concurrency sets how many read or write requests a transfer keeps in flight on each
// channel. Zero or less means DefaultConcurrency; values above 256 count as 256. The
// transfer's memory stays within MaxTransferBuffer whatever is asked.
func Concurrency(n int) TransferOption {
	return func(c *transferConfig) { c.concurrency = n }
}

// Channels sets how many sftp channels of the Client's ssh Session one file transfer may
// spread over: the Client's own channel plus n-1 more that Get or Put opens (with sftp.New on
// the same Session and the Client's options) and closes before returning. Each carries a share
// of the file's requests, which lifts the limit of one channel's 2 MiB window per round trip.
// 1 uses the Client's channel alone. Zero or less (the default) means 1 for files below
// MultiChannelThreshold bytes and, for larger ones, 1 plus one per LaneRoundTrip of the
// Client's measured round trip, up to DefaultChannels; values above 32 count as 32.
// If the server refuses extra channels (OpenSSH's MaxSessions, 10 by default), the transfer
// goes on with those it got.
func Channels(n int) TransferOption {
	return func(c *transferConfig) { c.channels = n }
}

// Get copies the remote file (or, with Recursive, tree) remote to the local path local. If
// local is an existing directory, the copy is made inside it under remote's base name, as cp
// and sftp do; otherwise local is the name of the copy. An existing file of that name is
// replaced.
//
// The data goes to a temporary file beside the target (see Resume for its name) that is
// renamed to the target only after every byte arrived and its size equals the source's, so a
// partly written file never appears under the target's name. Requests are pipelined and, for
// large files, spread over several channels (see Concurrency and Channels).
//
// Get blocks until the copy is complete, ctx is done or an error occurs; for a tree, it stops at
// the first file that fails. After a failure it removes its temporary files, taking at most one
// second more than ctx allows for that. Every error is a *TransferError; ctx's error comes back
// wrapped in one.
func (c *Client) Get(ctx context.Context, remote, local string, opts ...TransferOption) error {
	return c.transfer(ctx, "get", remote, local, opts)
}

// Put copies the local file (or, with Recursive, tree) local to the remote path remote. If
// remote is an existing directory, the copy is made inside it under local's base name;
// otherwise remote is the name of the copy. An existing file of that name is replaced.
//
// The data goes to a temporary remote file beside the target (see Resume for its name), which
// is closed, checked to have the source's size and then renamed to the target
// (posix-rename@openssh.com where the server offers it, so the replacement is atomic; without
// it an existing target is removed just before the rename). A truncated remote file is thus
// never presented under the target's name.
//
// Put blocks and reports errors as Get does.
func (c *Client) Put(ctx context.Context, local, remote string, opts ...TransferOption) error {
	return c.transfer(ctx, "put", local, remote, opts)
}

func (c *Client) transfer(ctx context.Context, op, from, to string, opts []TransferOption) error {
	var cfg transferConfig
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	r := newRemoteEndpoint(c)
	defer r.closeExtras()
	if err := c.Err(); err != nil {
		return &TransferError{Op: op, Path: from, Offset: -1, Err: err}
	}
	t := &transfer{op: op, cfg: cfg, prog: newProgress(cfg.progress)}
	if op == "get" {
		t.src, t.dst = r, localEndpoint{}
	} else {
		t.src, t.dst = localEndpoint{}, r
	}
	return t.run(ctx, from, to)
}

// transfer is one Get or Put call.
type transfer struct {
	op       string
	cfg      transferConfig
	src, dst endpoint
	prog     *progress
	inTree   bool // files run on tree workers; only copyTree's loop reports progress
}

func (t *transfer) fail(p string, off int64, err error) error {
	if err == nil {
		return nil
	}
	var te *TransferError
	if errors.As(err, &te) {
		return err
	}
	return &TransferError{Op: t.op, Path: p, Offset: off, Err: err}
}

func (t *transfer) run(ctx context.Context, from, to string) error {
	if from == "" || to == "" {
		return t.fail(from, -1, fmt.Errorf("empty path: %w", fs.ErrInvalid))
	}
	info, err := t.src.stat(ctx, from)
	if err != nil {
		return t.fail(from, -1, err)
	}
	target := to
	if ti, err := t.dst.stat(ctx, to); err == nil && ti.mode.IsDir() {
		if b := t.src.base(from); b != "" {
			target = t.dst.join(to, b)
		}
	}
	switch {
	case info.mode.IsDir():
		if !t.cfg.recursive {
			return t.fail(from, -1, ErrIsDirectory)
		}
		return t.copyTree(ctx, from, info, target)
	case info.mode.IsRegular() && info.size < 0:
		return t.fail(from, -1, fmt.Errorf("%w: no valid size (%d)", ErrNotRegular, info.size))
	case info.mode.IsRegular():
		t.prog.total = info.size // copyFile reports the start, after Resume found it
		return t.copyFile(ctx, from, info, target)
	default:
		return t.fail(from, -1, ErrNotRegular)
	}
}

// safeName reports whether a listed name is a plain file name on both sides.
func safeName(name string) bool {
	if name == "" || name == "." || name == ".." || len(name) > 4096 {
		return false
	}
	for i := 0; i < len(name); i++ {
		switch name[i] {
		case '/', 0:
			return false
		case '\\', ':':
			if filepath.Separator == '\\' {
				return false
			}
		}
	}
	return filepath.IsLocal(name) && path.Base(name) == name
}

// permOf returns the permission bits to create a copy with.
func (t *transfer) permOf(src fs.FileMode) fs.FileMode {
	p := src.Perm()
	if !t.cfg.preserveMode {
		p |= 0o200
	}
	if p == 0 {
		p = 0o600
	}
	return p
}
