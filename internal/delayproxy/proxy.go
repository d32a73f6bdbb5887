// Package delayproxy is a user-space TCP relay that adds a round-trip time
// to a connection, for benchmarks on a machine whose kernel has no netem:
// each direction delays every chunk it relays by RTT/2, measured from the
// moment the chunk was read, so the delay does not limit the bandwidth
// (many chunks are in flight, as on a long fat link) and the relay itself
// carries well over 500 MB/s on loopback.
//
// It is internal: only the bench tool and its tests use it.
package delayproxy

import (
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// chunkSize is the largest piece read at once; maxInFlight bounds the
// bytes one direction holds waiting for their delivery time.
const (
	chunkSize   = 256 << 10
	maxInFlight = 64 << 20
)

// Proxy relays connections accepted on its address to a target, with a
// delay. The zero value is not usable; create one with Start.
type Proxy struct {
	ln     net.Listener
	target string
	oneWay time.Duration

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// Start listens on 127.0.0.1 (a free port) and relays every connection to
// target (host:port) with rtt added to its round-trip time: rtt/2 each way.
// rtt 0 relays without delay. It returns once the listener is open.
func Start(target string, rtt time.Duration) (*Proxy, error) {
	if rtt < 0 {
		return nil, errors.New("delayproxy: negative RTT")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, target: target, oneWay: rtt / 2, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the host:port to connect to instead of the target.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Close stops accepting, closes every relayed connection and waits until
// every goroutine of the proxy ended. It is idempotent.
func (p *Proxy) Close() error {
	p.mu.Lock()
	already := p.closed
	p.closed = true
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	if !already {
		_ = p.ln.Close()
	}
	p.wg.Wait()
	return nil
}

// track registers c for Close; false if the proxy is already closed.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go p.serve(c)
	}
}

// serve relays one connection in both directions until both ended.
func (p *Proxy) serve(client net.Conn) {
	defer p.wg.Done()
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		_ = client.Close()
		return
	}
	if !p.track(client) || !p.track(server) {
		_ = client.Close()
		_ = server.Close()
		p.untrack(client)
		return
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); p.pipe(server, client) }()
	go func() { defer wg.Done(); p.pipe(client, server) }()
	wg.Wait()
	_ = client.Close()
	_ = server.Close()
	p.untrack(client)
	p.untrack(server)
}

// chunk is data read at one moment, due at another; nil data is the EOF.
type chunk struct {
	data []byte
	due  time.Time
}

// bufPool holds chunk buffers, so relaying allocates nothing per chunk.
var bufPool = sync.Pool{New: func() any { b := make([]byte, chunkSize); return &b }}

// pipe copies src to dst, delaying each chunk by oneWay: a reader
// timestamps and queues, a writer waits for each chunk's due time and
// writes every chunk due by then in one writev. On EOF it half-closes dst
// after the queued data; on an error it closes both.
func (p *Proxy) pipe(dst, src net.Conn) {
	queue := make(chan chunk, maxInFlight/(4<<10))
	var budget byteBudget
	budget.init(maxInFlight)
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.deliver(dst, src, queue, &budget)
	}()
	for {
		bp := bufPool.Get().(*[]byte)
		n, err := src.Read(*bp)
		if n > 0 {
			if !budget.acquire(n) {
				break
			}
			queue <- chunk{data: (*bp)[:n], due: time.Now().Add(p.oneWay)}
		} else {
			bufPool.Put(bp)
		}
		if err == io.EOF {
			queue <- chunk{due: time.Now().Add(p.oneWay)}
			break
		}
		if err != nil {
			_ = dst.Close()
			break
		}
	}
	close(queue)
	<-done
}

// deliver is pipe's writer.
func (p *Proxy) deliver(dst, src net.Conn, queue <-chan chunk, budget *byteBudget) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var bufs net.Buffers
	var held [][]byte
	for c := range queue {
		if d := time.Until(c.due); d > 0 {
			timer.Reset(d)
			<-timer.C
		}
		eof := c.data == nil
		if !eof {
			bufs = append(bufs[:0], c.data)
			held = append(held[:0], c.data)
			// Take every further chunk already due, up to 4 MiB.
			size := len(c.data)
		more:
			for size < 4<<20 {
				select {
				case n, ok := <-queue:
					if !ok {
						break more
					}
					if n.data == nil || time.Until(n.due) > 0 {
						// Not due (or the EOF): write what is due first.
						if err := p.writeOut(dst, &bufs, held, budget); err != nil {
							fail(src, dst, queue, budget)
							return
						}
						held = held[:0]
						if d := time.Until(n.due); d > 0 {
							timer.Reset(d)
							<-timer.C
						}
						if n.data == nil {
							eof = true
							break more
						}
					}
					bufs = append(bufs, n.data)
					held = append(held, n.data)
					size += len(n.data)
				default:
					break more
				}
			}
			if err := p.writeOut(dst, &bufs, held, budget); err != nil {
				fail(src, dst, queue, budget)
				return
			}
		}
		if eof {
			if tc, ok := dst.(*net.TCPConn); ok {
				_ = tc.CloseWrite()
			}
		}
	}
}

// writeOut writes the buffers and returns their chunks to the pool.
func (p *Proxy) writeOut(dst net.Conn, bufs *net.Buffers, held [][]byte, budget *byteBudget) error {
	if len(held) == 0 {
		return nil
	}
	_, err := bufs.WriteTo(dst)
	for _, b := range held {
		budget.release(len(b))
		b = b[:cap(b)]
		bufPool.Put(&b)
	}
	*bufs = (*bufs)[:0]
	return err
}

// fail ends both connections after a write error and drains the queue
// until the reader stops.
func fail(src, dst net.Conn, queue <-chan chunk, budget *byteBudget) {
	_ = src.Close()
	_ = dst.Close()
	budget.fail()
	for range queue {
	}
}

// byteBudget bounds the bytes waiting in one direction.
type byteBudget struct {
	mu     sync.Mutex
	cond   *sync.Cond
	free   int
	failed bool
}

func (b *byteBudget) init(n int) { b.free = n; b.cond = sync.NewCond(&b.mu) }

// acquire waits for n bytes of room; false once the writer failed.
func (b *byteBudget) acquire(n int) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for b.free < n && !b.failed {
		b.cond.Wait()
	}
	b.free -= n
	return !b.failed
}

func (b *byteBudget) release(n int) {
	b.mu.Lock()
	b.free += n
	b.mu.Unlock()
	b.cond.Broadcast()
}

func (b *byteBudget) fail() {
	b.mu.Lock()
	b.failed = true
	b.mu.Unlock()
	b.cond.Broadcast()
}
