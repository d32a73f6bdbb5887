package knownhosts_test

import (
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/libssh-go/libssh/knownhosts"
	"golang.org/x/crypto/ssh"
)

const exampleKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICtpNxbjaQ8JxWv0A8Ddq5K1uk+WpQ/qWMrWF9rV9Uj9"

func ExampleParseLine() {
	e, err := knownhosts.ParseLine("[git.example.com]:2222,!old.example.com " + exampleKey + " deploy key")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(e.Hosts, e.Key.Type(), e.Comment)
	fmt.Println(e.Match(knownhosts.HostName("git.example.com", 2222)))
	fmt.Println(e.Match(knownhosts.HostName("git.example.com", 22)))
	// Output:
	// [[git.example.com]:2222 !old.example.com] ssh-ed25519 deploy key
	// true
	// false
}

func ExampleDB_Lookup() {
	// Load(path, ...) reads files; Read takes any io.Reader.
	db, err := knownhosts.Read(strings.NewReader(
		"# ~/.ssh/known_hosts\n"+
			"*.example.com,!test.example.com "+exampleKey+"\n"), "known_hosts")
	if err != nil {
		log.Fatal(err)
	}
	key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(exampleKey))
	if err != nil {
		log.Fatal(err)
	}
	for _, host := range []string{"www.example.com", "test.example.com"} {
		res, err := db.Lookup(host, 22, key)
		if err != nil { // revoked key or invalid host certificate
			log.Fatal(err)
		}
		fmt.Print(host, ": ", res.State)
		if res.Entry != nil {
			fmt.Printf(" (%s:%d)", res.Entry.File, res.Entry.Line)
		}
		fmt.Println()
	}
	// Output:
	// www.example.com: ok (known_hosts:2)
	// test.example.com: unknown
}

// A plain golang.org/x/crypto/ssh client checking the user's known_hosts,
// with the host key algorithms ordered so that the server shows a key type
// the file holds.
func ExampleHostKeyCallback() {
	home, _ := os.UserHomeDir()
	db, err := knownhosts.Load(filepath.Join(home, ".ssh", "known_hosts"), "/etc/ssh/ssh_known_hosts")
	if err != nil {
		log.Fatal(err) // a file exists but cannot be read: fail closed
	}
	config := &ssh.ClientConfig{
		User:              "alice",
		Auth:              []ssh.AuthMethod{ssh.Password("secret")},
		HostKeyCallback:   db.HostKeyCallback(),
		HostKeyAlgorithms: db.HostKeyAlgorithms("server.example.com", []string{ssh.KeyAlgoED25519, ssh.KeyAlgoECDSA256, ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256}),
	}
	client, err := ssh.Dial("tcp", "server.example.com:22", config)
	var ke *knownhosts.KeyError
	switch {
	case errors.As(err, &ke) && errors.Is(err, knownhosts.ErrKeyChanged):
		fmt.Printf("WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED! Offending key in %s:%d\n", ke.Entry.File, ke.Entry.Line)
		return
	case errors.As(err, &ke):
		fmt.Printf("host key of %s refused: %v\n", ke.Host, ke.State)
		return
	case err != nil:
		fmt.Println(err)
		return
	}
	defer client.Close()
}

// Recording a new host key, hashed as with HashKnownHosts yes, after
// checking that the files do not revoke it.
func ExampleAppend() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, ".ssh", "known_hosts") // created with mode 0600, its directory 0700
	key, _, _, _, _ := ssh.ParseAuthorizedKey([]byte(exampleKey))

	db, err := knownhosts.Load(path)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := db.Lookup("new.example.com", 2222, key); errors.Is(err, knownhosts.ErrRevoked) {
		log.Fatal(err)
	}
	if err := knownhosts.Append(path, []string{knownhosts.HostName("new.example.com", 2222)}, key, true); err != nil {
		log.Fatal(err)
	}
	// A host name that would inject a line is refused.
	err = knownhosts.Append(path, []string{"evil.example.com\n* " + exampleKey}, key, false)
	fmt.Println(errors.Is(err, knownhosts.ErrInvalidLine))

	db, _ = knownhosts.Load(path)
	res, _ := db.Lookup("new.example.com", 2222, key)
	fmt.Println(res.State, res.Entry.Hashed(), res.Entry.Line)
	// Output:
	// true
	// ok true 1
}
