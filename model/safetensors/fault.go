package safetensors

import (
	"fmt"
	"runtime/debug"
)

// guardFault runs fn, which reads a file's mapping; when mapped, a memory
// fault (SIGBUS past the end of a file truncated after mapping) becomes an
// error naming the file and tensor instead of killing the process. Other
// panics pass through.
func guardFault(path, name string, mapped bool, fn func() error) (err error) {
	if !mapped {
		return fn()
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		if fault, ok := r.(interface{ Addr() uintptr }); ok {
			err = fmt.Errorf("safetensors: %s: tensor %q: address %#x: %w", path, name, fault.Addr(), ErrFault)
			return
		}
		panic(r)
	}()
	return fn()
}
