package knownhosts

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
	"strings"
)

const (
	// MaxFileSize bounds what one known_hosts file may hold. Real files
	// are kilobytes; the bound keeps a wrong path (a sparse or huge file)
	// from costing time and memory.
	MaxFileSize = 64 << 20
	// MaxLineLength bounds a line, without its line ending; longer lines
	// are skipped. The longest real line, a 16384-bit RSA key with a long
	// hashed name, stays under 3 KiB.
	MaxLineLength = 64 << 10
	// maxReported bounds the skipped lines a DB keeps to report.
	maxReported = 100
)

// DB is a known_hosts database: the contents of one or more files, in
// order, as OpenSSH reads UserKnownHostsFile then GlobalKnownHostsFile.
// A DB keeps the text of its files (at most MaxFileSize each) and decodes
// the key of a line only when a lookup's name matches it, so a large file
// of other hosts costs little memory and time.
//
// A DB is immutable once built and safe for concurrent use. The zero value
// and a nil *DB hold no file: every lookup says NotFound.
type DB struct {
	files   []dbFile
	skipped []*LineError // the first maxReported lines skipped
	nSkip   int
}

type dbFile struct {
	name string
	data string
}

// Load reads the known_hosts files at paths, in order. A path that does
// not exist is left out (a DB of only missing files says NotFound);
// os.DevNull counts as an existing empty file, since
// "UserKnownHostsFile /dev/null" is a common way to say "none". A path is
// checked with stat before it is opened, so a FIFO (whose open would block)
// or a device is refused without reading from it.
//
// Malformed lines, and lines longer than MaxLineLength, are skipped and
// listed by Skipped; they never fail the load. Load fails, with an error
// wrapping ErrFile and the cause, when a file exists but cannot be used:
// unreadable, not a regular file, or larger than MaxFileSize.
func Load(paths ...string) (*DB, error) {
	db := &DB{}
	for _, path := range paths {
		data, exists, err := readFile(path)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrFile, path, err)
		}
		if exists {
			db.add(path, data)
		}
	}
	return db, nil
}

// Read returns a DB of one file read from r, named name in the entries'
// File and in errors. It fails with an error wrapping ErrFile when r gives
// more than MaxFileSize bytes or fails.
func Read(r io.Reader, name string) (*DB, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err == nil && len(data) > MaxFileSize {
		err = errors.New("larger than 64 MiB")
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrFile, name, err)
	}
	db := &DB{}
	db.add(name, string(data))
	return db, nil
}

func readFile(path string) (data string, exists bool, err error) {
	if filepath.Clean(path) == os.DevNull {
		return "", true, nil
	}
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", true, err
	}
	if err := checkFileInfo(fi); err != nil {
		return "", true, err
	}
	f, err := os.Open(path)
	if err != nil {
		return "", true, err
	}
	defer f.Close()
	// The path may have been replaced since the Stat; check what was opened.
	if fi, err = f.Stat(); err != nil {
		return "", true, err
	}
	if err := checkFileInfo(fi); err != nil {
		return "", true, err
	}
	var b bytes.Buffer
	b.Grow(int(fi.Size()) + 1)
	if _, err := b.ReadFrom(io.LimitReader(f, MaxFileSize+1)); err != nil {
		return "", true, err
	}
	if b.Len() > MaxFileSize {
		return "", true, errors.New("file grew beyond 64 MiB while being read")
	}
	return b.String(), true, nil
}

func checkFileInfo(fi fs.FileInfo) error {
	switch {
	case fi.IsDir():
		return errors.New("is a directory")
	case !fi.Mode().IsRegular():
		return fmt.Errorf("not a regular file (%s)", fi.Mode().Type())
	case fi.Size() > MaxFileSize:
		return fmt.Errorf("file of %d bytes is larger than 64 MiB", fi.Size())
	}
	return nil
}

