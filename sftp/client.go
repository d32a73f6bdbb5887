package sftp

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libssh-go/libssh/ssh"
)

// Client is an SFTP v3 session over one channel of an ssh.Session
// (libssh-rs Sftp). Create it with New; it is safe for concurrent use, and
// concurrent calls are pipelined on the channel: each request is sent as
// soon as a slot of MaxInFlight is free, and answers are matched by id.
//
// Every call that waits takes a ctx, and every wait also ends when Close is
// called (ErrClosed), when the SSH connection ends (an error matching
// ssh.ErrDisconnected), when the server closes the channel
// (ErrServerClosed) or when the server breaks the protocol (ErrProtocol).
// Of these, all but a ctx end close the Client for good.
type Client struct {
	ch   *ssh.Channel
	sess *ssh.Session // for the extra channels of Get and Put (transfer_fileio.go)
	cfg  config
	user string // the session's user name, for home-directory
	exts map[string]string

	version  uint32
	readLen  int           // payload bytes per READ request
	writeLen int           // payload bytes per WRITE request
	maxIn    int           // longest packet accepted from the server
	rtt      time.Duration // the shortest request round trip of the handshake (transfer lanes)

	slots chan struct{} // a request holds one from send until its answer
	out   chan []byte   // packets for the writer goroutine
	bufs  sync.Pool     // *[]byte of cap bufSize
	bufSz int

	mu      sync.Mutex
	nextID  uint32
	pending map[uint32]*call
	err     error         // why the Client ended; set once
	done    chan struct{} // closed when err is set
	wg      sync.WaitGroup
}

// call is one request waiting for its answer.
type call struct {
	res       chan result // capacity 1
	abandoned atomic.Bool // the caller gave up; the reader recycles the answer
	// dst, when not nil, is where the reader puts the data of a DATA answer, saving a copy
	// through a pooled buffer. Only callers that never touch dst again after giving up on
	// the call may set it (readChunk: its buffer dies with the failed transfer worker),
	// since the reader may still be filling it then.
	dst []byte
}

// result is one answer: its type and the body after the id. buf, when not
// nil, is the pooled buffer holding body, to be given back with recycle.
type result struct {
	typ  byte
	body []byte
	buf  *[]byte
	// direct is set when the data of a DATA answer went straight into call.dst: body is
	// then nil and n is its length.
	direct bool
	n      int
}

// Option configures New. The zero value of every setting is its default.
type Option func(*config)

type config struct {
	command     string
	maxRequest  int
	maxInFlight int
	maxPacket   int
	timeout     time.Duration
	maxEntries  int
}

// ServerCommand runs cmd with an "exec" request instead of requesting the
// "sftp" subsystem, for servers that have no subsystem configured, e.g.
// ServerCommand("/usr/lib/openssh/sftp-server").
func ServerCommand(cmd string) Option { return func(c *config) { c.command = cmd } }

// MaxRequestSize caps the bytes asked for by one READ and sent by one
// WRITE request. The default is 255 KiB where the server announces
// limits@openssh.com (and allows that much), and 32 KiB otherwise, the
// size every server must accept. n < 1 keeps the default.
func MaxRequestSize(n int) Option { return func(c *config) { c.maxRequest = n } }

// MaxInFlight caps the requests sent and not yet answered, over all calls
// of the Client (default 64). Calls wait for a free slot; memory held by
// transfers is about MaxInFlight times the request size. n < 1 keeps the
// default.
func MaxInFlight(n int) Option { return func(c *config) { c.maxInFlight = n } }

// MaxPacket caps the length of a packet accepted from the server (default
// 1 MiB, at least the read size plus headers). A longer one is a protocol
// violation (ErrProtocol) and closes the Client. n < 1 keeps the default.
func MaxPacket(n int) Option { return func(c *config) { c.maxPacket = n } }

// Timeout bounds the waits of the calls that take no ctx. For File's Read,
// Write, ReadAt, WriteAt, ReadFrom, WriteTo, Seek and Close and Dir's
// Close it bounds each wait, for a free request slot and for each answer,
// so a long transfer that keeps moving never times out, and one whose
// server stops answering does after d. For FS's Open, Stat, ReadDir and
// ReadFile, and a directory's ReadDir, it bounds each call as a whole
// (except ReadFile's data, bounded per wait as File.WriteTo is); the
// files FS opens are Files. Zero (the default) lets
// them wait until the answer, Client.Close or the connection's end. A
// wait that times out returns an error matching context.DeadlineExceeded.
func Timeout(d time.Duration) Option { return func(c *config) { c.timeout = d } }

