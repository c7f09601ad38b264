package main

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/model"
	"github.com/ia3/ia3/model/nn"
	"github.com/ia3/ia3/model/safetensors"
)

// mergeActive is --merge given without names: merge the active adapters.
const mergeActive = "active"

// forwardFlags are the flags of `ia3 forward`.
type forwardFlags struct {
	model, inputs, out, device string
	quantize                   string
	adapters                   []string
	active, weighted, merge    string
	disable                    bool
}

// newForwardCmd builds `ia3 forward`.
func newForwardCmd(a *app) *cobra.Command {
	var f forwardFlags
	cmd := &cobra.Command{
		Use:   "forward",
		Short: "Run a model (with adapters) on saved inputs and write its logits",
		Long: `Run one forward pass of a model, optionally with adapters, on a batch saved
as safetensors, and write the logits (float32, key "logits") to a safetensors
file. This is how ia3 is compared with PEFT: the inputs file uses the keys of
transformers' forward (int64 input_ids, attention_mask, token_type_ids,
decoder_input_ids, labels).

Adapters: --adapter DIR[=NAME] loads a PEFT adapter (NAME defaults to the
directory's base name); the first one is active. Then, in this order:
--weighted A:0.6,B:0.4=NAME adds a weighted combination (add_weighted_adapter)
and activates it, --active A,B activates the listed adapters together,
--merge merges the active adapters into the weights (merge_and_unload;
--merge=A,B merges the named ones, as adapter_names=[A, B]), and --disable
runs with adapters disabled (disable_adapter).`,
		Example: `  ia3 forward --model fx/base --inputs fx/inputs.safetensors --out base.safetensors
  ia3 forward --model fx/base --adapter fx/adapters/a --inputs fx/inputs.safetensors --out a.safetensors
  ia3 forward --model fx/base --adapter fx/adapters/a --adapter fx/adapters/b \
      --weighted a:0.6,b:0.4=w --inputs fx/inputs.safetensors --out w.safetensors --device gpu`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "model", "inputs", "out"); err != nil {
				return err
			}
			return runForward(cmd, a, &f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.model, "model", "", "model directory (config.json + safetensors) or Hub id org/name[@revision]")
	fl.StringArrayVar(&f.adapters, "adapter", nil, "PEFT adapter directory or Hub id, DIR or DIR=NAME (repeatable; the first is active)")
	fl.StringVar(&f.active, "active", "", "comma-separated adapters to activate together (set_adapter)")
	fl.StringVar(&f.weighted, "weighted", "", "add and activate a weighted adapter: A:0.6,B:0.4=NAME")
	fl.StringVar(&f.merge, "merge", "", "merge adapters into the weights before running: --merge for the active ones, --merge=A,B for those named")
	fl.Lookup("merge").NoOptDefVal = mergeActive
	fl.BoolVar(&f.disable, "disable", false, "run with the adapters disabled")
	fl.StringVar(&f.inputs, "inputs", "", "safetensors file with input_ids and optional attention_mask, token_type_ids, decoder_input_ids, labels")
	fl.StringVar(&f.out, "out", "", "safetensors file to write the logits to")
	addDeviceFlag(cmd, &f.device)
	addQuantizeFlag(cmd, &f.quantize)
	addMemoryLimitFlag(cmd)
	return cmd
}

// runForward loads the model and adapters, applies --weighted, --active,
// --merge or --disable in that order, and writes the logits of --inputs.
func runForward(cmd *cobra.Command, a *app, f *forwardFlags) error {
	specs, err := parseAdapterSpecs(f.adapters)
	if err != nil {
		return err
	}
	var weighted weightedSpec
	var weightedName string
	if f.weighted != "" {
		spec, name, ok := strings.Cut(f.weighted, "=")
		if !ok || name == "" {
			return usagef("--weighted %q: want A:0.6,B:0.4=NAME", f.weighted)
		}
		if weighted, err = parseWeights("--weighted", spec); err != nil {
			return err
		}
		if err := checkNewAdapterName("--weighted", name, specs); err != nil {
			return err
		}
		weightedName = name
	}
	if len(specs) == 0 && (f.active != "" || f.weighted != "" || f.merge != "" || f.disable) {
		return usagef("--active, --weighted, --merge and --disable need at least one --adapter")
	}
	if f.merge != "" && f.disable {
		return usagef("--merge and --disable exclude each other")
	}
	q, err := quantizeFormat(f.quantize)
	if err != nil {
		return err
	}
	if err := mustBeFile(f.inputs, "inputs file"); err != nil {
		return err
	}
	in, err := model.InputsFromSafetensors(f.inputs)
	if err != nil {
		return err
	}
	if err := a.resolveModelAndAdapters(cmd.Context(), &f.model, specs); err != nil {
		return err
	}
	lim, err := memoryLimit(cmd)
	if err != nil {
		return err
	}
	l, err := loadChecked(cmd.Context(), f.device, f.model, specs, q, func(info backend.DeviceInfo, cfg *model.Config) error {
		if err := checkRunFits(info, cfg, runShape{Batch: in.Batch, Seq: in.Seq, MemoryLimit: lim, WeightBytes: storedWeightBytes(f.model),
			ProjBytesPerWeight: model.ProjBytesPerWeight(q)}); err != nil {
			return fmt.Errorf("forward on %s: %w", f.inputs, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	defer l.close()
	if l.peft != nil {
		if weightedName != "" {
			if err := l.peft.AddWeightedAdapter(weighted.Adapters, weighted.Weights, weightedName); err != nil {
				return fmt.Errorf("--weighted: %w", err)
			}
			if err := l.peft.SetAdapter(weightedName); err != nil {
				return fmt.Errorf("--weighted: activate %s: %w", weightedName, err)
			}
		}
		if f.active != "" {
			if err := l.peft.SetAdapter(splitList(f.active)...); err != nil {
				return fmt.Errorf("--active %s: %w", f.active, err)
			}
		}
		if f.merge != "" {
			var names []string
			if f.merge != mergeActive {
				names = splitList(f.merge)
			}
			if l.base, err = l.peft.MergeAndUnload(true, names...); err != nil {
				return fmt.Errorf("--merge: %w", err)
			}
		} else if f.disable {
			if err := l.peft.DisableAdapterLayers(); err != nil {
				return fmt.Errorf("--disable: %w", err)
			}
		}
	}
	logits, shape, err := forwardLogits(l.base, in)
	if err != nil {
		return err
	}
	if err := safetensors.Write(f.out, []safetensors.Tensor{safetensors.F32Tensor("logits", shape, logits)},
		safetensors.DefaultMetadata()); err != nil {
		return fmt.Errorf("write logits to %s: %w", f.out, err)
	}
	slog.Info("logits written", "path", f.out, "shape", shape)
	return nil
}

// forwardLogits runs m on in without gradients and downloads the logits.
func forwardLogits(m *model.Model, in *model.Inputs) ([]float32, []int, error) {
	g := nn.NewGraph(m.Backend(), false)
	defer g.Release()
	out := m.Forward(g, in)
	if err := g.Err(); err != nil {
		return nil, nil, fmt.Errorf("forward: %w", err)
	}
	v, err := m.Backend().ToFloat32(out.T)
	if err != nil {
		return nil, nil, fmt.Errorf("download logits %v: %w", out.Shape(), err)
	}
	return v, slices.Clone(out.Shape()), nil
}
