package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/ia3/ia3/hub"
	"github.com/ia3/ia3/ia3"
	"github.com/ia3/ia3/model"
	"github.com/spf13/cobra"
)

// inspectLayer is one adapted module in `ia3 inspect --json`.
type inspectLayer struct {
	Module      string `json:"module"`
	Type        string `json:"type"`
	Feedforward bool   `json:"feedforward"`
	InFeatures  int    `json:"in_features"`
	OutFeatures int    `json:"out_features"`
	VectorShape []int  `json:"vector_shape"`
}

// inspectReport is the output of `ia3 inspect --json`.
type inspectReport struct {
	ModelType          string         `json:"model_type"`
	Architecture       string         `json:"architecture"`
	TaskType           string         `json:"task_type"`
	TargetModules      string         `json:"target_modules"`
	FeedforwardModules string         `json:"feedforward_modules"`
	ModulesToSave      []string       `json:"modules_to_save"`
	Layers             []inspectLayer `json:"layers"`
	TrainableParams    int64          `json:"trainable_params"`
	AllParams          int64          `json:"all_params"`
	TrainablePercent   float64        `json:"trainable_percent"`
	Line               string         `json:"trainable_line"`
	Plan               *planReport    `json:"memory_plan,omitempty"`
}

// newInspectCmd builds `ia3 inspect`.
func newInspectCmd(a *app) *cobra.Command {
	var modelDir string
	var asJSON bool
	var af adapterFlags
	var pf planFlags
	cmd := &cobra.Command{
		Use:   "inspect",
		Short: "Show which modules an IA3 config adapts, and how many parameters it trains",
		Long: `Show what an (IA)³ configuration does to a model, from its config.json alone
(no weights are read): every module the config adapts, whether it is treated
as feed-forward (its input is scaled) or not (its output is scaled), the
shape PEFT gives its vector, any modules_to_save, and PEFT's
print_trainable_parameters line.

Without --config or module flags the architecture's PEFT defaults apply.
Module flags take comma-separated names (matched as name suffixes, as PEFT
does), "all-linear", or "re:REGEX" for a regular expression that must match
the whole module name.`,
		Example: `  ia3 inspect --model ./gpt2
  ia3 inspect --model ./llama --target-modules q_proj,v_proj,down_proj --feedforward-modules down_proj
  ia3 inspect --model ./gpt2 --config my-adapter/adapter_config.json --json
  ia3 inspect --model ./llama --plan --train --batch 8 --seq 512`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "model"); err != nil {
				return err
			}
			if hub.IsRepoID(modelDir) {
				// The adapter flags' usage errors come before the network.
				if _, err := af.build(cmd, ""); err != nil {
					return err
				}
			}
			dir, err := a.resolveHub(cmd.Context(), "--model", modelDir, hub.ModelConfig)
			if err != nil {
				return err
			}
			rep, err := inspect(cmd, dir, &af)
			if err != nil {
				return err
			}
			if rep.Plan, err = pf.plan(dir, rep.TrainableParams); err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(rep)
			}
			return writeInspectTable(a, rep)
		},
	}
	cmd.Flags().StringVar(&modelDir, "model", "", "model directory holding config.json, or Hub id org/name[@revision] (weights are not read or fetched)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	af.add(cmd)
	pf.add(cmd)
	return cmd
}

// inspect builds the model structure and attaches the configured adapter
// without tensors.
func inspect(cmd *cobra.Command, modelDir string, af *adapterFlags) (*inspectReport, error) {
	if err := mustBeFile(filepath.Join(modelDir, "config.json"), "model config"); err != nil {
		return nil, err
	}
	mc, err := model.LoadConfig(modelDir)
	if err != nil {
		return nil, err
	}
	m, err := model.New(mc, nil)
	if err != nil {
		return nil, err
	}
	cfg, err := af.build(cmd, mc.TaskType)
	if err != nil {
		return nil, err
	}
	pm, err := ia3.New(m, cfg, ia3.DefaultAdapter)
	if err != nil {
		return nil, fmt.Errorf("apply the IA3 config to %s: %w", modelDir, err)
	}
	resolved := pm.Config(ia3.DefaultAdapter)
	rep := &inspectReport{ModelType: mc.ModelType, Architecture: mc.Architecture, TaskType: mc.TaskType,
		TargetModules: resolved.TargetModules.String(), FeedforwardModules: resolved.FeedforwardModules.String(),
		ModulesToSave: pm.ModulesToSave(), Layers: []inspectLayer{}}
	for _, l := range pm.Layers() {
		rep.Layers = append(rep.Layers, inspectLayer{Module: l.Name, Type: l.Linear.Type(), Feedforward: l.Feedforward,
			InFeatures: l.Linear.In, OutFeatures: l.Linear.Out, VectorShape: l.AdapterVectorShape(ia3.DefaultAdapter)})
	}
	rep.TrainableParams, rep.AllParams = pm.ParamCounts()
	if rep.AllParams > 0 {
		rep.TrainablePercent = 100 * float64(rep.TrainableParams) / float64(rep.AllParams)
	}
	rep.Line = ia3.TrainableParametersLine(rep.TrainableParams, rep.AllParams)
	return rep, nil
}

// writeInspectTable prints the report as a header, the layer table and
// PEFT's trainable-parameters line.
func writeInspectTable(a *app, r *inspectReport) error {
	fmt.Fprintf(a.stdout, "model: %s (%s, %s)\n", r.ModelType, r.Architecture, r.TaskType)
	fmt.Fprintf(a.stdout, "target_modules: %s\nfeedforward_modules: %s\n", r.TargetModules, r.FeedforwardModules)
	if len(r.ModulesToSave) > 0 {
		fmt.Fprintf(a.stdout, "modules_to_save: %s\n", strings.Join(r.ModulesToSave, ", "))
	}
	w := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "MODULE\tTYPE\tIN\tOUT\tFEEDFORWARD\tSCALES\tVECTOR")
	for _, l := range r.Layers {
		ff, scales := "no", "output"
		if l.Feedforward {
			ff, scales = "yes", "input"
		} else if l.VectorShape[0] < l.OutFeatures {
			scales = "k,v outputs"
		}
		fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%s\t%s\t%v\n", l.Module, l.Type, l.InFeatures, l.OutFeatures, ff, scales, l.VectorShape)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if _, err := fmt.Fprintln(a.stdout, r.Line); err != nil || r.Plan == nil {
		return err
	}
	return r.Plan.write(a.stdout)
}