// MaxReadDirEntries caps the entries ReadDir collects (default 1<<20); a
// longer directory gives the entries read so far and an error matching
// ErrTooManyEntries. OpenDir's Dir.Next streams without limit. n < 1
// keeps the default.
func MaxReadDirEntries(n int) Option { return func(c *config) { c.maxEntries = n } }

// ErrTooManyEntries is returned by ReadDir for a directory with more
// entries than MaxReadDirEntries allows.
var ErrTooManyEntries = errors.New("sftp: too many directory entries")

const (
	defaultInFlight  = 64
	defaultPacket    = 1 << 20
	defaultEntries   = 1 << 20
	safeRequest      = 32 << 10  // every server must accept 34000-byte packets
	preferredRequest = 255 << 10 // OpenSSH's max-read-length is 256 KiB - 1 KiB
	headerRoom       = 1024      // packet bytes besides the data of a READ/WRITE
)

// New starts SFTP on s: it opens a session channel, requests the "sftp"
// subsystem (or runs ServerCommand), and runs the SFTP v3 INIT/VERSION
// exchange, then asks for limits@openssh.com when the server offers it to
// size requests. It waits until ctx ends; the channel is closed on any
// failure. A server speaking a version below 3 is refused with an error
// matching errors.ErrUnsupported; a refused subsystem is the
// ssh.ErrRequestDenied of RequestSubsystem.
func New(ctx context.Context, s *ssh.Session, opts ...Option) (*Client, error) {
	var cfg config
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	if cfg.maxInFlight < 1 {
		cfg.maxInFlight = defaultInFlight
	}
	if cfg.maxPacket < 1 {
		cfg.maxPacket = defaultPacket
	}
	if cfg.maxEntries < 1 {
		cfg.maxEntries = defaultEntries
	}
	ch, err := s.NewChannel()
	if err != nil {
		return nil, fmt.Errorf("sftp: %w", err)
	}
	if err := ch.OpenSession(ctx); err != nil {
		_ = ch.Close()
		return nil, fmt.Errorf("sftp: %w", err)
	}
	if cfg.command != "" {
		err = ch.RequestExec(ctx, cfg.command)
	} else {
		err = ch.RequestSubsystem(ctx, "sftp")
	}
	if err != nil {
		_ = ch.Close()
		return nil, fmt.Errorf("sftp: %w", err)
	}
	user, _ := s.UserName()
	c := &Client{ch: ch, sess: s, cfg: cfg, user: user, pending: map[uint32]*call{}, done: make(chan struct{}),
		slots: make(chan struct{}, cfg.maxInFlight), out: make(chan []byte, cfg.maxInFlight+1)}
	br := bufio.NewReaderSize(ch, 64<<10)
	if err := c.handshake(ctx, br); err != nil {
		_ = ch.Close()
		return nil, err
	}
	c.wg.Add(2)
	go c.readLoop(br)
	go c.writeLoop()
	return c, nil
}

// handshake sends INIT and reads VERSION, with ctx closing the channel if
// it ends first.
func (c *Client) handshake(ctx context.Context, br *bufio.Reader) error {
	stop := context.AfterFunc(ctx, func() { _ = c.ch.Close() })
	err := c.handshakeIO(br)
	if !stop() {
		return fmt.Errorf("sftp: init: %w", ctx.Err())
	}
	if err != nil {
		return err
	}
	c.resize()
	return nil
}

