package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/internal/sysmem"
	"github.com/ia3/ia3/model"
	"github.com/ia3/ia3/model/safetensors"
)

// memoryLimitHelp documents --memory-limit.
const memoryLimitHelp = "memory the device may use, e.g. 16GiB or 12000MiB: WebGPU does not report a GPU's memory, " +
	"so without it only the buffer limits are checked on a GPU (default: the machine's memory for the CPU and software adapters)"

// addMemoryLimitFlag adds --memory-limit to a command that plans its
// memory before loading.
func addMemoryLimitFlag(cmd *cobra.Command) {
	cmd.Flags().String("memory-limit", "", memoryLimitHelp)
}

// memoryLimit returns a command's --memory-limit in bytes, 0 when unset.
func memoryLimit(cmd *cobra.Command) (uint64, error) {
	s, err := cmd.Flags().GetString("memory-limit")
	if err != nil {
		return 0, fmt.Errorf("--memory-limit: %w", err)
	}
	return parseByteSize(s)
}

// parseByteSize parses a byte count with an optional unit: B, KiB, MiB,
// GiB, TiB (binary), KB, MB, GB, TB (decimal), or K, M, G, T (binary); ""
// is 0.
func parseByteSize(s string) (uint64, error) {
	v := strings.TrimSpace(s)
	if v == "" {
		return 0, nil
	}
	units := []struct {
		suffix string
		mult   float64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
		{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"T", 1 << 40}, {"B", 1}}
	mult := 1.0
	for _, u := range units {
		if strings.HasSuffix(strings.ToUpper(v), strings.ToUpper(u.suffix)) {
			v, mult = strings.TrimSpace(v[:len(v)-len(u.suffix)]), u.mult
			break
		}
	}
	n, err := strconv.ParseFloat(v, 64)
	if err != nil || n <= 0 || n*mult >= 1<<63 {
		return 0, usagef("--memory-limit %q: want a positive size such as 16GiB, 12000MiB or 8e9", s)
	}
	return uint64(n * mult), nil
}

// runShape is the run checkRunFits plans: its largest step, what it
// keeps, the flags that size it (for the advice of a refusal) and how the
// weights are stored.
type runShape struct {
	Batch, Seq int
	Training   bool
	// NewTokens, when positive, makes the run a generation with a KV cache
	// of Seq + NewTokens positions.
	NewTokens int
	// BatchFlag and SeqFlag name the flags that set Batch and Seq
	// ("--batch-size", "--max-len"); empty when none does (an inputs file).
	BatchFlag, SeqFlag string
	// MemoryLimit is --memory-limit in bytes; 0 when unset.
	MemoryLimit uint64
	// WeightBytes and ProjBytesPerWeight are the stored sizes of a weight
	// (model.PlanOptions): 0 is F32. storedWeightBytes gives WeightBytes
	// from the checkpoint; --quantize sets ProjBytesPerWeight.
	WeightBytes, ProjBytesPerWeight float64
}

// plan returns the memory plan of r for cfg, counting the optimiser state
// of PEFT's default (IA)³ targets when training.
func (r runShape) plan(cfg *model.Config) model.MemoryPlan {
	o := model.PlanOptions{Batch: r.Batch, Seq: r.Seq, Training: r.Training, NewTokens: r.NewTokens,
		WeightBytes: r.WeightBytes, ProjBytesPerWeight: r.ProjBytesPerWeight}
	if r.Training {
		o.Trainable = cfg.ApproxIA3Params()
	}
	return cfg.PlanMemory(o)
}

// storedWeightBytes returns the bytes a weight of the safetensors
// checkpoint in dir takes on a device, averaged over its tensors: 2 for F16
// and BF16 (kept as stored and widened inside the kernels), 4 for the rest
// (uploaded as F32). Only the header is read. It returns 0 (the plan then
// assumes F32) where dir holds no safetensors checkpoint.
func storedWeightBytes(dir string) float64 {
	c, err := safetensors.OpenDir(dir)
	if err != nil {
		return 0
	}
	defer c.Close()
	var bytes, n float64
	for _, name := range c.Names() {
		info, _ := c.Info(name)
		elems := 1.0
		for _, d := range info.Shape {
			elems *= float64(d)
		}
		size := 4.0
		if info.DType == safetensors.F16 || info.DType == safetensors.BF16 {
			size = 2
		}
		bytes, n = bytes+size*elems, n+elems
	}
	if n == 0 {
		return 0
	}
	return bytes / n
}

// deviceMemory returns the bytes a device can hold and where the figure
// comes from: --memory-limit when given, else the machine's memory for the
// CPU backend and for software GPU adapters (which allocate from it), 0
// where unknown (WebGPU does not report a GPU's memory).
func deviceMemory(info backend.DeviceInfo, limit uint64) (uint64, string) {
	if limit > 0 {
		return limit, "--memory-limit"
	}
	if info.API == "Go" || info.Type == "CPU" {
		n, source := sysmem.Total()
		return n, "system memory, " + source
	}
	return 0, "unknown"
}

