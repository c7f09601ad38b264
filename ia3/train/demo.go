package train

import (
	"context"
	_ "embed" // the demo corpus
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/ia3"
	"github.com/ia3/ia3/internal/atomicfile"
	"github.com/ia3/ia3/model"
)

// demoCorpus is a few kilobytes of plain English prose written for the
// demo.
//
//go:embed demodata/corpus.txt
var demoCorpus string

// DemoSteps is how many steps Demo trains when DemoOptions.Steps is 0.
const DemoSteps = 200

// Demo settings: a byte-level GPT-2 small enough to train in seconds on a
// laptop CPU.
const (
	demoSeq       = 64 // bytes per training window
	demoStride    = 24 // bytes between window starts
	demoBatch     = 8
	demoLR        = 1e-2
	demoModelSeed = 20240611
	demoPrompt    = "The "
	demoNewTokens = 120
)

// DemoModelConfig is the demo's base model: GPT-2 over the 256 byte
// values, 2 layers of width 128, with an untied output head so that
// modules_to_save ["lm_head"] trains the head alone.
func DemoModelConfig() (*model.Config, error) {
	return model.ConfigFromMap(map[string]any{
		"model_type": "gpt2", "architectures": []any{"GPT2LMHeadModel"},
		"vocab_size": 256.0, "n_positions": 256.0, "n_embd": 128.0, "n_layer": 2.0, "n_head": 4.0,
		"activation_function": "gelu_new", "layer_norm_epsilon": 1e-5, "initializer_range": 0.02,
		"tie_word_embeddings": false, "bos_token_id": 10.0, "eos_token_id": 10.0,
	})
}

// DemoOptions configures Demo.
type DemoOptions struct {
	// Out receives the adapter, loss.png and the base model (base/).
	Out string
	// Steps of training (default 200).
	Steps int
	// Device is the backend spec ("auto": the best device, except that a
	// software GPU adapter gives way to the faster CPU backend), opened
	// with backend.Open among the providers the program imports (e.g.
	// backend/all); Backend, when set, is used instead (and not closed).
	Device  string
	Backend backend.Backend
	// Progress receives a progress bar (see Options.Progress).
	Progress io.Writer
	// Logger receives progress lines (slog.Default when nil).
	Logger *slog.Logger
}

// DemoResult reports what the demo did.
type DemoResult struct {
	Device string
	Steps  int
	// LossBefore and LossAfter are the mean loss per predicted byte over
	// the corpus (cut in adjacent windows) before and after training.
	LossBefore, LossAfter float64
	// Prompt and the continuations sampled (seeded, so repeatable) before
	// and after training, with bytes that are not printable shown as '·'.
	Prompt, SampleBefore, SampleAfter string
	// IA3Params counts the trainable (IA)³ vector entries and HeadParams
	// those of the lm_head copy modules_to_save trains beside them (most
	// of the demo's trainable numbers); AllParams is PEFT's total.
	IA3Params, HeadParams, AllParams int64
	// AdapterDir holds the adapter (PEFT's files), BaseDir the generated
	// base model with a byte-level tokenizer.json, PlotFile the loss curve.
	AdapterDir, BaseDir, PlotFile string
	Duration                      time.Duration
}