func (c *Client) handshakeIO(br *bufio.Reader) error {
	sent := time.Now()
	if _, err := c.ch.Write([]byte{0, 0, 0, 5, fxpInit, 0, 0, 0, 3}); err != nil {
		return c.ioErr("init", err)
	}
	var hdr [4]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		return c.ioErr("init", err)
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n < 5 || uint64(n) > uint64(c.cfg.maxPacket) {
		return fmt.Errorf("%w: VERSION packet of %d bytes", ErrProtocol, n)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(br, b); err != nil {
		return c.ioErr("init", err)
	}
	if b[0] != fxpVersion {
		return fmt.Errorf("%w: packet type %d instead of VERSION", ErrProtocol, b[0])
	}
	c.rtt = time.Since(sent) // includes the server's start-up; limits, if asked, is a pure round trip
	v, exts, err := decodeVersion(b[1:])
	if err != nil {
		return err
	}
	if v < 3 {
		return fmt.Errorf("sftp: server speaks SFTP version %d, not 3: %w", v, errors.ErrUnsupported)
	}
	c.version, c.exts = 3, exts
	c.readLen, c.writeLen = safeRequest, safeRequest
	if c.cfg.maxRequest > 0 && c.cfg.maxRequest < safeRequest {
		c.readLen, c.writeLen = c.cfg.maxRequest, c.cfg.maxRequest
	}
	if _, ok := exts["limits@openssh.com"]; ok {
		return c.queryLimits(br)
	}
	return nil
}

// queryLimits asks limits@openssh.com for the server's sizes, before the
// reader and writer goroutines start, so the sizes never change under them.
func (c *Client) queryLimits(br *bufio.Reader) error {
	e := newEncoder(nil, fxpExtended, 1)
	e.str("limits@openssh.com")
	sent := time.Now()
	if _, err := c.ch.Write(e.finish()); err != nil {
		return c.ioErr("limits", err)
	}
	var hdr [4]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		return c.ioErr("limits", err)
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n < 5 || uint64(n) > uint64(c.cfg.maxPacket) {
		return fmt.Errorf("%w: limits reply of %d bytes", ErrProtocol, n)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(br, b); err != nil {
		return c.ioErr("limits", err)
	}
	if id := binary.BigEndian.Uint32(b[1:5]); id != 1 {
		return fmt.Errorf("%w: answer to request id %d, which is not pending", ErrProtocol, id)
	}
	c.rtt = min(c.rtt, time.Since(sent))
	c.nextID = 1
	switch b[0] {
	case fxpStatus: // announced but refused: keep the safe sizes
		if _, _, err := decodeStatus(b[5:]); err != nil {
			return err
		}
		return nil
	case fxpExtendedReply:
	default:
		return fmt.Errorf("%w: limits answered with packet type %d", ErrProtocol, b[0])
	}
	d := decoder{b: b[5:]}
	_ = d.u64() // max-packet-length: implied by the other two
	maxRead, maxWrite := d.u64(), d.u64()
	if err := d.err("limits reply"); err != nil {
		return err
	}
	want := preferredRequest
	if c.cfg.maxRequest > 0 {
		want = c.cfg.maxRequest
	}
	pick := func(server uint64) int {
		if server == 0 {
			return min(want, safeRequest)
		}
		return int(min(uint64(want), server, 16<<20))
	}
	c.readLen, c.writeLen = pick(maxRead), pick(maxWrite)
	return nil
}

// resize sets the packet limit and the buffer pool for the request sizes.
func (c *Client) resize() {
	c.maxIn = max(c.cfg.maxPacket, c.readLen+headerRoom)
	c.bufSz = max(c.readLen, c.writeLen) + headerRoom
	sz := c.bufSz
	c.bufs.New = func() any { b := make([]byte, sz); return &b }
}

// Extensions returns the extensions the server announced in VERSION, name
// to data (e.g. "posix-rename@openssh.com": "1").
func (c *Client) Extensions() map[string]string {
	m := make(map[string]string, len(c.exts))
	for k, v := range c.exts {
		m[k] = v
	}
	return m
}

// HasExtension reports whether the server announced the extension name.
func (c *Client) HasExtension(name string) bool { _, ok := c.exts[name]; return ok }

// RequestSizes returns the payload bytes of one READ and one WRITE
// request, as negotiated by New.
func (c *Client) RequestSizes() (read, write int) { return c.readLen, c.writeLen }

// Close ends the Client: it closes its channel, wakes every waiting call
// with ErrClosed and returns once its goroutines ended. Open Files and Dirs
// become unusable; the server releases their handles when the channel
// ends. It is idempotent and returns nil.
func (c *Client) Close() error {
	c.fail(ErrClosed)
	c.wg.Wait()
	return nil
}

// Err returns nil while the Client is usable, and then why it ended.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// fail ends the Client with err unless it already ended; it returns the
// error the Client ended with.
func (c *Client) fail(err error) error {
	c.mu.Lock()
	if c.err != nil {
		err = c.err
		c.mu.Unlock()
		return err
	}
	c.err = err
	close(c.done)
	c.mu.Unlock()
	_ = c.ch.Close()
	return err
}

// ioErr maps a channel error to the Client's terminal error.
func (c *Client) ioErr(op string, err error) error {
	// The Client records why it ends before it closes the channel itself,
	// so a closed channel here is the server's doing.
	if !errors.Is(err, ssh.ErrDisconnected) &&
		(errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, ssh.ErrChannelClosed)) {
		return fmt.Errorf("%w (%s)", ErrServerClosed, op)
	}
	return fmt.Errorf("sftp: %s: %w", op, err)
}

func (c *Client) readLoop(br *bufio.Reader) {
	defer c.wg.Done()
	var hdr [13]byte
	for {
		if _, err := io.ReadFull(br, hdr[:4]); err != nil {
			c.fail(c.ioErr("read", err))
			return
		}
		n := binary.BigEndian.Uint32(hdr[:4])
		if n < 5 || uint64(n) > uint64(c.maxIn) {
			c.fail(fmt.Errorf("%w: packet of %d bytes (limit %d)", ErrProtocol, n, c.maxIn))
			return
		}
		if _, err := io.ReadFull(br, hdr[4:9]); err != nil {
			c.fail(c.ioErr("read", err))
			return
		}
		typ := hdr[4]
		id := binary.BigEndian.Uint32(hdr[5:9])
		c.mu.Lock()
		cl := c.pending[id]
		delete(c.pending, id)
		c.mu.Unlock()
		if cl == nil {
			c.fail(fmt.Errorf("%w: answer (type %d) to request id %d, which is not pending", ErrProtocol, typ, id))
			return
		}
		var r result
		if typ == fxpData && cl.dst != nil && n >= 9 {
			r = c.readDirect(br, n, cl.dst, hdr[9:13])
			if r.typ == 0 {
				return // failed
			}
		} else {
			var bp *[]byte
			var b []byte
			if int(n) <= c.bufSz-headerRoom/2 {
				bp = c.bufs.Get().(*[]byte)
				b = (*bp)[:n]
			} else {
				b = make([]byte, n)
			}
			copy(b, hdr[4:9])
			if _, err := io.ReadFull(br, b[5:]); err != nil {
				c.fail(c.ioErr("read", err))
				return
			}
			r = result{typ: typ, body: b[5:], buf: bp}
		}
		<-c.slots
		if cl.abandoned.Load() {
			c.recycle(r)
			continue
		}
		cl.res <- r
	}
}

// readDirect reads the rest of a DATA packet of n bytes (type and id already read) into dst,
// using lenBuf for the data's length. A result of type 0 means the Client failed.
func (c *Client) readDirect(br *bufio.Reader, n uint32, dst, lenBuf []byte) result {
	if _, err := io.ReadFull(br, lenBuf); err != nil {
		c.fail(c.ioErr("read", err))
		return result{}
	}
	l := binary.BigEndian.Uint32(lenBuf)
	switch {
	case uint64(l) != uint64(n)-9:
		c.fail(fmt.Errorf("%w: DATA of %d bytes in a packet of %d", ErrProtocol, l, n))
		return result{}
	case int(l) > len(dst):
		c.fail(fmt.Errorf("%w: DATA of %d bytes for a read of %d", ErrProtocol, l, len(dst)))
		return result{}
	}
	if _, err := io.ReadFull(br, dst[:l]); err != nil {
		c.fail(c.ioErr("read", err))
		return result{}
	}
	return result{typ: fxpData, direct: true, n: int(l)}
}

// writeLoop sends the queued packets in order, gathering small ones (READ
// requests, stats) into one channel write.
func (c *Client) writeLoop() {
	defer c.wg.Done()
	batch := make([]byte, 0, 64<<10)
	for {
		var p []byte
		select {
		case p = <-c.out:
		case <-c.done:
			return
		}
		if len(p) < 4096 {
			batch = append(batch[:0], p...)
			c.putBuf(p)
		gather:
			for len(batch) < cap(batch)-4096 {
				select {
				case q := <-c.out:
					if len(q) >= 4096 {
						if !c.send(batch) {
							return
						}
						batch = batch[:0]
						p = q
						break gather
					}
					batch = append(batch, q...)
					c.putBuf(q)
				default:
					break gather
				}
			}
			if len(batch) > 0 {
				if !c.send(batch) {
					return
				}
				if len(p) < 4096 {
					continue
				}
			}
		}
		if !c.send(p) {
			return
		}
		c.putBuf(p)
	}
}

func (c *Client) send(p []byte) bool {
	if _, err := c.ch.Write(p); err != nil {
		c.fail(c.ioErr("write", err))
		return false
	}
	return true
}

func (c *Client) getBuf() []byte { return (*c.bufs.Get().(*[]byte))[:0] }

func (c *Client) putBuf(p []byte) {
	if cap(p) == c.bufSz {
		p = p[:cap(p)]
		c.bufs.Put(&p)
	}
}

func (c *Client) recycle(r result) {
	if r.buf != nil {
		c.bufs.Put(r.buf)
	}
}

// start sends one request: it waits for a slot, registers the id and
// queues the packet that build fills in after the type and id.
//
// buf, when not nil, is a pooled buffer that build fills in place (WRITE
// data already sits in it); it is given back when the packet was sent.
func (c *Client) start(ctx context.Context, timeout time.Duration, typ byte, buf []byte, build func(e *encoder)) (*call, error) {
	return c.startInto(ctx, timeout, typ, buf, nil, build)
}

// startInto is start for a READ whose data the reader puts straight into dst (see call.dst).
func (c *Client) startInto(ctx context.Context, timeout time.Duration, typ byte, buf, dst []byte, build func(e *encoder)) (*call, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var tc <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		tc = t.C
	}
	select {
	case c.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-tc:
		return nil, timeoutError(timeout)
	case <-c.done:
		return nil, c.Err()
	}
	cl := &call{res: make(chan result, 1), dst: dst}
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		<-c.slots
		return nil, err
	}
	c.nextID++
	id := c.nextID
	c.pending[id] = cl
	c.mu.Unlock()
	if buf == nil {
		buf = make([]byte, 0, 128)
	}
	e := newEncoder(buf, typ, id)
	build(e)
	select {
	case c.out <- e.finish():
	case <-c.done:
		return nil, c.Err()
	}
	return cl, nil
}

