package sshtest

import (
	"context"
	"slices"

	"golang.org/x/crypto/ssh"
)

// AuthAttempt is one authentication request the server answered with
// failure, partial success or success. A publickey request that only asks
// whether a key is acceptable, and is told yes (SSH_MSG_USERAUTH_PK_OK), is
// not an attempt; one told no is recorded as a failure.
type AuthAttempt struct {
	// User is the user name the client sent.
	User string
	// Method is the method name: "none", "password", "publickey",
	// "keyboard-interactive", or whatever else the client sent.
	Method string
	// Password is the password sent, for the "password" method only.
	Password string
	// KeyType and KeyFingerprint (ssh.FingerprintSHA256) identify the key
	// offered, for the "publickey" method only.
	KeyType, KeyFingerprint string
	// Responses are the keyboard-interactive answers received, all rounds
	// in order, for the "keyboard-interactive" method only.
	Responses []string
	// Success means the attempt completed authentication.
	Success bool
	// Partial means the attempt succeeded but another method must follow
	// (Config.AuthSequence); Success is false then.
	Partial bool
}

// RequestRecord is one channel or global request the server received.
// Fields that do not apply to the request's Type are zero.
type RequestRecord struct {
	// Channel numbers the session channel the request came on, from 1 in
	// the order the server accepted channels across all connections. It is
	// 0 for global requests.
	Channel int
	// Type is the request name, e.g. "pty-req" or "keepalive@openssh.com".
	Type string
	// WantReply is the client's want-reply flag.
	WantReply bool
	// OK is the answer the server gave, or would have given had the client
	// wanted a reply.
	OK bool

	// Name and Value are the variable of an "env" request.
	Name, Value string
	// Term and Modes (encoded terminal modes, RFC 4254 §8) come from a
	// "pty-req" request.
	Term  string
	Modes []byte
	// Cols, Rows, Width and Height (pixels) come from a "pty-req" or
	// "window-change" request.
	Cols, Rows, Width, Height uint32
	// Signal is the signal name, without "SIG", of a "signal" request.
	Signal string
	// Command is the command line of an "exec" request.
	Command string
	// Subsystem is the name of a "subsystem" request.
	Subsystem string
	// BreakLength is the length in milliseconds of a "break" request (RFC
	// 4335).
	BreakLength uint32
	// Payload is the raw request payload.
	Payload []byte
}

func (r RequestRecord) clone() RequestRecord {
	r.Modes = slices.Clone(r.Modes)
	r.Payload = slices.Clone(r.Payload)
	return r
}

// AuthLog returns every authentication attempt seen so far, across all
// connections, in the order they were answered. An attempt is recorded
// before the server answers it, so it is visible as soon as the client has
// the answer. The result is a copy.
func (s *Server) AuthLog() []AuthAttempt {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := slices.Clone(s.authLog)
	for i := range out {
		out[i].Responses = slices.Clone(out[i].Responses)
	}
	return out
}

// Negotiated returns the algorithms of every completed key exchange, one
// per connection that got past the initial key exchange, in order. It is
// recorded before authentication starts, so failed logins appear too.
func (s *Server) Negotiated() []ssh.NegotiatedAlgorithms {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.negotiated)
}

// ClientVersions returns the identification strings of the clients whose
// initial key exchange completed, in the same order as Negotiated.
func (s *Server) ClientVersions() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.clientVersions)
}

// Requests returns every channel request seen so far, in order. A request
// is recorded before it is answered. The result is a copy.
func (s *Server) Requests() []RequestRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return cloneRecords(s.requests)
}

// GlobalRequests returns every global request (RFC 4254 §4) seen so far, in
// order. A request is recorded before it is answered. The result is a copy.
func (s *Server) GlobalRequests() []RequestRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return cloneRecords(s.globalRequests)
}

// WaitRequest blocks until a channel request for which match returns true
// has been recorded, and returns it; requests recorded before the call
// count. It exists for requests that carry no reply, such as
// "window-change" and "signal", whose arrival a test cannot otherwise
// observe. It returns ctx.Err() if ctx ends first, and ErrServerClosed if
// the server is closed first. match is called without locks held and may
// call other Server methods.
func (s *Server) WaitRequest(ctx context.Context, match func(RequestRecord) bool) (RequestRecord, error) {
	return s.waitRecord(ctx, func() []RequestRecord { return s.requests }, match)
}

// WaitGlobalRequest is WaitRequest for global requests: it blocks until a
// global request for which match returns true has been recorded (before or
// during the call) and returns it, or returns ctx.Err() or ErrServerClosed.
func (s *Server) WaitGlobalRequest(ctx context.Context, match func(RequestRecord) bool) (RequestRecord, error) {
	return s.waitRecord(ctx, func() []RequestRecord { return s.globalRequests }, match)
}

// RefusedChannels returns the type of every channel open the server refused
// because it serves no channel of that type, in order, across all
// connections.
func (s *Server) RefusedChannels() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.refusedChannels)
}

// WaitRefusedChannels blocks until at least n channel opens have been
// refused for their type (see RefusedChannels) and returns their types, or
// returns ctx.Err() or ErrServerClosed.
func (s *Server) WaitRefusedChannels(ctx context.Context, n int) ([]string, error) {
	for {
		closed := s.ctx.Err() != nil
		s.mu.Lock()
		if len(s.refusedChannels) >= n {
			defer s.mu.Unlock()
			return slices.Clone(s.refusedChannels), nil
		}
		changed := s.requestsChanged
		s.mu.Unlock()
		if closed {
			return nil, ErrServerClosed
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-s.ctx.Done():
		}
	}
}

// waitRecord waits until list (called with s.mu held) holds a record that
// match accepts; records seen once are not offered again.
func (s *Server) waitRecord(ctx context.Context, list func() []RequestRecord, match func(RequestRecord) bool) (RequestRecord, error) {
	seen := 0
	for {
		// Sample closed before scanning, so a request recorded just
		// before Close is still found.
		closed := s.ctx.Err() != nil
		s.mu.Lock()
		fresh := cloneRecords(list()[seen:])
		changed := s.requestsChanged
		s.mu.Unlock()
		for _, r := range fresh {
			if match(r) {
				return r, nil
			}
		}
		seen += len(fresh)
		if closed {
			return RequestRecord{}, ErrServerClosed
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return RequestRecord{}, ctx.Err()
		case <-s.ctx.Done():
		}
	}
}

func cloneRecords(rs []RequestRecord) []RequestRecord {
	out := make([]RequestRecord, len(rs))
	for i, r := range rs {
		out[i] = r.clone()
	}
	return out
}

func (s *Server) recordAuth(a AuthAttempt) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.authLog = append(s.authLog, a)
}

func (s *Server) recordHandshake(algs ssh.NegotiatedAlgorithms, clientVersion string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.negotiated = append(s.negotiated, algs)
	s.clientVersions = append(s.clientVersions, clientVersion)
}

func (s *Server) recordRequest(r RequestRecord) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, r)
	s.recordedLocked()
}

func (s *Server) recordGlobalRequest(r RequestRecord) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.globalRequests = append(s.globalRequests, r)
	s.recordedLocked()
}

func (s *Server) recordRefusedChannel(channelType string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refusedChannels = append(s.refusedChannels, channelType)
	s.recordedLocked()
}

// recordedLocked wakes every waiter of waitRecord: closing a channel is a
// broadcast.
func (s *Server) recordedLocked() {
	close(s.requestsChanged)
	s.requestsChanged = make(chan struct{})
}
