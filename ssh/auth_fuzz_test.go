package ssh

import (
	"testing"

	gossh "golang.org/x/crypto/ssh"
)

// infoRequestMsg is SSH_MSG_USERAUTH_INFO_REQUEST (RFC 4256 §3.2), with the
// prompt/echo pairs left raw, as x/crypto reads it.
type infoRequestMsg struct {
	Name        string `sshtype:"60"`
	Instruction string
	Language    string
	NumPrompts  uint32
	Prompts     []byte `ssh:"rest"`
}

// splitInfoRequest unpacks a request's prompts the way x/crypto's client
// does before it calls the challenge callback (client_auth.go,
// KeyboardInteractiveChallenge.auth): num_prompts pairs of string prompt,
// boolean echo, and nothing after them.
func splitInfoRequest(packet []byte) (msg infoRequestMsg, questions []string, echos []bool, ok bool) {
	if gossh.Unmarshal(packet, &msg) != nil {
		return msg, nil, nil, false
	}
	rest := msg.Prompts
	for range msg.NumPrompts {
		q, r, ok := parseSSHString(rest)
		if !ok || len(r) == 0 {
			return msg, nil, nil, false
		}
		questions, echos, rest = append(questions, q), append(echos, r[0] != 0), r[1:]
	}
	return msg, questions, echos, len(rest) == 0
}

// FuzzKeyboardInteractiveInfo: whatever INFO_REQUEST a server sends, the
// round the application sees has exactly the prompts and echo flags of the
// request (no more than the packet can hold: a prompt costs at least five
// bytes, so a huge num_prompts cannot inflate it), marshals back to a
// request that reads the same, and a callback that hands over fewer echo
// flags than questions gets non-echoed prompts for the rest.
func FuzzKeyboardInteractiveInfo(f *testing.F) {
	req := func(name, instruction string, prompts ...any) []byte {
		var pairs []byte
		for i := 0; i+1 < len(prompts); i += 2 {
			pairs = append(pairs, gossh.Marshal(struct{ S string }{prompts[i].(string)})...)
			pairs = append(pairs, prompts[i+1].(byte))
		}
		return gossh.Marshal(infoRequestMsg{name, instruction, "", uint32(len(prompts) / 2), pairs})
	}
	for _, seed := range [][]byte{
		req("", "", "Password: ", byte(0)), // OpenSSH PAM, first round
		req("", ""),                        // and its last round, no prompts
		req("otp", "two questions", "Password: ", byte(0), "Code: ", byte(1)), // several prompts
		req("n", "i", "echo 2", byte(2)),                                      // any non-zero byte echoes
		req("\x1b[31mred\x1b[0m", "line 1\nline 2\r\n", "é: ", byte(0)),       // what a terminal must not trust
		{60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff},      // 4 billion prompts, none sent
		append(req("", "", "q", byte(0)), 'x'),                                // junk after the pairs
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, packet []byte) {
		msg, questions, echos, ok := splitInfoRequest(packet)
		if !ok {
			return // x/crypto ends the exchange: the library never sees it
		}
		info := newInteractiveAuthInfo(msg.Name, msg.Instruction, questions, echos)
		if info.Name != msg.Name || info.Instruction != msg.Instruction || len(info.Prompts) != int(msg.NumPrompts) {
			t.Fatalf("round %q/%q with %d prompts from a request with %d", info.Name, info.Instruction, len(info.Prompts), msg.NumPrompts)
		}
		if len(info.Prompts)*5 > len(msg.Prompts) {
			t.Fatalf("%d prompts from %d bytes of pairs", len(info.Prompts), len(msg.Prompts))
		}
		var pairs []byte
		for i, p := range info.Prompts {
			if p.Prompt != questions[i] || p.Echo != echos[i] {
				t.Fatalf("prompt %d is %+v, the request says %q echo %v", i, p, questions[i], echos[i])
			}
			pairs = append(pairs, gossh.Marshal(struct{ S string }{p.Prompt})...)
			pairs = append(pairs, map[bool]byte{false: 0, true: 1}[p.Echo])
		}
		back := gossh.Marshal(infoRequestMsg{info.Name, info.Instruction, msg.Language, uint32(len(info.Prompts)), pairs})
		msg2, q2, e2, ok := splitInfoRequest(back)
		if !ok || msg2.Name != msg.Name || len(q2) != len(questions) {
			t.Fatalf("round %+v marshals to a request that reads as %+v, %v", info, msg2, ok)
		}
		for i := range q2 {
			if q2[i] != questions[i] || e2[i] != echos[i] {
				t.Fatalf("prompt %d marshals back as %q echo %v", i, q2[i], e2[i])
			}
		}
		// Fewer echo flags than questions: the rest do not echo; more: ignored.
		short := echos[:len(echos)/2]
		for i, p := range newInteractiveAuthInfo(msg.Name, msg.Instruction, questions, short).Prompts {
			if p.Echo != (i < len(short) && short[i]) {
				t.Fatalf("prompt %d of %d with %d echo flags: echo %v", i, len(questions), len(short), p.Echo)
			}
		}
		if n := len(newInteractiveAuthInfo("", "", questions, append(echos, true, true)).Prompts); n != len(questions) {
			t.Fatalf("%d prompts for %d questions", n, len(questions))
		}
	})
}
