package sftp

import (
	"io/fs"
	"syscall"
	"time"
)

// accessTime returns a local file's access time, for PreserveTimes.
func accessTime(fi fs.FileInfo) time.Time {
	if d, ok := fi.Sys().(*syscall.Win32FileAttributeData); ok {
		return time.Unix(0, d.LastAccessTime.Nanoseconds())
	}
	return fi.ModTime()
}
