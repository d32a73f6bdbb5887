package ssh

import (
	"bufio"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"math/big"
	"net"
	"strings"
	"testing"

	gossh "golang.org/x/crypto/ssh"
)

// A packet-level SSH server for the few answers no x/crypto server can be
// made to give (x/crypto's server always confirms a channel with its own
// maximum packet size). It speaks exactly one set of algorithms:
// curve25519-sha256 (RFC 8731), ssh-ed25519, aes128-ctr and hmac-sha2-256
// (RFC 4253 §6, §7), no compression; a client must be limited to them.

// Message numbers (RFC 4250 §4.1.2).
const (
	wireServiceRequest = 5
	wireServiceAccept  = 6
	wireKexInit        = 20
	wireNewKeys        = 21
	wireKexECDHInit    = 30
	wireKexECDHReply   = 31
	wireUserauthReq    = 50
	wireUserauthOK     = 52
	wireChannelOpen    = 90
	wireChannelConfirm = 91
)

// rawWireOptions limit a client to the algorithms rawWire speaks.
func rawWireOptions() []Option {
	return []Option{KeyExchange("curve25519-sha256"), HostKeys("ssh-ed25519"), CiphersCS("aes128-ctr"), HmacCS("hmac-sha2-256")}
}

// wireDir is one direction of the binary packet protocol.
type wireDir struct {
	seq    uint32
	stream cipher.Stream // nil before NEWKEYS
	mac    hash.Hash
}

type rawWire struct {
	c   net.Conn
	r   *bufio.Reader
	in  wireDir // client to server
	out wireDir // server to client
}

func (w *rawWire) writePacket(payload []byte) error {
	const block = 16
	pad := block - (5+len(payload))%block
	if pad < 4 {
		pad += block
	}
	pkt := make([]byte, 5+len(payload)+pad)
	binary.BigEndian.PutUint32(pkt, uint32(len(pkt)-4))
	pkt[4] = byte(pad)
	copy(pkt[5:], payload)
	if _, err := rand.Read(pkt[5+len(payload):]); err != nil {
		return err
	}
	var mac []byte
	if w.out.mac != nil {
		// RFC 4253 §6.4: MAC(key, sequence_number || unencrypted_packet).
		w.out.mac.Reset()
		_ = binary.Write(w.out.mac, binary.BigEndian, w.out.seq)
		w.out.mac.Write(pkt)
		mac = w.out.mac.Sum(nil)
		w.out.stream.XORKeyStream(pkt, pkt)
	}
	w.out.seq++
	_, err := w.c.Write(append(pkt, mac...))
	return err
}

func (w *rawWire) readPacket() ([]byte, error) {
	first := make([]byte, 16)
	if _, err := io.ReadFull(w.r, first); err != nil {
		return nil, err
	}
	if w.in.stream != nil {
		w.in.stream.XORKeyStream(first, first)
	}
	length := binary.BigEndian.Uint32(first)
	if length < 12 || length > 64<<10 {
		return nil, fmt.Errorf("rawwire: bad packet length %d", length)
	}
	pkt := make([]byte, 4+length)
	copy(pkt, first)
	if _, err := io.ReadFull(w.r, pkt[16:]); err != nil {
		return nil, err
	}
	if w.in.stream != nil {
		w.in.stream.XORKeyStream(pkt[16:], pkt[16:])
		mac := make([]byte, w.in.mac.Size())
		if _, err := io.ReadFull(w.r, mac); err != nil {
			return nil, err
		}
		w.in.mac.Reset()
		_ = binary.Write(w.in.mac, binary.BigEndian, w.in.seq)
		w.in.mac.Write(pkt)
		if !hmac.Equal(mac, w.in.mac.Sum(nil)) {
			return nil, errors.New("rawwire: MAC mismatch")
		}
	}
	w.in.seq++
	pad := int(pkt[4])
	if 5+pad > len(pkt) {
		return nil, errors.New("rawwire: bad padding")
	}
	return pkt[5 : len(pkt)-pad], nil
}

// expect reads packets until one of type msg, skipping the client's other
// traffic (ext-info, ignore).
func (w *rawWire) expect(msg byte) ([]byte, error) {
	for {
		p, err := w.readPacket()
		if err != nil {
			return nil, err
		}
		if len(p) > 0 && p[0] == msg {
			return p, nil
		}
	}
}

