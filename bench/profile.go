package bench

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/ia3/ia3/backend"
)

// OpProfile accumulates the wall time a backend spends in each operation,
// keyed by the operation's name (and, for Linear and MatMul, its shape
// class). Like the backend it measures, it is used by one goroutine at a
// time.
type OpProfile struct {
	ops map[string]*opTotal
}

// opTotal is one operation's running count and time.
type opTotal struct {
	calls int
	total time.Duration
}

// OpStat is one row of a profile: an operation, how often it ran, and the
// time it took, in total, per call and as a share of the profiled total.
type OpStat struct {
	Op      string  `json:"op"`
	Calls   int     `json:"calls"`
	TotalMS float64 `json:"total_ms"`
	MeanMS  float64 `json:"mean_ms"`
	Percent float64 `json:"percent"`
}

// add records one call of op that took d.
func (p *OpProfile) add(op string, d time.Duration) {
	t := p.ops[op]
	if t == nil {
		t = &opTotal{}
		p.ops[op] = t
	}
	t.calls++
	t.total += d
}

// Reset forgets everything recorded so far, so that warm-up (pipeline
// compilation, pool growth) does not count.
func (p *OpProfile) Reset() { clear(p.ops) }

// Total returns the time of every recorded operation together.
func (p *OpProfile) Total() time.Duration {
	var sum time.Duration
	for _, t := range p.ops {
		sum += t.total
	}
	return sum
}

// Stats returns one row per operation, the most expensive first (ties by
// name, so the order is stable).
func (p *OpProfile) Stats() []OpStat {
	total := p.Total()
	rows := make([]OpStat, 0, len(p.ops))
	for op, t := range p.ops {
		r := OpStat{Op: op, Calls: t.calls, TotalMS: ms(t.total), MeanMS: ms(t.total) / float64(t.calls)}
		if total > 0 {
			r.Percent = 100 * float64(t.total) / float64(total)
		}
		rows = append(rows, r)
	}
	slices.SortFunc(rows, func(a, b OpStat) int {
		return cmp.Or(cmp.Compare(b.TotalMS, a.TotalMS), cmp.Compare(a.Op, b.Op))
	})
	return rows
}

// WriteTable prints Stats as an aligned table: op, calls, total ms, mean
// ms and percent of the profiled total.
func (p *OpProfile) WriteTable(w io.Writer) error {
	rows := p.Stats()
	width := len("total")
	for _, r := range rows {
		width = max(width, utf8.RuneCountInString(r.Op))
	}
	// Numbers align right; the op column is padded here to read left.
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%-*s\tcalls\ttotal ms\tmean ms\t%%\t\n", width, "op")
	for _, r := range rows {
		fmt.Fprintf(tw, "%-*s\t%d\t%.2f\t%.4f\t%.1f\t\n", width, r.Op, r.Calls, r.TotalMS, r.MeanMS, r.Percent)
	}
	fmt.Fprintf(tw, "%-*s\t\t%.2f\t\t100.0\t\n", width, "total", ms(p.Total()))
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("bench: write the profile table: %w", err)
	}
	return nil
}

// ms converts a duration to milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// linearClass names a Linear call by its shape: rows×in→out, with the
// weight's dtype when it is not F32. It reads the result, so it is only
// called after the call succeeded (the shapes are then valid).
func linearClass(x, w, y backend.Tensor) string {
	s := y.Shape()
	out := s[len(s)-1]
	name := fmt.Sprintf("Linear %d×%d→%d", y.Len()/out, x.Shape()[len(x.Shape())-1], out)
	if w.DType() != backend.F32 {
		name += " " + w.DType().String()
	}
	return name
}

// matMulClass names a MatMul call batch×(M×K→N), marking transposed
// operands, from a successful call's operand and result.
func matMulClass(a, y backend.Tensor, o backend.MatMulOptions) string {
	sa, sy := a.Shape(), y.Shape()
	m, n := sy[len(sy)-2], sy[len(sy)-1]
	k := sa[len(sa)-1]
	if o.TransA {
		k = sa[len(sa)-2]
	}
	name := fmt.Sprintf("MatMul %d×(%d×%d→%d)", y.Len()/(m*n), m, k, n)
	if o.TransA {
		name += " Aᵀ"
	}
	if o.TransB {
		name += " Bᵀ"
	}
	return name
}