// add appends a file and notes the lines that will never be read.
func (db *DB) add(name, data string) {
	f := dbFile{name: name, data: data}
	db.files = append(db.files, f)
	f.lines(func(line int, text string, tooLong bool) bool {
		var err error
		if tooLong {
			err = fmt.Errorf("%w: longer than 64 KiB", ErrInvalidLine)
		} else {
			_, _, _, err = splitLine(text)
		}
		if err != nil {
			db.skip(&LineError{File: name, Line: line, Err: err})
		}
		return true
	})
}

func (db *DB) skip(e *LineError) {
	db.nSkip++
	if len(db.skipped) < maxReported {
		db.skipped = append(db.skipped, e)
	}
}

// lines calls fn for every line that is not blank or a comment, with its
// 1-based number and its text without the line ending, until fn returns
// false. A line longer than MaxLineLength is given as tooLong, without text.
func (f dbFile) lines(fn func(line int, text string, tooLong bool) bool) {
	data := f.data
	for n := 1; data != ""; n++ {
		text, rest, _ := strings.Cut(data, "\n")
		data = rest
		text = strings.TrimSuffix(text, "\r")
		if len(text) > MaxLineLength {
			if !fn(n, "", true) {
				return
			}
			continue
		}
		if t := strings.TrimLeft(text, " \t"); t == "" || t[0] == '#' {
			continue
		}
		if !fn(n, text, false) {
			return
		}
	}
}

// Files returns the names of the files the DB holds, in order: those that
// existed when Load ran, or Read's name.
func (db *DB) Files() []string {
	if db == nil {
		return nil
	}
	names := make([]string, len(db.files))
	for i, f := range db.files {
		names[i] = f.name
	}
	return names
}

// Skipped returns the lines that Load or Read found malformed or too long,
// in file order, and how many there were in all; at most the first 100 are
// returned. Lookups never use them. Lines whose key does not parse are
// found only by the lookups that match them (Result.Skipped) or by All.
func (db *DB) Skipped() ([]*LineError, int) {
	if db == nil {
		return nil, 0
	}
	return db.skipped, db.nSkip
}

// All yields every entry of the DB in file order, with its key decoded
// and its File and Line set, or, for a line that cannot be used, a
// *LineError and an Entry with only File and Line set.
func (db *DB) All() iter.Seq2[Entry, error] {
	return func(yield func(Entry, error) bool) {
		if db == nil {
			return
		}
		for _, f := range db.files {
			stop := false
			f.lines(func(line int, text string, tooLong bool) bool {
				e, err := parseAt(f.name, line, text, tooLong)
				stop = !yield(e, err)
				return !stop
			})
			if stop {
				return
			}
		}
	}
}

func parseAt(file string, line int, text string, tooLong bool) (Entry, error) {
	if tooLong {
		return Entry{File: file, Line: line}, &LineError{File: file, Line: line, Err: fmt.Errorf("%w: longer than 64 KiB", ErrInvalidLine)}
	}
	e, err := ParseLine(text)
	e.File, e.Line = file, line
	if err != nil {
		return Entry{File: file, Line: line}, &LineError{File: file, Line: line, Err: err}
	}
	return e, nil
}

// matching returns the entries whose host field matches name, with their
// keys decoded, in file order, and the matching lines whose key does not
// parse.
func (db *DB) matching(name string) (entries []Entry, skipped []*LineError) {
	if db == nil {
		return nil, nil
	}
	lower := asciiLower(name)
	for _, f := range db.files {
		f.lines(func(line int, text string, tooLong bool) bool {
			if tooLong {
				return true
			}
			e, keyType, blob, err := splitLine(text)
			if err != nil || !e.Match(lower) {
				return true
			}
			if err := e.decodeKey(keyType, blob); err != nil {
				skipped = append(skipped, &LineError{File: f.name, Line: line, Err: err})
				return true
			}
			e.File, e.Line = f.name, line
			entries = append(entries, e)
			return true
		})
	}
	return entries, skipped
}