// serveRawWire runs the key exchange and the service request on c, then
// hands the connection to script, which answers authentication.
func serveRawWire(c net.Conn, hostKey gossh.Signer, script func(w *rawWire) error) error {
	w := &rawWire{c: c, r: bufio.NewReader(c)}
	const serverVersion = "SSH-2.0-rawwire_test"
	if _, err := io.WriteString(c, serverVersion+"\r\n"); err != nil {
		return err
	}
	clientVersion, err := w.r.ReadString('\n')
	if err != nil {
		return err
	}
	clientVersion = strings.TrimRight(clientVersion, "\r\n")

	type kexInit struct {
		Cookie                           [16]byte `sshtype:"20"`
		Kex, HostKey, CipherCS, CipherSC []string
		MACCS, MACSC, ComprCS, ComprSC   []string
		LangCS, LangSC                   []string
		FirstKexFollows                  bool
		Reserved                         uint32
	}
	mine := kexInit{Kex: []string{"curve25519-sha256"}, HostKey: []string{"ssh-ed25519"},
		CipherCS: []string{"aes128-ctr"}, CipherSC: []string{"aes128-ctr"},
		MACCS: []string{"hmac-sha2-256"}, MACSC: []string{"hmac-sha2-256"},
		ComprCS: []string{"none"}, ComprSC: []string{"none"}}
	if _, err := rand.Read(mine.Cookie[:]); err != nil {
		return err
	}
	serverInit := gossh.Marshal(&mine)
	if err := w.writePacket(serverInit); err != nil {
		return err
	}
	clientInit, err := w.expect(wireKexInit)
	if err != nil {
		return err
	}
	p, err := w.expect(wireKexECDHInit)
	if err != nil {
		return err
	}
	var ecdhInit struct {
		ClientPub []byte `sshtype:"30"`
	}
	if err := gossh.Unmarshal(p, &ecdhInit); err != nil {
		return err
	}
	priv, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	clientPub, err := ecdh.X25519().NewPublicKey(ecdhInit.ClientPub)
	if err != nil {
		return err
	}
	secret, err := priv.ECDH(clientPub)
	if err != nil {
		return err
	}
	// RFC 8731 §3.1: K is the shared secret as an mpint.
	k := gossh.Marshal(struct{ K *big.Int }{new(big.Int).SetBytes(secret)})
	hostKeyBlob := hostKey.PublicKey().Marshal()
	h := sha256.New()
	h.Write(gossh.Marshal(struct {
		VC, VS     string
		IC, IS, KS []byte
		QC, QS     []byte
	}{clientVersion, serverVersion, clientInit, serverInit, hostKeyBlob, ecdhInit.ClientPub, priv.PublicKey().Bytes()}))
	h.Write(k)
	exchangeHash := h.Sum(nil)
	sig, err := hostKey.Sign(rand.Reader, exchangeHash)
	if err != nil {
		return err
	}
	reply := struct {
		HostKey   []byte `sshtype:"31"`
		ServerPub []byte
		Sig       []byte
	}{hostKeyBlob, priv.PublicKey().Bytes(), gossh.Marshal(sig)}
	if err := w.writePacket(gossh.Marshal(&reply)); err != nil {
		return err
	}
	if err := w.writePacket([]byte{wireNewKeys}); err != nil {
		return err
	}
	if _, err := w.expect(wireNewKeys); err != nil {
		return err
	}
	// RFC 4253 §7.2: HASH(K || H || letter || session_id), session_id = H.
	derive := func(letter byte, n int) []byte {
		d := sha256.New()
		d.Write(k)
		d.Write(exchangeHash)
		d.Write([]byte{letter})
		d.Write(exchangeHash)
		return d.Sum(nil)[:n]
	}
	stream := func(key, iv []byte) cipher.Stream {
		b, _ := aes.NewCipher(key)
		return cipher.NewCTR(b, iv)
	}
	w.in.stream, w.in.mac = stream(derive('C', 16), derive('A', 16)), hmac.New(sha256.New, derive('E', 32))
	w.out.stream, w.out.mac = stream(derive('D', 16), derive('B', 16)), hmac.New(sha256.New, derive('F', 32))

	if _, err := w.expect(wireServiceRequest); err != nil {
		return err
	}
	if err := w.writePacket(gossh.Marshal(struct {
		Service string `sshtype:"6"`
	}{"ssh-userauth"})); err != nil {
		return err
	}
	return script(w)
}

// acceptNone answers the client's first authentication request ("none")
// with success.
func (w *rawWire) acceptNone() error {
	if _, err := w.expect(wireUserauthReq); err != nil {
		return err
	}
	return w.writePacket([]byte{wireUserauthOK})
}

// disconnect sends SSH_MSG_DISCONNECT (RFC 4253 §11.1) with message.
func (w *rawWire) disconnect(message string) error {
	return w.writePacket(gossh.Marshal(struct {
		Reason  uint32 `sshtype:"1"`
		Message string
		Lang    string
	}{11, message, ""}))
}

// rawWireSession connects a Session to a rawWire server running script and
// authenticates it; script must begin with acceptNone.
func rawWireSession(t *testing.T, script func(w *rawWire) error) *Session {
	t.Helper()
	s := rawWireConnect(t, script)
	if st, err := s.UserauthNone(testCtx(t), ""); st != AuthSuccess {
		t.Fatalf("none: %v, %v", st, err)
	}
	return s
}

