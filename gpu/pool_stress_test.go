//go:build cgo && !nowebgpu

package gpu

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestPoolReuseStress mixes allocations, writes, dispatches, frees (of
// buffers the current batch, a submitted batch or nothing uses), flushes
// without waiting and reads, in a seeded random order, and checks every
// buffer's contents: a freed buffer handed out again while recorded or
// submitted work still used it would show up as a wrong value, and one
// destroyed under recorded work as a failed submission.
// With the pool's cache cut to the peak working set ("tight"), hundreds of
// freed buffers are also destroyed while submitted work may still use them.
func TestPoolReuseStress(t *testing.T) {
	for _, tight := range []bool{false, true} {
		t.Run(map[bool]string{false: "cached", true: "tight"}[tight], func(t *testing.T) {
			d := openDevice(t)
			if tight {
				d.pool.minIdle = 0
			}
			stressPool(t, d)
		})
	}
}

func stressPool(t *testing.T, d *Device) {
	p, err := d.Pipeline("add.wgsl", "add_one", func() (string, error) { return addOneShader, nil }, true, 2)
	require.NoError(t, err)
	type held struct {
		buf  *Buffer
		want []uint32
	}
	var live []held
	rng := rand.New(rand.NewPCG(11, 2))
	check := func(h held) {
		got, err := d.Read(h.buf, 0, 4*uint64(len(h.want)))
		require.NoError(t, err)
		for i, w := range h.want {
			require.Equal(t, w, binary.LittleEndian.Uint32(got[4*i:]), "word %d of %d", i, len(h.want))
		}
	}
	take := func() held { // removes a random live buffer from the list
		i := rng.IntN(len(live))
		h := live[i]
		live[i] = live[len(live)-1]
		live = live[:len(live)-1]
		return h
	}
	const steps = 1500
	for range steps {
		switch op := rng.IntN(11); {
		case op < 3 || len(live) == 0: // a new buffer with random contents
			n := 1 + rng.IntN(2048)
			want := make([]uint32, n)
			for i := range want {
				want[i] = rng.Uint32()
			}
			b, err := d.Alloc(4 * uint64(n))
			require.NoError(t, err)
			require.NoError(t, d.Write(b, 0, words(want...)))
			live = append(live, held{b, want})
		case op < 7: // out = x + 1, x freed at once half of the time
			x := live[rng.IntN(len(live))]
			n := len(x.want)
			out, err := d.Alloc(4 * uint64(n))
			require.NoError(t, err)
			groups := [3]uint32{uint32((n + 63) / 64), 1, 1}
			require.NoError(t, d.Dispatch(p, words(uint32(n)), groups, []Binding{{Buf: out}, {Buf: x.buf}}))
			want := make([]uint32, n)
			for i, v := range x.want {
				want[i] = v + 1
			}
			if rng.IntN(2) == 0 {
				for i, h := range live {
					if h.buf == x.buf {
						live = append(live[:i], live[i+1:]...)
						break
					}
				}
				d.Free(x.buf)
			}
			live = append(live, held{out, want})
		case op < 8: // new contents for a buffer recorded work may still read
			h := live[rng.IntN(len(live))]
			for i := range h.want {
				h.want[i] = rng.Uint32()
			}
			require.NoError(t, d.Write(h.buf, 0, words(h.want...)))
		case op < 9 && len(live) > 8:
			d.Free(take().buf)
		case op < 10: // submit without waiting
			require.NoError(t, d.Flush())
		default:
			check(live[rng.IntN(len(live))])
		}
	}
	for _, h := range live {
		check(h)
		d.Free(h.buf)
	}
	require.NoError(t, d.Sync())
}
