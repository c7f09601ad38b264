package main

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ia3/ia3/ia3/train"
)

// demoOut is where `ia3 train` without --out saves the demo.
const demoOut = "ia3-demo"

// demoFlags are the train flags the demo honours; the others configure a
// real run and are refused without --model and --data.
var demoFlags = map[string]bool{"steps": true, "out": true, "device": true, "json": true, "log-level": true}

// runDemo runs the built-in demo (train.Demo): a byte-level GPT-2 and a
// corpus that ship with the program.
func runDemo(cmd *cobra.Command, a *app, f *trainFlags) error {
	var bad string
	cmd.Flags().Visit(func(fl *pflag.Flag) {
		if !demoFlags[fl.Name] && bad == "" {
			bad = fl.Name
		}
	})
	if bad != "" {
		return usagef("--%s needs --model and --data: the built-in demo has fixed settings (it takes --steps, --out, --device)", bad)
	}
	out := f.out
	if out == "" {
		out = demoOut
	}
	fmt.Fprintf(a.stderr, "demo: training an (IA)³ adapter on a small byte-level GPT-2 and a built-in English corpus → %s\n", out)
	res, err := train.Demo(cmd.Context(), train.DemoOptions{Out: out, Steps: f.steps, Device: f.device,
		Progress: terminal(a.stderr)})
	if err != nil {
		return err
	}
	if f.asJSON {
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	w := a.stdout
	fmt.Fprintf(w, "trained %d steps on %s in %s: loss per byte %.3f → %.3f\n",
		res.Steps, res.Device, res.Duration.Round(time.Millisecond), res.LossBefore, res.LossAfter)
	fmt.Fprintf(w, "sample before: %q\n", res.Prompt+res.SampleBefore)
	fmt.Fprintf(w, "sample after:  %q\n", res.Prompt+res.SampleAfter)
	fmt.Fprintf(w, "adapter: %s   base model: %s   loss curve: %s\n", res.AdapterDir, res.BaseDir, res.PlotFile)
	fmt.Fprintf(w, "next: ia3 generate --model %s --adapter %s --prompt %q --temperature 0.7 --top-k 40\n",
		res.BaseDir, res.AdapterDir, res.Prompt)
	return nil
}
