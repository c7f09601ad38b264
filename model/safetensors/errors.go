package safetensors

import "errors"

// Sentinel errors, matched with errors.Is. Every returned error wraps one
// of them together with the file and tensor it concerns.
var (
	// ErrCorrupt reports a header or layout that breaks the format.
	ErrCorrupt = errors.New("corrupt safetensors file")
	// ErrNotFound reports a tensor name that the file or checkpoint lacks.
	ErrNotFound = errors.New("tensor not found")
	// ErrDType reports a tensor whose dtype cannot be converted as asked.
	ErrDType = errors.New("unsupported dtype conversion")
	// ErrClosed reports use of a File or Checkpoint after Close.
	ErrClosed = errors.New("file already closed")
	// ErrFault reports a memory fault while reading a mapped file: it was
	// truncated (or its storage failed) after Open mapped it.
	ErrFault = errors.New("fault reading the mapped file (truncated or changed while open?)")
)
