package ssh

import (
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/libssh-go/libssh/internal/interop"
)

// The truncation tests against OpenSSH's sshd: `head -c` downloads of
// 64 MiB and a forwarded connection carrying as much, cut by the relay
// after 1 MiB.
func TestInteropTruncatedDownloadIsAnError(t *testing.T) {
	env := interop.Start(t, interop.Options{NoAgent: true})
	runTruncation(t, func(t *testing.T) truncTarget {
		return truncTarget{
			connect: func(t *testing.T, port int, opts ...Option) *Session {
				s := interopSession(t, env, append([]Option{Port(port)}, opts...)...)
				if st, err := s.UserauthPassword(testCtx(t), "", env.Password); st != AuthSuccess {
					t.Fatalf("login: %v, %v", st, err)
				}
				return s
			},
			addr:          env.Addr,
			stdoutCmd:     fmt.Sprintf("head -c %d /dev/zero", truncTotal),
			stderrCmd:     fmt.Sprintf("head -c %d /dev/zero >&2", truncTotal),
			want:          zeroByte,
			forwardTarget: zeroListener(t, truncTotal),
		}
	}, truncPaths)
}

// zeroListener serves n zero bytes to every connection.
func zeroListener(t *testing.T, n int64) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveConns(t, ln, func(c net.Conn) {
		_, _ = io.Copy(c, io.LimitReader(zeroReader{}, n))
	})
	return ln.Addr().String()
}

type zeroReader struct{}

func (zeroReader) Read(b []byte) (int, error) {
	clear(b)
	return len(b), nil
}

func zeroByte(int64) byte { return 0 }
