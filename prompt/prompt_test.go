package prompt

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// pipeReader returns a reader that is not a terminal and reads input.
func pipeReader(input string) (*reader, *bytes.Buffer) {
	out := new(bytes.Buffer)
	return &reader{
		in:         strings.NewReader(input),
		out:        out,
		isTerminal: func() bool { return false },
		readPassword: func() ([]byte, error) {
			panic("readPassword used on a non-terminal")
		},
	}, out
}

func TestGetInputLine(t *testing.T) {
	for _, tc := range []struct {
		name, input, def, want string
	}{
		{"line", "secret\nnext\n", "", "secret"},
		{"crlf", "secret\r\n", "", "secret"},
		{"no newline", "secret", "", "secret"},
		{"spaces kept", "  a b  \n", "", "  a b  "},
		{"empty", "\n", "", ""},
		{"default", "\n", "dflt", "dflt"},
		{"default crlf", "\r\n", "dflt", "dflt"},
		{"answer over default", "mine\n", "dflt", "mine"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, echo := range []bool{true, false} {
				r, out := pipeReader(tc.input)
				got, err := r.getInput("Passphrase: ", tc.def, echo, false)
				if err != nil || got != tc.want {
					t.Errorf("echo %v: got %q, %v; want %q", echo, got, err, tc.want)
				}
				wantOut := "Passphrase: "
				if echo && tc.def != "" {
					wantOut += "[" + tc.def + "] "
				}
				if out.String() != wantOut {
					t.Errorf("echo %v: prompt %q, want %q", echo, out.String(), wantOut)
				}
			}
		})
	}
}

func TestGetInputKeepsFollowingLines(t *testing.T) {
	r, _ := pipeReader("one\ntwo\nthree\n")
	for _, want := range []string{"one", "two", "three"} {
		got, err := r.getInput("? ", "", true, false)
		if err != nil || got != want {
			t.Fatalf("got %q, %v; want %q", got, err, want)
		}
	}
	if _, err := r.getInput("? ", "", true, false); !errors.Is(err, io.EOF) {
		t.Fatalf("after the last line: err = %v, want io.EOF", err)
	}
}

func TestGetInputVerify(t *testing.T) {
	for _, tc := range []struct {
		name, input, def, want string
		err                    error
	}{
		{"match", "pw\npw\nrest\n", "", "pw", nil},
		{"match crlf", "pw\r\npw\n", "", "pw", nil},
		{"mismatch", "pw\nPW\n", "", "", ErrMismatch},
		{"both default", "\n\n", "d", "d", nil},
		{"default and typed default", "\nd\n", "d", "d", nil},
		{"default and other", "\nx\n", "d", "", ErrMismatch},
		{"eof on second", "pw\n", "", "", io.EOF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, out := pipeReader(tc.input)
			got, err := r.getInput("New passphrase: ", tc.def, false, true)
			if got != tc.want || !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
				t.Errorf("got %q, %v; want %q, %v", got, err, tc.want, tc.err)
			}
			if tc.err != io.EOF && out.String() != "New passphrase: Verifying - New passphrase: " {
				t.Errorf("prompts %q", out.String())
			}
		})
	}
}

