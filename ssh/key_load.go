package ssh

import (
	"context"
	"fmt"
)

// Reading key files during authentication.
//
// A key file can cost seconds of CPU within the limits ParsePrivateKeyFile
// documents: up to about 20 s of bcrypt for an encrypted OpenSSH key, about
// 1.5 s for the largest RSA key without CRT values. A Userauth call must
// not wait past its ctx for that, and what it started must not outlive
// Disconnect. So each key is read on a goroutine that the connection tracks
// (Disconnect waits for it, as for every goroutine of the session) while
// the caller waits for the result, its ctx, or the end of the connection.
// When the caller stops waiting, the read's own ctx is cancelled: the key
// derivations (bcrypt_pbkdf, PBKDF2) stop within one round, about 10 ms;
// the RSA precomputation of crypto/x509, which nothing can interrupt, runs
// to its end, at most the 1.5 s above, and Disconnect waits that long at
// most. An interrupted read is not resumed: the next call reads the file
// again.

// loadKey runs load on a goroutine Disconnect waits for and returns its
// result, or returns early with the ctx's error when ctx ends, or with
// ErrNotConnected when the connection ends. load's ctx is cancelled as soon
// as loadKey returns. what names the file in errors.
func loadKey[T any](ctx context.Context, c *conn, what string, load func(context.Context) (T, error)) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, keyLoadInterrupted(what, err)
	}
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		v   T
		err error
	}
	res := make(chan result, 1) // the goroutine never blocks on an abandoned result
	if !c.goTracked(func() {
		v, err := load(lctx)
		res <- result{v, err}
	}) {
		return zero, fmt.Errorf("%w: %w", ErrNotConnected, c.closedErr())
	}
	select {
	case r := <-res:
		if err := ctx.Err(); err != nil && r.err != nil {
			// The read failed because it was interrupted, or anyway too
			// late: report the ctx, as the other Userauth waits do.
			return zero, keyLoadInterrupted(what, err)
		}
		return r.v, r.err
	case <-ctx.Done():
		select {
		case r := <-res:
			if r.err == nil {
				return r.v, nil // a read that made it wins over a done ctx
			}
		default:
		}
		return zero, keyLoadInterrupted(what, ctx.Err())
	case <-c.done:
		return zero, fmt.Errorf("%w: %w", ErrNotConnected, c.closedErr())
	}
}

func keyLoadInterrupted(what string, err error) error {
	return fmt.Errorf("ssh: authentication: reading %s: %w", what, err)
}
