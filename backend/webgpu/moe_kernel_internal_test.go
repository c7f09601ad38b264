//go:build cgo && !nowebgpu

package webgpu

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestExpertKernelPick checks the auto choice by slot count, direction,
// row length and adapter type, and that a forced dot runs the backward
// with the simple kernel.
func TestExpertKernelPick(t *testing.T) {
	for _, c := range []struct {
		k        expertKernel
		slots    int
		din      int
		backward bool
		adapter  string
		want     expertKernel
	}{
		{expertAuto, 512, 1024, false, "DiscreteGPU", expertTiled},
		{expertAuto, 32, 16, true, "CPU", expertTiled},
		{expertAuto, 31, 1024, false, "DiscreteGPU", expertSimple},
		{expertAuto, 2, 1024, false, "DiscreteGPU", expertDot},
		{expertAuto, 8, 256, false, "IntegratedGPU", expertDot},
		{expertAuto, 9, 1024, false, "DiscreteGPU", expertSimple},
		{expertAuto, 2, 255, false, "DiscreteGPU", expertSimple},
		{expertAuto, 2, 1024, true, "DiscreteGPU", expertSimple},
		{expertAuto, 2, 1024, false, "CPU", expertSimple},
		{expertDot, 512, 1024, false, "CPU", expertDot},
		{expertDot, 2, 1024, true, "DiscreteGPU", expertSimple},
		{expertTiled, 1, 1, false, "CPU", expertTiled},
		{expertSimple, 4096, 4096, false, "DiscreteGPU", expertSimple},
	} {
		got := c.k.pick(c.slots, c.din, c.backward, c.adapter)
		assert.Equal(t, c.want, got, "%s: %d slots, din %d, backward %v, %s", c.k, c.slots, c.din, c.backward, c.adapter)
	}
}