// rawWireConnect connects a Session to a rawWire server running script and
// accepts its host key.
func rawWireConnect(t *testing.T, script func(w *rawWire) error) *Session {
	t.Helper()
	hostKey := newEd25519(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveConns(t, ln, func(c net.Conn) {
		if err := serveRawWire(c, hostKey, script); err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
			t.Logf("rawwire server: %v", err)
		}
	})
	s := NewSession()
	opts := append([]Option{ProcessConfig(false), Hostname("127.0.0.1"), Port(ln.Addr().(*net.TCPAddr).Port),
		User("u"), SSHDir(t.TempDir())}, rawWireOptions()...)
	if err := s.SetOption(opts...); err != nil {
		t.Fatal(err)
	}
	if err := s.Connect(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Disconnect() })
	if err := s.AcceptHostKey(); err != nil {
		t.Fatal(err)
	}
	return s
}

// A channel confirmation with maximum packet size 0 (or any value below 9
// or above 2^31) is a protocol violation to x/crypto: its read loop ends
// the whole connection before the library sees the channel, so no write can
// spin on it. The open must fail with an error that matches ErrDisconnected
// and names the cause, and the session must know it is gone.
func TestChannelConfirmWithInvalidMaxPacket(t *testing.T) {
	for _, maxPacket := range []uint32{0, 8, 1<<31 + 1} {
		t.Run(fmt.Sprint(maxPacket), func(t *testing.T) {
			s := rawWireSession(t, func(w *rawWire) error {
				if err := w.acceptNone(); err != nil {
					return err
				}
				p, err := w.expect(wireChannelOpen)
				if err != nil {
					return err
				}
				var open struct {
					Type      string `sshtype:"90"`
					Sender    uint32
					Window    uint32
					MaxPacket uint32
					Rest      []byte `ssh:"rest"`
				}
				if err := gossh.Unmarshal(p, &open); err != nil {
					return err
				}
				if err := w.writePacket(gossh.Marshal(struct {
					Recipient uint32 `sshtype:"91"`
					Sender    uint32
					Window    uint32
					MaxPacket uint32
				}{open.Sender, 0, 1 << 20, maxPacket})); err != nil {
					return err
				}
				_, err = io.Copy(io.Discard, w.r)
				return err
			})
			ch, err := s.NewChannel()
			if err != nil {
				t.Fatal(err)
			}
			err = ch.OpenSession(testCtx(t))
			t.Logf("%v", err)
			if !errors.Is(err, ErrDisconnected) || !strings.Contains(err.Error(), "MaxPacketSize") {
				t.Fatalf("got %v; want ErrDisconnected naming the invalid maximum packet size", err)
			}
			if s.IsConnected() {
				t.Fatal("still connected")
			}
			if _, err := s.NewChannel(); !errors.Is(err, ErrNotConnected) || !strings.Contains(err.Error(), "MaxPacketSize") {
				t.Fatalf("later call: %v", err)
			}
		})
	}
}

// A disconnect message is the server's text, up to x/crypto's 256 KiB
// packet limit, and it becomes part of every later call's error. The error
// keeps its start and says how much was cut.
func TestHugeDisconnectMessageIsCut(t *testing.T) {
	message := "go away " + strings.Repeat("x", 200<<10)
	for _, during := range []string{"auth", "channel open"} {
		t.Run(during, func(t *testing.T) {
			var call func(s *Session) error
			var s *Session
			if during == "auth" {
				s = rawWireConnect(t, func(w *rawWire) error {
					if _, err := w.expect(wireUserauthReq); err != nil {
						return err
					}
					return w.disconnect(message)
				})
				call = func(s *Session) error { _, err := s.UserauthNone(testCtx(t), ""); return err }
			} else {
				s = rawWireSession(t, func(w *rawWire) error {
					if err := w.acceptNone(); err != nil {
						return err
					}
					if _, err := w.expect(wireChannelOpen); err != nil {
						return err
					}
					return w.disconnect(message)
				})
				call = func(s *Session) error {
					ch, err := s.NewChannel()
					if err != nil {
						return err
					}
					return ch.OpenSession(testCtx(t))
				}
			}
			for i := 0; i < 2; i++ { // the failing call, then a later one
				err := call(s)
				if !errors.Is(err, ErrDisconnected) || !strings.Contains(err.Error(), "go away xxx") || len(err.Error()) > 2<<10 {
					t.Fatalf("call %d: %d bytes of error, ErrDisconnected %v: %.200s", i, len(err.Error()), errors.Is(err, ErrDisconnected), err)
				}
			}
		})
	}
}
