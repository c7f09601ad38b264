package main

import (
	"encoding/json"
	"fmt"
	"strconv"
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

// commaInt writes n with thousands separators.
func commaInt(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

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
	fmt.Fprintf(w, "trainable: %s (IA)³ numbers + %s in the lm_head copy (modules_to_save, %.0f%% of them); all params: %s\n",
		commaInt(res.IA3Params), commaInt(res.HeadParams), 100*float64(res.HeadParams)/float64(max(1, res.IA3Params+res.HeadParams)), commaInt(res.AllParams))
	fmt.Fprintf(w, "sample before: %q\n", res.Prompt+res.SampleBefore)
	fmt.Fprintf(w, "sample after:  %q\n", res.Prompt+res.SampleAfter)
	fmt.Fprintf(w, "adapter: %s   base model: %s   loss curve: %s\n", res.AdapterDir, res.BaseDir, res.PlotFile)
	fmt.Fprintf(w, "next: ia3 generate --model %s --adapter %s --prompt %q --temperature 0.7 --top-k 40\n",
		res.BaseDir, res.AdapterDir, res.Prompt)
	return nil
}
