package sshtest

import (
	"bytes"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

// The rewriter must be invisible when it changes nothing: a whole session,
// data both ways included, survives the decryption and re-encryption.
func TestRewrittenConnectionCarriesSessions(t *testing.T) {
	for _, cfg := range []Config{{GlobalRequestsUnimplemented: true}, {NoExtInfo: true}} {
		cfg.Users = map[string]User{"alice": {Password: "secret"}}
		s := New(t, cfg)
		c := connect(t, s, clientConfig(s, "alice", ssh.Password("secret")))
		big := strings.Repeat("0123456789abcdef", 64<<10) // 1 MiB: many packets, window adjusts
		for range 3 {
			out, _, err := run(t, c, "cat", big)
			if err != nil || out != big {
				t.Fatalf("cat through the rewriter: %d bytes back (want %d), err %v", len(out), len(big), err)
			}
		}
		if got := s.Negotiated()[0]; got.KeyExchange != rewriteKex || got.Read.Cipher != rewriteCipher {
			t.Errorf("negotiated %+v, want %s and %s", got, rewriteKex, rewriteCipher)
		}
	}
}

// GlobalRequestsUnimplemented really sends SSH_MSG_UNIMPLEMENTED: x/crypto's
// client, which has no handler for it, ends the connection on message type 3.
func TestGlobalRequestsUnimplemented(t *testing.T) {
	s := New(t, Config{
		Users:                       map[string]User{"alice": {Password: "secret"}},
		ServerVersion:               "SSH-2.0-tinyssh_20230101-1 testserver",
		GlobalRequestsUnimplemented: true,
	})
	for _, wantReply := range []bool{true, false} {
		c := connect(t, s, clientConfig(s, "alice", ssh.Password("secret")))
		if got := string(c.ServerVersion()); got != "SSH-2.0-tinyssh_20230101-1 testserver" {
			t.Errorf("server version %q", got)
		}
		_, _, _ = c.SendRequest("keepalive@openssh.com", wantReply, []byte("payload"))
		err := c.Wait()
		// The text is x/crypto's: this checks what the client saw on the
		// wire, not an error of ours.
		if err == nil || !strings.Contains(err.Error(), "message type 3") {
			t.Errorf("want-reply %v: connection ended with %v, want x/crypto's error for message type 3", wantReply, err)
		}
	}
	got := s.GlobalRequests()
	if len(got) != 2 || got[0].Type != "keepalive@openssh.com" || !got[0].WantReply || got[1].WantReply ||
		got[0].OK || !bytes.Equal(got[0].Payload, []byte("payload")) {
		t.Errorf("recorded global requests %+v", got)
	}
}

// NoExtInfo withholds server-sig-algs: x/crypto's client then signs with
// ssh-rsa (SHA-1), which only a server that accepts SHA-1 takes.
func TestNoExtInfo(t *testing.T) {
	rsaKey := newSigner(t, ssh.KeyAlgoRSA)
	noSHA1 := []string{ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSASHA512}
	for _, tc := range []struct {
		noExt  bool
		algos  []string
		wantOK bool
	}{
		{false, noSHA1, true}, // server-sig-algs lead the client to rsa-sha2-*
		{true, noSHA1, false}, // no server-sig-algs: ssh-rsa, refused
		{true, nil, true},     // no server-sig-algs: ssh-rsa, accepted
	} {
		s := New(t, Config{
			Users:                   map[string]User{"alice": {AuthorizedKeys: []ssh.PublicKey{rsaKey.PublicKey()}}},
			NoExtInfo:               tc.noExt,
			PublicKeyAuthAlgorithms: tc.algos,
		})
		c, err := dial(t, s, clientConfig(s, "alice", ssh.PublicKeys(rsaKey)))
		if err == nil {
			c.Close()
		}
		if (err == nil) != tc.wantOK {
			t.Errorf("NoExtInfo %v, server algorithms %v: login error %v, want success %v", tc.noExt, tc.algos, err, tc.wantOK)
		}
	}
}
