package sshconfig

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"
)

// FuzzConfigParse feeds arbitrary files to Resolve: it must never panic,
// hang or run a command, whatever the input. Match exec is stubbed through
// Input.Exec (commands would run on the fuzzing machine); the exec
// criterion itself is still parsed and its tokens expanded.
func FuzzConfigParse(f *testing.F) {
	for _, seed := range []string{
		"Host a\n  Port 2222\n",
		"Match final all\n  User u\n",
		"Match host a,!b originalhost x user y localuser z exec \"true %h\" tagged t\n  Port 1\n",
		"Include /nonexistent/*.conf\n",
		"Host *\n  IdentityFile ~/.ssh/%h_%r_%p\n  UserKnownHostsFile ${HOME}/kh %C\n",
		"ProxyJump u@[::1]:22,ssh://h:2\nProxyCommand nc %h %p\n",
		"LocalForward [::1]:80 /tmp/s\nRemoteForward 0\nDynamicForward *:1080\n",
		"Ciphers +aes128-cbc\nMACs -hmac-sha1\nKexAlgorithms ^curve25519-sha256\n",
		"RekeyLimit 1.5G 1h30m\nConnectTimeout none\nServerAliveInterval 1w\n",
		"Port = \"22\"\nUser 'a b'\n\"Port\" 1\nHost=\"x\n",
		"CanonicalizeHostname yes\nMatch canonical !final\n  Port 3\n",
		"IgnoreUnknown *\nWhatever x\n",
		"Tag t\nMatch localnetwork 127.0.0.0/8 tagged t\n  SetEnv A=1 A=2\n",
		"EscapeChar ^A\nIPQoS af21 0x10\nAddKeysToAgent confirm 5m\nControlPersist 10m\nTunnelDevice 1:any\n",
		"StreamLocalBindMask 022\nPermitRemoteOpen a:1 b:2\nCanonicalizePermittedCNAMEs *.a:*.b\nControlPath ~/%C\n",
	} {
		f.Add(seed, "host")
	}
	f.Fuzz(func(t *testing.T, config, host string) {
		if host == "" || len(host) > 255 {
			return
		}
		dir := t.TempDir()
		path := filepath.Join(dir, "config")
		if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := Resolve(context.Background(), host, Input{
			ConfigFile: path, SSHDir: dir,
			Exec:       func(_ context.Context, cmd string) (bool, error) { return len(cmd)%2 == 0, nil },
			LocalAddrs: func() ([]net.IP, error) { return []net.IP{net.IPv4(127, 0, 0, 1)}, nil },
		})
		if err != nil {
			return
		}
		_ = cfg.String()
	})
}
