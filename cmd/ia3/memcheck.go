package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/internal/sysmem"
	"github.com/ia3/ia3/model"
	"github.com/ia3/ia3/quant"
)

// deviceMemory returns the bytes a device can hold and where the figure
// comes from: the machine's memory for the CPU backend and for software
// GPU adapters (which allocate from it), 0 where unknown (WebGPU does not
// report a GPU's memory).
func deviceMemory(info backend.DeviceInfo) (uint64, string) {
	if info.API == "Go" || info.Type == "CPU" {
		n, source := sysmem.Total()
		return n, "system memory, " + source
	}
	return 0, "unknown"
}

// checkRunFits refuses a run of batch × seq tokens of cfg that cannot fit
// on the device, before anything is allocated: its memory estimate (a
// lower bound) against the device's memory, or where that is unknown, its
// largest tensor (the logits) against the device's buffer limit and its
// token ids against the machine's memory.
func checkRunFits(info backend.DeviceInfo, cfg *model.Config, batch, seq int, training bool, q quant.Format) error {
	est := cfg.EstimateQuantizedMemory(batch, seq, training, q)
	what := "a forward pass"
	if training {
		what = "a training step"
	}
	weights := "float32 weights"
	if q != quant.None {
		weights = fmt.Sprintf("weights, %.3g of them %v,", est.Quantized, q)
	}
	need := fmt.Sprintf("%s of %d × %d tokens needs at least %s (%s of %s for %.3g parameters, %s of activations)",
		what, batch, seq, formatBytes(est.Total()), formatBytes(est.Weights), weights, est.Params, formatBytes(est.Activations))
	if avail, source := deviceMemory(info); avail > 0 {
		if est.Total() > float64(avail) {
			hint := "lower --batch or --seq"
			if q != quant.NF4 {
				hint += " or try --quantize nf4"
			}
			return fmt.Errorf("%s, more than the %s that %s has (%s): %s", need, formatBytes(float64(avail)), info.Spec, source, hint)
		}
		return nil
	}
	tokens := float64(batch) * float64(seq)
	if host, source := sysmem.Total(); host > 0 && 8*tokens > float64(host) {
		return fmt.Errorf("%d × %d token ids and labels need %s, more than the %s of this machine (%s): lower --batch or --seq",
			batch, seq, formatBytes(8*tokens), formatBytes(float64(host)), source)
	}
	logits := 4 * tokens * float64(cfg.VocabSize)
	if limit := bufferLimit(info); limit > 0 && logits > float64(limit) {
		return fmt.Errorf("%s; its logits alone (%s) exceed %s's largest buffer of %s: lower --batch or --seq",
			need, formatBytes(logits), info.Spec, formatBytes(float64(limit)))
	}
	slog.Debug("device memory unknown: only the buffer limit is checked", "device", info.Spec, "estimate_bytes", est.Total())
	return nil
}

// bufferLimit returns the smaller of a GPU's largest buffer and largest
// storage binding, 0 when it reports neither.
func bufferLimit(info backend.DeviceInfo) uint64 {
	var limit uint64
	for _, k := range []string{"maxBufferSize", "maxStorageBufferBindingSize"} {
		if v := info.Limits[k]; v > 0 && (limit == 0 || v < limit) {
			limit = v
		}
	}
	return limit
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
// weight is loaded, a run of batch × seq tokens of the model in modelDir
// that cannot fit on it (checkRunFits, with its block weights quantized in
// q). The caller closes the backend.
func openFittingDevice(ctx context.Context, spec, modelDir string, batch, seq int, training bool, q quant.Format) (backend.Backend, error) {
	cfg, err := model.LoadConfigFile(filepath.Join(modelDir, "config.json"))
	if err != nil {
		return nil, err
	}
	b, err := openDevice(ctx, spec)
	if err != nil {
		return nil, err
	}
	if err := checkRunFits(b.Info(), cfg, batch, seq, training, q); err != nil {
		_ = b.Close()
		return nil, err
	}
	return b, nil
}