// checkRunFits refuses a run of cfg that cannot fit on the device, before
// anything is allocated: its memory plan (a lower bound: weights,
// activations, KV cache, optimiser state) against the device's memory,
// with the numbers and the largest batch or length that fits, or the
// --quantize that would. Tensors over a GPU's buffer binding limit (the
// logits of a large vocabulary) are split by the WebGPU backend, so that
// limit is not checked; where the device's memory is unknown only the
// token ids are.
func checkRunFits(info backend.DeviceInfo, cfg *model.Config, r runShape) error {
	p := r.plan(cfg)
	need := fmt.Sprintf("%s of %d × %d tokens needs at least %s (%s)", runWhat(r.Training, r.NewTokens), r.Batch, r.Seq, formatBytes(p.Total()), planParts(p))
	tokens := float64(r.Batch) * float64(r.Seq)
	if avail, source := deviceMemory(info, r.MemoryLimit); avail > 0 {
		if p.Total() > float64(avail) {
			return fmt.Errorf("%s, more than the %s that %s has (%s): %s", need, formatBytes(float64(avail)), info.Spec, source,
				advice(r, func(s runShape) bool { return s.plan(cfg).Total() <= float64(avail) }, true))
		}
		return nil
	}
	if host, source := sysmem.Total(); host > 0 && 8*tokens > float64(host) {
		return fmt.Errorf("%d × %d token ids and labels need %s, more than the %s of this machine (%s): lower --batch or --seq",
			r.Batch, r.Seq, formatBytes(8*tokens), formatBytes(float64(host)), source)
	}
	slog.Debug("device memory unknown (set --memory-limit): only the buffer limit is checked", "device", info.Spec, "plan_bytes", p.Total())
	return nil
}

// runWhat names a run: "a forward pass", "a training step" or
// "generating N tokens after prompts".
func runWhat(training bool, newTokens int) string {
	switch {
	case training:
		return "a training step"
	case newTokens > 0:
		return fmt.Sprintf("generating %d tokens after prompts", newTokens)
	}
	return "a forward pass"
}

// planParts lists a plan's non-zero parts.
func planParts(p model.MemoryPlan) string {
	dt := fmt.Sprintf("%.4g-byte", p.Options.WeightBytes)
	switch {
	case p.Options.ProjBytesPerWeight != p.Options.WeightBytes:
		dt = fmt.Sprintf("%.4g-byte projection and %.4g-byte other", p.Options.ProjBytesPerWeight, p.Options.WeightBytes)
	case p.Options.WeightBytes == 4:
		dt = "float32"
	case p.Options.WeightBytes == 2:
		dt = "16-bit"
	}
	parts := []string{fmt.Sprintf("%s of %s weights for %.3g parameters", formatBytes(p.Weights), dt, p.Params()),
		fmt.Sprintf("%s of activations", formatBytes(p.Activations))}
	if p.KVCache > 0 {
		parts = append(parts, fmt.Sprintf("%s of KV cache", formatBytes(p.KVCache)))
	}
	if p.Optimizer > 0 {
		parts = append(parts, fmt.Sprintf("%s of trained vectors, gradients and AdamW state", formatBytes(p.Optimizer)))
	}
	return strings.Join(parts, ", ")
}

// advice says what would make r fit: the largest batch or length (under
// the flags that set them) for which fits holds, and, when quantize is
// set, --quantize int8 or nf4 at the requested sizes.
func advice(r runShape, fits func(runShape) bool, quantize bool) string {
	var tips []string
	if b := largest(r.Batch-1, func(n int) bool { s := r; s.Batch = n; return fits(s) }); b > 0 {
		tips = append(tips, fmt.Sprintf("%s %d", orWord(r.BatchFlag, "a batch of"), b))
	}
	if n := largest(r.Seq-1, func(n int) bool { s := r; s.Seq = n; return fits(s) }); n > 0 {
		tips = append(tips, fmt.Sprintf("%s %d", orWord(r.SeqFlag, "a length of"), n))
	}
	if quantize {
		for _, q := range []struct {
			name  string
			bytes float64
		}{{"int8", model.BytesPerWeightQ8_0}, {"nf4", model.BytesPerWeightNF4}} {
			s := r
			s.ProjBytesPerWeight = q.bytes
			if (r.ProjBytesPerWeight == 0 || r.ProjBytesPerWeight > q.bytes) && fits(s) {
				tips = append(tips, "--quantize "+q.name)
				break
			}
		}
	}
	if len(tips) == 0 {
		return "it does not fit even at a batch of 1 and a length of 1"
	}
	return "it fits with " + strings.Join(tips, ", or ")
}

// orWord returns flag, or word when flag is empty.
func orWord(flag, word string) string {
	if flag != "" {
		return flag
	}
	return word
}

// largest returns the largest n in [1, hi] with fits(n), for fits true up
// to some n and false above; 0 when fits(1) is false or hi < 1.
func largest(hi int, fits func(int) bool) int {
	if hi < 1 || !fits(1) {
		return 0
	}
	lo := 1
	for lo < hi {
		mid := lo + (hi-lo+1)/2
		if fits(mid) {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo
}

// formatBytes renders a byte count with a binary unit, from B to EiB.
func formatBytes(n float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	i := 0
	for n >= 1024 && i < len(units)-1 {
		n /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%.0f B", n)
	}
	return fmt.Sprintf("%.1f %s", n, units[i])
}

// openFittingDevice opens the device named by spec and refuses, before any
// weight is loaded, a run of the model in modelDir that cannot fit on it
// (checkRunFits). The caller closes the backend.
func openFittingDevice(ctx context.Context, spec, modelDir string, r runShape) (backend.Backend, error) {
	cfg, err := model.LoadConfigFile(filepath.Join(modelDir, "config.json"))
	if err != nil {
		return nil, err
	}
	if r.WeightBytes == 0 {
		r.WeightBytes = storedWeightBytes(modelDir)
	}
	b, err := openDevice(ctx, spec)
	if err != nil {
		return nil, err
	}
	if err := checkRunFits(b.Info(), cfg, r); err != nil {
		_ = b.Close()
		return nil, err
	}
	return b, nil
}
