package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// Anchor is one model entry of peft_anchor.py's output: PEFT's IA3 on
// PyTorch, timed the same way (median of steps after warm-up).
type Anchor struct {
	Key               string  `json:"key"`
	Params            int64   `json:"params"`
	Trainable         int64   `json:"trainable"`
	Batch             int     `json:"batch"`
	Seq               int     `json:"seq"`
	DType             string  `json:"dtype"`
	TrainStepS        float64 `json:"train_step_s"`
	TrainTokensPerS   float64 `json:"train_tokens_per_s"`
	ForwardS          float64 `json:"forward_s"`
	ForwardTokensPerS float64 `json:"forward_tokens_per_s"`
	PeakMemGiB        float64 `json:"peak_mem_gib"`
}

// Comparison sets a Result beside the matching anchor entry. Ratios are
// ours / PEFT's (above 1: we take longer or hold more memory).
type Comparison struct {
	Anchor         Anchor   `json:"anchor"`
	GPU            string   `json:"anchor_gpu,omitempty"`
	TrainStepRatio float64  `json:"train_step_ratio,omitempty"`
	ForwardRatio   float64  `json:"forward_ratio,omitempty"`
	PeakMemRatio   *float64 `json:"peak_mem_ratio,omitempty"`
}

// anchorNames maps shape names to the prefixes peft_anchor.py gives them.
var anchorNames = map[string]string{"gpt2-small": "gpt2_small", "llama-1b": "llama_1.1b"}

// anchorKey is the key peft_anchor.py stores r's configuration under, in
// float32: "gpt2_small_fp32_b8_s512".
func anchorKey(r *Result) (string, bool) {
	prefix, ok := anchorNames[r.Shape]
	if !ok {
		return "", false
	}
	return fmt.Sprintf("%s_fp32_b%d_s%d", prefix, r.Batch, r.Seq), true
}

// Compare reads peft_anchor.py's JSON output and returns r beside the
// entry of the same shape, batch, sequence length and float32. It also
// takes cpu_anchor.sh's output (PyTorch on the CPU, GPT-2-small shape).
func Compare(r *Result, anchorPath string) (*Comparison, error) {
	key, ok := anchorKey(r)
	if !ok {
		return nil, fmt.Errorf("bench: shape %q has no peft_anchor.py counterpart (it times %s)", r.Shape, strings.Join(ShapeNamesWithAnchor(), ", "))
	}
	data, err := os.ReadFile(anchorPath)
	if err != nil {
		return nil, fmt.Errorf("bench: read anchor results: %w", err)
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(data, &all); err != nil {
		// Not one JSON object: cpu_anchor.sh's lines, if anything.
		return compareCPU(r, anchorPath, data)
	}
	raw, ok := all[key]
	if !ok {
		return nil, fmt.Errorf("bench: anchor results %s have no %q (batch %d, seq %d, fp32)", anchorPath, key, r.Batch, r.Seq)
	}
	c := &Comparison{}
	if err := json.Unmarshal(raw, &c.Anchor); err != nil {
		return nil, fmt.Errorf("bench: anchor results %s: %s: %w", anchorPath, key, err)
	}
	c.Anchor.Key = key
	if gpu, ok := all["gpu"]; ok {
		_ = json.Unmarshal(gpu, &c.GPU)
	}
	c.TrainStepRatio = ratio(r.TrainStepS, c.Anchor.TrainStepS)
	c.ForwardRatio = ratio(r.ForwardS, c.Anchor.ForwardS)
	if r.PeakMemGiB != nil && c.Anchor.PeakMemGiB > 0 {
		m := *r.PeakMemGiB / c.Anchor.PeakMemGiB
		c.PeakMemRatio = &m
	}
	return c, nil
}

// ShapeNamesWithAnchor lists the shapes peft_anchor.py also times.
func ShapeNamesWithAnchor() []string { return []string{"gpt2-small", "llama-1b"} }

// ratio returns a/b, or 0 when either is missing.
func ratio(a, b float64) float64 {
	if a <= 0 || b <= 0 {
		return 0
	}
	return a / b
}
