//go:build !unix

package main

import "errors"

func isForkedChild() bool { return false }

// forkParent: -f needs a background process that outlives the terminal;
// gossh implements it on Unix only.
func (r *runner) forkParent() int {
	return r.fail(errors.New("-f (ForkAfterAuthentication) is not supported on this system"))
}

func forkReady() {}
