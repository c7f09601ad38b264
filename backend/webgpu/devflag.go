//go:build cgo && !nowebgpu

package webgpu

import (
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/ia3/ia3/backend"
)

// deviceChecks is the backend's device-side error word: kernels that find
// bad data (an id out of range, say) set their bit in it with atomicOr, and
// Sync and every download read it back and turn set bits into errors. Ops
// register a message for their bit on first use.
type deviceChecks struct {
	flag  *tensor  // I32 [4]; word 0 holds the bits
	msgs  []string // message of bit i
	bits  map[string]uint32
	dirty bool // a kernel bound the flag since the last readback
}

// errorFlag returns the device error word and the bit that reports msg for
// op. The kernel binds the word as
//
//	var<storage, read_write> flag: array<atomic<u32>>
//
// and runs atomicOr(&flag[0], bit) when it finds the condition msg
// describes. The error surfaces from the next Sync or download as
// "webgpu: <op>: <msg> (reported by the device)". At most 32 distinct
// (op, msg) pairs exist per backend.
func (b *Backend) errorFlag(op, msg string) (*tensor, uint32, error) {
	c := &b.checks
	if c.flag == nil {
		t, err := b.zeros("errorFlag", backend.I32, 4)
		if err != nil {
			return nil, 0, err
		}
		c.flag, c.bits = t, map[string]uint32{}
	}
	key := op + ": " + msg
	bit, ok := c.bits[key]
	if !ok {
		if len(c.msgs) == 32 {
			return nil, 0, fmt.Errorf("webgpu: %s: more than 32 device error kinds registered", op)
		}
		bit = 1 << len(c.msgs)
		c.bits[key] = bit
		c.msgs = append(c.msgs, key)
	}
	c.dirty = true
	return c.flag, bit, nil
}

// checkDevice reads the error word back when a kernel may have set it,
// clears it, and returns the errors it holds.
func (b *Backend) checkDevice() error {
	c := &b.checks
	if !c.dirty {
		return nil
	}
	raw, err := b.dev.Read(c.flag.buf, 0, 4)
	if err != nil {
		return fmt.Errorf("webgpu: reading the device error flag: %w", err)
	}
	c.dirty = false
	bits := binary.LittleEndian.Uint32(raw)
	if bits == 0 {
		return nil
	}
	if err := b.dev.Clear(c.flag.buf, 0, 16); err != nil {
		return fmt.Errorf("webgpu: clearing the device error flag: %w", err)
	}
	var msgs []string
	for i, m := range c.msgs {
		if bits&(1<<i) != 0 {
			msgs = append(msgs, m)
		}
	}
	return fmt.Errorf("webgpu: %s (reported by the device)", strings.Join(msgs, "; "))
}