// wait waits for the answer to cl. When ctx ends first the call is
// abandoned: its slot stays taken until the server answers.
func (c *Client) wait(ctx context.Context, timeout time.Duration, cl *call) (result, error) {
	select {
	case r := <-cl.res:
		return r, nil
	default:
	}
	var tc <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		tc = t.C
	}
	select {
	case r := <-cl.res:
		return r, nil
	case <-ctx.Done():
		c.abandon(cl)
		return result{}, ctx.Err()
	case <-tc:
		c.abandon(cl)
		return result{}, timeoutError(timeout)
	case <-c.done:
		select {
		case r := <-cl.res:
			return r, nil
		default:
		}
		return result{}, c.Err()
	}
}

// abandon gives up on cl: its answer, when it comes, is dropped.
func (c *Client) abandon(cl *call) {
	cl.abandoned.Store(true)
	select { // the answer may have been delivered meanwhile
	case r := <-cl.res:
		c.recycle(r)
	default:
	}
}

func timeoutError(d time.Duration) error {
	return fmt.Errorf("sftp: no answer within the Timeout of %v: %w", d, context.DeadlineExceeded)
}

// roundTrip sends a request and waits for its answer; timeout, when not
// zero, bounds each of the two waits.
func (c *Client) roundTrip(ctx context.Context, timeout time.Duration, typ byte, build func(e *encoder)) (result, error) {
	cl, err := c.start(ctx, timeout, typ, nil, build)
	if err != nil {
		return result{}, err
	}
	return c.wait(ctx, timeout, cl)
}

