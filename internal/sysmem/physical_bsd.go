//go:build darwin || freebsd || netbsd || openbsd || dragonfly

package sysmem

import "golang.org/x/sys/unix"

// physical returns the machine's physical memory from sysctl.
func physical() (uint64, string) {
	for _, name := range []string{"hw.memsize", "hw.physmem64", "hw.physmem"} {
		if n, err := unix.SysctlUint64(name); err == nil && n > 0 {
			return n, "sysctl " + name
		}
	}
	return 0, "unknown"
}