// Demo trains an (IA)³ adapter on a model and data that ship with the
// program: a byte-level GPT-2 generated deterministically at run time
// (model.NewRandom of DemoModelConfig) and a small embedded English
// corpus. The adapter uses PEFT's default targets for GPT-2 plus
// modules_to_save ["lm_head"]. Because the base model is random, the
// sample goes from byte noise to text-like bytes (letters, spaces, common
// short words), not to fluent English: the point is to show training
// working end to end, on the best device, in well under a minute.
func Demo(ctx context.Context, o DemoOptions) (*DemoResult, error) {
	start := time.Now()
	if o.Out == "" {
		return nil, errors.New("demo: no output directory")
	}
	if o.Steps < 0 {
		return nil, fmt.Errorf("demo: steps %d must not be negative", o.Steps)
	}
	if err := checkOutDir(o.Out); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	if err := removeStaleTmp(o.Out); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	if o.Steps == 0 {
		o.Steps = DemoSteps
	}
	if o.Device == "" {
		o.Device = "auto"
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	b, closeB, err := openDemoDevice(ctx, o.Backend, o.Device, o.Logger)
	if err != nil {
		return nil, err
	}
	defer closeB()
	cfg, err := DemoModelConfig()
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	base, err := model.NewRandom(cfg, b, demoModelSeed)
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	defer base.Free()
	acfg := ia3.NewConfig()
	acfg.TaskType = ia3.TaskCausalLM
	acfg.ModulesToSave = []string{"lm_head"}
	pm, err := ia3.New(base, acfg, ia3.DefaultAdapter)
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	defer func() { _ = pm.DeleteAdapter(ia3.DefaultAdapter) }()

	res := &DemoResult{Device: b.Info().Name, Steps: o.Steps, Prompt: demoPrompt,
		AdapterDir: o.Out, BaseDir: filepath.Join(o.Out, "base"), PlotFile: filepath.Join(o.Out, PlotFile)}
	res.IA3Params, res.HeadParams = splitTrainable(pm)
	_, res.AllParams = pm.ParamCounts()
	data, held := demoDataset(demoStride), demoDataset(demoSeq)
	if res.LossBefore, err = demoLoss(ctx, b, base, held); err != nil {
		return nil, err
	}
	if res.SampleBefore, err = demoSample(ctx, base); err != nil {
		return nil, err
	}
	opts := Options{OutDir: o.Out, MaxSteps: o.Steps, BatchSize: demoBatch, GradAccum: 1, LR: demoLR,
		Schedule: ScheduleCosine, WarmupSteps: o.Steps / 20, Optim: DefaultAdamW(), MaxGradNorm: 1, Seed: 1, Logger: o.Logger}
	s, err := newSession(opts, b, base, pm, data, nil)
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	defer s.close()
	bar := newProgress(o.Progress, "demo", 0, s.total)
	err = s.loop(ctx, bar)
	bar.finish()
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	if res.LossAfter, err = demoLoss(ctx, b, base, held); err != nil {
		return nil, err
	}
	if res.SampleAfter, err = demoSample(ctx, base); err != nil {
		return nil, err
	}
	if err := saveDemo(res, base, pm, s.hist); err != nil {
		return nil, err
	}
	res.Duration = time.Since(start)
	return res, nil
}

// splitTrainable counts pm's trainable entries: (IA)³ vectors, and
// modules_to_save copies.
func splitTrainable(pm *ia3.Model) (vectors, copies int64) {
	for _, p := range pm.TrainableParams() {
		n := int64(1)
		for _, d := range p.Param.T.Shape() {
			n *= int64(d)
		}
		if strings.Contains(p.Name, ".modules_to_save.") {
			copies += n
		} else {
			vectors += n
		}
	}
	return vectors, copies
}

// openDemoDevice returns given, or opens spec; the returned function
// closes what was opened. For "auto", a software GPU adapter (a Vulkan or
// OpenGL emulation on the CPU, as lavapipe) gives way to the pure-Go CPU
// backend, which runs this model several times faster.
func openDemoDevice(ctx context.Context, given backend.Backend, spec string, log *slog.Logger) (backend.Backend, func(), error) {
	b, closeB, err := openBackend(ctx, given, spec)
	if err != nil {
		return nil, nil, fmt.Errorf("demo: %w", err)
	}
	if info := b.Info(); given == nil && spec == "auto" && info.Type == "CPU" {
		log.Info("demo: the best GPU adapter is a software one; using the CPU backend instead", "adapter", info.Name, "api", info.API)
		closeB()
		return openBackend(ctx, nil, "cpu")
	}
	return b, closeB, nil
}

// demoDataset cuts the corpus into windows of demoSeq bytes starting
// every stride bytes: overlapping ones to train on, adjacent ones
// (stride demoSeq) to measure the loss on the whole corpus once.
func demoDataset(stride int) *dataset {
	d := &dataset{task: taskCausal}
	text := []byte(demoCorpus)
	for i := 0; i+demoSeq <= len(text); i += stride {
		ids := make([]int32, demoSeq)
		for j, c := range text[i : i+demoSeq] {
			ids[j] = int32(c)
		}
		d.examples = append(d.examples, example{source: fmt.Sprintf("corpus.txt@%d", i), ids: ids, labels: ids})
	}
	return d
}

// demoLoss is the mean loss per predicted byte over the corpus windows.
func demoLoss(ctx context.Context, b backend.Backend, base *model.Model, d *dataset) (float64, error) {
	m, err := evaluate(ctx, b, base, d, demoBatch)
	if err != nil {
		return 0, fmt.Errorf("demo: %w", err)
	}
	return m.Loss, nil
}

// demoSample continues the prompt with seeded sampling.
func demoSample(ctx context.Context, base *model.Model) (string, error) {
	prompt := make([]int32, len(demoPrompt))
	for i := range len(demoPrompt) {
		prompt[i] = int32(demoPrompt[i])
	}
	out, err := base.Generate(ctx, [][]int32{prompt}, model.GenerateOptions{
		MaxNewTokens: demoNewTokens, Temperature: 0.7, TopK: 40, Seed: 7, EOS: []int32{}})
	if err != nil {
		return "", fmt.Errorf("demo: sample: %w", err)
	}
	return printable(out[0]), nil
}

// printable renders byte tokens as text, showing bytes outside printable
// ASCII as '·' and newlines as spaces.
func printable(ids []int32) string {
	var sb strings.Builder
	for _, id := range ids {
		switch c := byte(id); {
		case c == '\n':
			sb.WriteByte(' ')
		case c >= 0x20 && c < 0x7f:
			sb.WriteByte(c)
		default:
			sb.WriteRune('·')
		}
	}
	return sb.String()
}

// saveDemo writes the adapter, the loss plot and the base model with a
// byte-level tokenizer.json.
func saveDemo(res *DemoResult, base *model.Model, pm *ia3.Model, h history) error {
	if err := saveAdapter(pm, res.AdapterDir); err != nil {
		return fmt.Errorf("demo: save adapter: %w", err)
	}
	if err := writeLossPlot(res.PlotFile, h.Losses, nil); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	// The base model is saved with the adapter's modules_to_save copy
	// uninstalled, so base/ holds the random model as generated.
	if err := pm.WithAdaptersDisabled(func() error { return saveBase(res.BaseDir, base) }); err != nil {
		return fmt.Errorf("demo: save base model: %w", err)
	}
	return nil
}

// saveBase writes the base model and its tokenizer to dir.
func saveBase(dir string, base *model.Model) error {
	if err := base.Save(dir); err != nil {
		return err
	}
	tok, err := byteTokenizerJSON()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, "tokenizer.json"), tok)
}
