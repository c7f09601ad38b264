// Package sysmem reports how much memory this machine (or the container
// it runs in) has, for refusing runs that cannot fit before they allocate.
package sysmem

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Files read on Linux.
const (
	meminfoPath  = "/proc/meminfo"
	cgroupV2Path = "/sys/fs/cgroup/memory.max"
	cgroupV1Path = "/sys/fs/cgroup/memory/memory.limit_in_bytes"
)

// Total returns the bytes of memory this process may use and where the
// figure comes from. On Linux it is MemTotal from /proc/meminfo, lowered
// to the cgroup's limit when one is set; on macOS and the BSDs the
// physical memory sysctl reports. It returns 0 and "unknown" where none
// can be read: callers then skip the check.
func Total() (uint64, string) {
	if n, source := total(meminfoPath, cgroupV2Path, cgroupV1Path); n > 0 {
		return n, source
	}
	return physical()
}

// total is Total reading the given files.
func total(meminfo string, cgroups ...string) (uint64, string) {
	n, err := memTotal(meminfo)
	source := "MemTotal in " + meminfo
	if err != nil {
		n, source = 0, "unknown"
	}
	for _, path := range cgroups {
		if lim, ok := cgroupLimit(path); ok && (n == 0 || lim < n) {
			n, source = lim, "cgroup limit in "+path
		}
	}
	return n, source
}

// memTotal reads the MemTotal line of a meminfo file, in bytes.
func memTotal(path string) (uint64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) != 2 || fields[1] != "kB" {
			return 0, fmt.Errorf("%s: MemTotal line %q is not \"N kB\"", path, sc.Text())
		}
		kb, err := strconv.ParseUint(fields[0], 10, 64)
		if err != nil || kb == 0 || kb > 1<<50 {
			return 0, fmt.Errorf("%s: MemTotal %q is not a size", path, fields[0])
		}
		return kb << 10, nil
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("%s has no MemTotal line", path)
}

// cgroupLimit reads a cgroup memory limit: a byte count, or "max" (v2) or
// a value near 2⁶³ (v1) for no limit, which report false.
func cgroupLimit(path string) (uint64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || n == 0 || n >= 1<<62 {
		return 0, false
	}
	return n, true
}
