// Package regular refuses paths that are not regular files before they
// are opened for reading: opening a FIFO waits for a writer, and reading a
// device or directory gives nothing a file format expects.
package regular

import (
	"io/fs"
	"os"
)

// Check returns nil when path is a regular file (after following
// symbolic links). Otherwise the error names the path and what it is, and
// wraps fs.ErrInvalid, or the stat error (fs.ErrNotExist for a missing
// file). It never opens the file.
func Check(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	return Mode(path, st.Mode())
}

// Mode is Check for a mode already at hand (from File.Stat after
// opening, to close the race between Check and the open).
func Mode(path string, m fs.FileMode) error {
	if m.IsRegular() {
		return nil
	}
	return &Error{Path: path, Kind: name(m)}
}

// Error reports a path that is not a regular file. It matches
// fs.ErrInvalid with errors.Is.
type Error struct {
	Path string
	Kind string // "a directory", "a named pipe (FIFO)", ...
}

// Error returns "PATH is KIND, not a regular file".
func (e *Error) Error() string { return e.Path + " is " + e.Kind + ", not a regular file" }

// Is reports whether target is fs.ErrInvalid.
func (e *Error) Is(target error) bool { return target == fs.ErrInvalid }

// name names a non-regular file type for messages.
func name(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "of type " + m.Type().String()
}
