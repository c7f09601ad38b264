//go:build !unix

package cpu

// cpuSeconds returns 0: without getrusage the benchmarks report wall-time
// rates only.
func cpuSeconds() float64 { return 0 }