// opErr wraps a failure that is not a status with the request and path.
func opErr(op, path string, err error) error {
	var se *StatusError
	if errors.As(err, &se) {
		return err
	}
	if path != "" {
		return fmt.Errorf("sftp: %s %s: %w", op, path, err)
	}
	return fmt.Errorf("sftp: %s: %w", op, err)
}

// status turns a STATUS answer into nil (OK) or a *StatusError, and any
// other answer into a protocol violation.
func (c *Client) status(r result, op, path string) error {
	defer c.recycle(r)
	if r.typ != fxpStatus {
		return c.fail(fmt.Errorf("%w: %s answered with packet type %d", ErrProtocol, op, r.typ))
	}
	code, msg, err := decodeStatus(r.body)
	if err != nil {
		return c.fail(err)
	}
	if code == StatusOK {
		return nil
	}
	return &StatusError{Code: code, Message: msg, Op: op, Path: path}
}

// expect checks that r has type typ; a STATUS becomes its error (an OK
// status where data was due is a violation).
func (c *Client) expect(r result, typ byte, op, path string) error {
	if r.typ == typ {
		return nil
	}
	if r.typ == fxpStatus {
		err := c.status(r, op, path)
		if err == nil {
			return c.fail(fmt.Errorf("%w: %s answered OK without data", ErrProtocol, op))
		}
		return err
	}
	c.recycle(r)
	return c.fail(fmt.Errorf("%w: %s answered with packet type %d", ErrProtocol, op, r.typ))
}
