package ssh_test

import (
	"crypto/ed25519"
	"fmt"
	"log"
	"os"
	"path/filepath"

	xssh "golang.org/x/crypto/ssh"

	"github.com/libssh-go/libssh/ssh"
)

// This example prints the fingerprints of a public key file, as
// `ssh-keygen -l -f id_ed25519.pub` and `ssh-keygen -E md5 -l -f ...` do.
func ExampleParsePublicKeyFile() {
	// A key file to read: in a real program, ~/.ssh/id_ed25519.pub.
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	seed := make([]byte, ed25519.SeedSize) // a fixed key, for a fixed output
	pub, err := xssh.NewPublicKey(ed25519.NewKeyFromSeed(seed).Public())
	if err != nil {
		log.Fatal(err)
	}
	path := filepath.Join(dir, "id_ed25519.pub")
	if err := os.WriteFile(path, xssh.MarshalAuthorizedKey(pub), 0o644); err != nil {
		log.Fatal(err)
	}

	key, err := ssh.ParsePublicKeyFile(path)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(key.Type())
	fmt.Println(key.Fingerprint())
	fmt.Println(key.FingerprintMD5())
	sha1Hex, err := key.PublicKeyHashHex(ssh.HashSHA1)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(sha1Hex)
	// Output:
	// ssh-ed25519
	// SHA256:tAXFyTXI8xtDaujAEcwJslAYc9/6FKcUkd2Lw0xDhPo
	// MD5:27:c6:3f:84:be:6f:a4:5e:eb:f9:4d:6e:bd:c8:bb:48
	// d1:3e:40:d2:e2:3e:8d:22:9d:c9:bc:70:49:24:2e:45:fc:b0:64:c6
}
