package scp

// Option configures Get and Put. The zero set of options copies one regular
// file, without times, reporting no progress.
type Option func(*config)

type config struct {
	progress  func(done, total int64)
	recursive bool
	preserve  bool
}

// Progress sets a callback that Get and Put call with the bytes of file data
// done so far and the total, as sftp.Progress does. Put knows the total
// before it starts (the sizes of every file it will send). Get learns sizes
// as the server announces them: total is the sum of the sizes announced so
// far, which for a single file is its size from the first call and for a
// tree grows file by file. Calls come from the goroutine that called Get or
// Put, one at a time, with done never decreasing; on success the last call
// reports done == total. Nil (the default) reports nothing.
func Progress(fn func(done, total int64)) Option {
	return func(c *config) { c.progress = fn }
}

// Recursive lets Get and Put copy a directory and everything below it
// (scp -r). Directories are created as needed; an existing one is merged
// into. Put follows a top-level symbolic link but leaves links inside the
// tree out, as well as devices, sockets and fifos. Without Recursive a
// directory fails with ErrIsDirectory.
func Recursive() Option {
	return func(c *config) { c.recursive = true }
}

// PreserveTimes copies modification and access times (scp -p, sent as T
// records). As with scp -p, the destination then also gets the source's
// permission bits exactly, not masked by the umask. Without it the
// destination has the time it was written, and new files get the source's
// permission bits masked by the umask of whoever creates them.
func PreserveTimes() Option {
	return func(c *config) { c.preserve = true }
}

func buildConfig(opts []Option) config {
	var c config
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	return c
}
