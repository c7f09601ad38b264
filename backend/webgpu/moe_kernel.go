//go:build cgo && !nowebgpu

package webgpu

import (
	"fmt"
	"os"
	"strings"
)

// ExpertKernelEnv names the environment variable that picks ExpertLinear's
// kernel, read once when a backend opens:
//
//   - "simple": moe.wgsl's expert_linear, one thread per output element
//     with a plain loop over the input features, a dispatch per expert
//     over every slot (threads of other experts' slots return): the
//     first kernel, kept as the reference variant and for few slots;
//   - "dot": expert_dot, a workgroup of 64 threads per output reading the
//     weight row contiguously (forward only; the backward runs simple);
//   - "tiled": expert_route lists each expert's slots on the device, then
//     expert_tiled runs 64×64 output tiles over each expert's list, the
//     gathered x rows and the weight rows staged in workgroup memory;
//   - "tiled128": the same with expert_large's 128×128 tiles (8×8 outputs
//     per thread), matmul_large's scheme, for experts with many slots;
//   - unset or "auto": tiled from expertTiledMinSlots slots (N·k) on
//     (tiled128 on hardware adapters where the average expert's slots and
//     the outputs fill enough 128×128 tiles, see useLarge), else
//     dot for a forward with at most dotMaxRows slots and at least
//     dotMinK input features (token-by-token generation), else simple,
//     the thresholds of MatMul's thin kernels (useDotMatMul,
//     useSmallMatMul); on software adapters (lavapipe, llvmpipe: adapter
//     type "CPU") simple rather than dot, as a workgroup per output costs
//     them several times more (BenchmarkExpertLinear, decode).
//
// The setting exists to compare the kernels on a device (see
// BenchmarkExpertLinear) and as a fallback should one misbehave.
const ExpertKernelEnv = "IA3_WEBGPU_EXPERT"

// expertKernel is ExpertLinear's kernel choice.
type expertKernel int

const (
	expertAuto expertKernel = iota
	expertSimple
	expertDot
	expertTiled
	expertTiled128
)

// Thresholds of the auto choice.
const (
	// expertTiledMinSlots is the fewest slots (N·k) that run the tiled
	// kernel: as MatMul's tiled kernels start at 32 rows. An expert gets
	// N·k/E of them on average, but below this even a one-expert product
	// leaves most of a 64-row tile idle, and the route costs a dispatch.
	expertTiledMinSlots = 32
	// dotMaxRows and dotMinK bound expert_dot as useDotMatMul bounds
	// matmul_dot.
	dotMaxRows = 8
	dotMinK    = 256
)

// String returns the setting's name as ExpertKernelEnv spells it.
func (k expertKernel) String() string {
	switch k {
	case expertSimple:
		return "simple"
	case expertDot:
		return "dot"
	case expertTiled:
		return "tiled"
	case expertTiled128:
		return "tiled128"
	}
	return "auto"
}

// parseExpertKernel parses an ExpertKernelEnv value ("" is auto); an
// unknown value is an error naming the valid ones.
func parseExpertKernel(v string) (expertKernel, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "auto":
		return expertAuto, nil
	case "simple":
		return expertSimple, nil
	case "dot":
		return expertDot, nil
	case "tiled":
		return expertTiled, nil
	case "tiled128":
		return expertTiled128, nil
	}
	return 0, fmt.Errorf("webgpu: %s=%q: want simple, dot, tiled, tiled128 or auto", ExpertKernelEnv, v)
}

// expertKernelFromEnv reads ExpertKernelEnv.
func expertKernelFromEnv() (expertKernel, error) {
	return parseExpertKernel(os.Getenv(ExpertKernelEnv))
}

// expertShape is what the kernel choice looks at: slots (N·k) routed
// over experts, din input features per slot, dout outputs per slot (of a
// dispatch: a split weight's part has fewer in the forward; the whole
// weight's count is used, the split being rare).
type expertShape struct {
	slots, experts, din, dout int
	backward                  bool
}

// pick returns the kernel that runs sh on an adapter of type adapterType
// (backend.DeviceInfo.Type): the setting, or the auto choice; dot asked of
// a backward runs simple (expert_dot reads the weight along its rows
// only).
func (k expertKernel) pick(sh expertShape, adapterType string) expertKernel {
	slots, din, backward := sh.slots, sh.din, sh.backward
	if k == expertAuto {
		switch {
		case slots >= expertTiledMinSlots && adapterType != "CPU" && useLarge(sh):
			return expertTiled128
		case slots >= expertTiledMinSlots:
			return expertTiled
		case !backward && slots <= dotMaxRows && din >= dotMinK && adapterType != "CPU":
			return expertDot
		}
		return expertSimple
	}
	if k == expertDot && backward {
		return expertSimple
	}
	return k
}

// useLarge reports whether auto runs expert_large on a hardware adapter:
// when the average expert's slots (slots/experts) and the outputs both
// fill a 128×128 tile and one expert's dispatch still has
// autoLargeMinTiles of them, the rule matmul_large follows for Linear
// (dispatches of different experts run one after another, so each must
// fill the device by itself). Software adapters run 64×64 tiles, as for
// Linear.
func useLarge(sh expertShape) bool {
	per := sh.slots / max(sh.experts, 1)
	if per < mmLargeTile || sh.dout < mmLargeTile {
		return false
	}
	tiles := ((per + mmLargeTile - 1) / mmLargeTile) * ((sh.dout + mmLargeTile - 1) / mmLargeTile)
	return tiles >= autoLargeMinTiles
}
