package sftp

import (
	"io/fs"
	"syscall"
	"time"
)

// accessTime returns a local file's access time, for PreserveTimes.
func accessTime(fi fs.FileInfo) time.Time {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return time.Unix(st.Atimespec.Sec, st.Atimespec.Nsec)
	}
	return fi.ModTime()
}
