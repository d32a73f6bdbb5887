package sshconfig_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/libssh-go/libssh/sshconfig"
)

// writeConfig puts an example config in a temporary directory.
func writeConfig(config string) (path string, cleanup func()) {
	dir, err := os.MkdirTemp("", "sshconfig-example")
	if err != nil {
		panic(err)
	}
	path = filepath.Join(dir, "config")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		panic(err)
	}
	return path, func() { os.RemoveAll(dir) }
}

// A host alias resolves as `ssh` resolves it: the first value of each
// keyword wins, and the tokens of IdentityFile expand when it is used.
func ExampleResolve() {
	path, cleanup := writeConfig(`Host web
  HostName web.example.com
  Port 2222
  IdentityFile ~/.ssh/id_%h
Host *
  User deploy
  Port 22
  ServerAliveInterval 1m
`)
	defer cleanup()

	cfg, err := sshconfig.Resolve(context.Background(), "web", sshconfig.Input{
		ConfigFile: path, // like ssh -F
		HomeDir:    "/home/alice",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	key, _ := cfg.Tokens().ExpandPath(cfg.IdentityFiles()[0])
	fmt.Println(cfg.User(), cfg.Hostname(), cfg.Port(), key)
	fmt.Println(cfg.Duration("ServerAliveInterval"), cfg.Get("Compression"))
	// Output:
	// deploy web.example.com 2222 /home/alice/.ssh/id_web.example.com
	// 1m0s [no]
}

// Config.String prints what `ssh -G` prints: every keyword, defaults
// included, IdentityFile as written.
func ExampleConfig_String() {
	path, cleanup := writeConfig("Host db\n  User admin\n  IdentityFile ~/.ssh/db_%r\n  LocalForward 5432 localhost:5432\n")
	defer cleanup()

	cfg, err := sshconfig.Resolve(context.Background(), "db", sshconfig.Input{ConfigFile: path, HomeDir: "/home/alice"})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, line := range strings.Split(cfg.String(), "\n") {
		switch kw, _, _ := strings.Cut(line, " "); kw {
		case "host", "user", "hostname", "port", "compression", "identityfile", "localforward", "userknownhostsfile":
			fmt.Println(line)
		}
	}
	// Output:
	// host db
	// user admin
	// hostname db
	// port 22
	// compression no
	// localforward 5432 [localhost]:5432
	// identityfile ~/.ssh/db_%r
	// userknownhostsfile /home/alice/.ssh/known_hosts /home/alice/.ssh/known_hosts2
}
