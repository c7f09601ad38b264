package sysmem

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestTotal reads MemTotal, lowers it to a cgroup limit, ignores "max" and
// v1's "no limit", and reports 0 when nothing is readable.
func TestTotal(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	meminfo := write("meminfo", "MemFree:  100 kB\nMemTotal:       16384000 kB\nMemAvailable: 200 kB\n")
	small := write("small", "1073741824\n")
	unlimited := write("max", "max\n")
	v1none := write("v1", "9223372036854771712\n")
	missing := filepath.Join(dir, "missing")

	for _, tc := range []struct {
		name    string
		meminfo string
		cgroups []string
		want    uint64
		source  string
	}{
		{"meminfo", meminfo, []string{unlimited, v1none, missing}, 16384000 << 10, "MemTotal in " + meminfo},
		{"cgroup lower", meminfo, []string{small}, 1 << 30, "cgroup limit in " + small},
		{"cgroup only", missing, []string{small}, 1 << 30, "cgroup limit in " + small},
		{"nothing", missing, []string{missing}, 0, "unknown"},
		{"bad meminfo", write("bad", "MemTotal: lots\n"), nil, 0, "unknown"},
		{"no MemTotal", write("none", "MemFree: 1 kB\n"), nil, 0, "unknown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, source := total(tc.meminfo, tc.cgroups...)
			assert.Equal(t, tc.want, n)
			assert.Equal(t, tc.source, source)
		})
	}
	n, _ := Total()
	if _, err := os.Stat(meminfoPath); err == nil {
		assert.Greater(t, n, uint64(1<<20), "this machine's memory")
	}
}
