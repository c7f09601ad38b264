package bench

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// cpuAnchor is the JSON line torch_cpu_ia3_step.py prints (through
// cpu_anchor.sh): a plain-torch (IA)³ step on the GPT-2-small shape, on
// the CPU, timed as medians in milliseconds.
type cpuAnchor struct {
	Torch      string  `json:"torch"`
	Threads    int     `json:"threads"`
	Batch      int     `json:"batch"`
	Seq        int     `json:"seq"`
	TrainMS    float64 `json:"train_step_ms"`
	ForwardMS  float64 `json:"forward_ms"`
	TrainTokS  float64 `json:"train_tokens_per_s"`
	ForwardTok float64 `json:"forward_tokens_per_s"`
}

// compareCPU reads cpu_anchor.sh's output: OpenBLAS lines, then one JSON
// line from the PyTorch CPU step. It times only the GPT-2-small shape, so
// other shapes, and other batches or lengths, are refused by name.
func compareCPU(r *Result, path string, data []byte) (*Comparison, error) {
	var a *cpuAnchor
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "{") || !strings.Contains(line, `"train_step_ms"`) {
			continue
		}
		a = &cpuAnchor{}
		if err := json.Unmarshal([]byte(line), a); err != nil {
			return nil, fmt.Errorf("bench: CPU anchor results %s: %w", path, err)
		}
	}
	if a == nil {
		return nil, fmt.Errorf("bench: anchor results %s: neither peft_anchor.py's JSON object nor cpu_anchor.sh's output (a JSON line with train_step_ms)", path)
	}
	if r.Shape != "gpt2-small" {
		return nil, fmt.Errorf("bench: CPU anchor results %s time the gpt2-small shape, not %s", path, r.Shape)
	}
	if a.Batch != r.Batch || a.Seq != r.Seq {
		return nil, fmt.Errorf("bench: CPU anchor results %s are for batch %d, seq %d, not batch %d, seq %d", path, a.Batch, a.Seq, r.Batch, r.Seq)
	}
	c := &Comparison{
		Anchor: Anchor{Key: fmt.Sprintf("torch_cpu_gpt2_small_b%d_s%d", a.Batch, a.Seq), Batch: a.Batch, Seq: a.Seq, DType: "fp32",
			TrainStepS: a.TrainMS / 1e3, TrainTokensPerS: a.TrainTokS, ForwardS: a.ForwardMS / 1e3, ForwardTokensPerS: a.ForwardTok},
		GPU: fmt.Sprintf("CPU, torch %s, %d threads", a.Torch, a.Threads),
	}
	c.TrainStepRatio = ratio(r.TrainStepS, c.Anchor.TrainStepS)
	c.ForwardRatio = ratio(r.ForwardS, c.Anchor.ForwardS)
	return c, nil
}