func TestGetInputEOF(t *testing.T) {
	r, _ := pipeReader("")
	if _, err := r.getInput("? ", "default", true, false); !errors.Is(err, io.EOF) {
		t.Errorf("err = %v, want io.EOF", err)
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func TestGetInputReadErrors(t *testing.T) {
	boom := errors.New("boom")
	r, _ := pipeReader("")
	r.in = errReader{boom}
	if _, err := r.getInput("? ", "", true, false); !errors.Is(err, boom) {
		t.Errorf("err = %v, want boom", err)
	}
	r.in = errReader{nil} // a broken reader that never makes progress
	if _, err := r.getInput("? ", "", true, false); !errors.Is(err, io.ErrNoProgress) {
		t.Errorf("err = %v, want io.ErrNoProgress", err)
	}
	r.in = strings.NewReader(strings.Repeat("x", maxLine+1) + "\n")
	if _, err := r.getInput("? ", "", true, false); err == nil {
		t.Error("an over-long line was accepted")
	}
}

// TestGetInputTerminal fakes a terminal: without echo the answer must come
// from readPassword, never from the line reader; with echo from the line
// reader (the terminal echoes it).
func TestGetInputTerminal(t *testing.T) {
	newTerm := func(input string, answers ...string) (*reader, *bytes.Buffer, *int) {
		calls := new(int)
		out := new(bytes.Buffer)
		return &reader{
			in:         strings.NewReader(input),
			out:        out,
			isTerminal: func() bool { return true },
			readPassword: func() ([]byte, error) {
				*calls++
				if len(answers) == 0 {
					return nil, io.EOF
				}
				a := answers[0]
				answers = answers[1:]
				return []byte(a), nil
			},
		}, out, calls
	}

	r, out, calls := newTerm("typed\n", "hidden")
	got, err := r.getInput("Passphrase: ", "", false, false)
	if err != nil || got != "hidden" || *calls != 1 {
		t.Errorf("no echo: got %q, %v after %d readPassword calls", got, err, *calls)
	}
	if out.String() != "Passphrase: \n" {
		t.Errorf("no echo: output %q, want the prompt and a newline", out.String())
	}

	r, _, calls = newTerm("typed\n", "hidden")
	got, err = r.getInput("Name: ", "", true, false)
	if err != nil || got != "typed" || *calls != 0 {
		t.Errorf("echo: got %q, %v after %d readPassword calls", got, err, *calls)
	}

	r, out, calls = newTerm("", "pw", "pw")
	got, err = r.getInput("New: ", "", false, true)
	if err != nil || got != "pw" || *calls != 2 {
		t.Errorf("verify: got %q, %v after %d readPassword calls", got, err, *calls)
	}
	if out.String() != "New: \nVerifying - New: \n" {
		t.Errorf("verify: output %q", out.String())
	}

	r, _, _ = newTerm("", "pw", "other")
	if _, err := r.getInput("New: ", "", false, true); !errors.Is(err, ErrMismatch) {
		t.Errorf("verify mismatch: err = %v, want ErrMismatch", err)
	}

	r, _, _ = newTerm("", "")
	if got, err := r.getInput("P: ", "dflt", false, false); err != nil || got != "dflt" {
		t.Errorf("default: got %q, %v", got, err)
	}

	r, _, _ = newTerm("")
	if _, err := r.getInput("P: ", "", false, false); !errors.Is(err, io.EOF) {
		t.Errorf("terminal EOF: err = %v, want io.EOF", err)
	}
}

// TestGetInputStdin drives the exported functions through os.Stdin and
// os.Stderr replaced by pipes.
func TestGetInputStdin(t *testing.T) {
	inR, inW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	oldIn, oldErr := os.Stdin, os.Stderr
	os.Stdin, os.Stderr = inR, outW
	t.Cleanup(func() {
		os.Stdin, os.Stderr = oldIn, oldErr
		inR.Close()
		outR.Close()
	})

	if _, err := io.WriteString(inW, "first\nsecond\nsecond\n"); err != nil {
		t.Fatal(err)
	}
	inW.Close()

	got, err := GetInput("One: ", "", false, false)
	if err != nil || got != "first" {
		t.Errorf("GetInput: got %q, %v", got, err)
	}
	got, err = AuthCallback("Passphrase for key", false, true, "/home/u/.ssh/id_ed25519")
	if err != nil || got != "second" {
		t.Errorf("AuthCallback: got %q, %v", got, err)
	}
	if _, err := AuthCallback("Passphrase", false, false, ""); !errors.Is(err, io.EOF) {
		t.Errorf("AuthCallback at end of input: err = %v, want io.EOF", err)
	}
	outW.Close()
	shown, err := io.ReadAll(outR)
	if err != nil {
		t.Fatal(err)
	}
	want := "One: " +
		"Passphrase for key (/home/u/.ssh/id_ed25519): " +
		"Verifying - Passphrase for key (/home/u/.ssh/id_ed25519): " +
		"Passphrase"
	if string(shown) != want {
		t.Errorf("prompts %q, want %q", shown, want)
	}
}
