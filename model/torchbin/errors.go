package torchbin

import "errors"

// Sentinel errors, matched with errors.Is. Returned errors wrap one of
// them (or one of safetensors' ErrNotFound, ErrDType, ErrClosed for the
// accessors) together with the file and tensor concerned.
var (
	// ErrForbidden reports a pickle that names a global outside the few
	// that rebuild tensors: loading it with Python's pickle would have
	// called that global.
	ErrForbidden = errors.New("global refused by the restricted unpickler")
	// ErrCorrupt reports an archive or pickle that breaks the format, or
	// a tensor that does not fit its storage.
	ErrCorrupt = errors.New("corrupt torch checkpoint")
	// ErrUnsupported reports a valid file using something this reader
	// does not handle (big-endian data, an opcode torch does not emit).
	ErrUnsupported = errors.New("unsupported torch checkpoint")
	// ErrLegacy reports torch's pre-1.6 format, which is not a zip.
	ErrLegacy = errors.New("legacy torch.save format (before torch 1.6) is not supported; re-save it with torch>=1.6 or convert it to safetensors")
)
