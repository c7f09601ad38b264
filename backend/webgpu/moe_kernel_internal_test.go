//go:build cgo && !nowebgpu

package webgpu

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestExpertKernelPick checks the auto choice by slot count, experts,
// direction, row lengths and adapter type, and that a forced dot runs the
// backward with the simple kernel.
func TestExpertKernelPick(t *testing.T) {
	gpu, cpu := "DiscreteGPU", "CPU"
	for _, c := range []struct {
		k       expertKernel
		sh      expertShape
		adapter string
		want    expertKernel
	}{
		{expertAuto, expertShape{512, 8, 1024, 2048, false}, gpu, expertTiled},      // 64 slots per expert
		{expertAuto, expertShape{8192, 8, 4096, 14336, false}, gpu, expertTiled128}, // Mixtral prefill
		{expertAuto, expertShape{8192, 8, 14336, 4096, true}, gpu, expertTiled128},  // its backward
		{expertAuto, expertShape{8192, 8, 4096, 14336, false}, cpu, expertTiled},    // software: 64×64
		{expertAuto, expertShape{1024, 8, 4096, 14336, false}, gpu, expertTiled128}, // 128 per expert, 112 tiles
		{expertAuto, expertShape{1024, 8, 4096, 4096, false}, gpu, expertTiled},     // 32 tiles per expert
		{expertAuto, expertShape{1024, 8, 4096, 127, false}, gpu, expertTiled},      // outputs under a tile
		{expertAuto, expertShape{32, 8, 16, 16, true}, cpu, expertTiled},
		{expertAuto, expertShape{31, 8, 1024, 1024, false}, gpu, expertSimple},
		{expertAuto, expertShape{2, 8, 1024, 1024, false}, gpu, expertDot},
		{expertAuto, expertShape{8, 8, 256, 1024, false}, "IntegratedGPU", expertDot},
		{expertAuto, expertShape{9, 8, 1024, 1024, false}, gpu, expertSimple},
		{expertAuto, expertShape{2, 8, 255, 1024, false}, gpu, expertSimple},
		{expertAuto, expertShape{2, 8, 1024, 1024, true}, gpu, expertSimple},
		{expertAuto, expertShape{2, 8, 1024, 1024, false}, cpu, expertSimple},
		{expertDot, expertShape{512, 8, 1024, 1024, false}, cpu, expertDot},
		{expertDot, expertShape{2, 8, 1024, 1024, true}, gpu, expertSimple},
		{expertTiled, expertShape{1, 1, 1, 1, false}, cpu, expertTiled},
		{expertTiled128, expertShape{1, 1, 1, 1, true}, cpu, expertTiled128},
		{expertSimple, expertShape{8192, 8, 4096, 4096, false}, gpu, expertSimple},
	} {
		got := c.k.pick(c.sh, c.adapter)
		assert.Equal(t, c.want, got, "%s: %+v on %s", c.k, c.sh, c.adapter)
	}
}
