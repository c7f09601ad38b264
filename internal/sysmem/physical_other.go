//go:build !(darwin || freebsd || netbsd || openbsd || dragonfly)

package sysmem

// physical reports nothing where /proc/meminfo was the only source
// (Linux) or none is read (Windows and others).
func physical() (uint64, string) { return 0, "unknown" }
