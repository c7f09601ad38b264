package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ia3/ia3/ia3/train"
)

// rootLong is the root help: what the tool does, where to start, and the
// exit codes.
const rootLong = `ia3 fine-tunes and runs Hugging Face transformer models with (IA)³ adapters.

An (IA)³ adapter learns one small vector per adapted layer that rescales its
keys, values or feed-forward input. ia3 reads and writes the same files as
Hugging Face PEFT (adapter_config.json + adapter_model.safetensors) and gives
the same numbers, on the CPU or on any GPU through WebGPU (Vulkan, Metal,
D3D12, OpenGL).

Start with:
  ia3 devices            which devices can compute
  ia3 train --steps 50   train the built-in demo and save an adapter
  ia3 inspect --model DIR   what an adapter config would adapt

--model and --adapter take a local directory or a Hugging Face Hub id,
org/name[@revision], fetched into the Hugging Face cache that Python shares
(HF_HUB_CACHE or HF_HOME; HF_TOKEN for gated repos; HF_HUB_OFFLINE=1 reads
the cache only). An existing local path always wins.

Exit codes:
  0    success
  1    failure at run time (unreadable file, numerical check failed, ...)
  2    usage error (unknown command or flag, missing or malformed value)
  130  interrupted (Ctrl-C); ia3 train saves a checkpoint first`

// app carries what every command needs: the output streams and the
// global flags.
type app struct {
	stdout, stderr io.Writer
	logLevel       string
}

// newRootCmd builds the command tree writing to the given streams.
func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	a := &app{stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:   "ia3",
		Short: "Fine-tune and run transformer models with (IA)³ adapters, as PEFT does",
		Long:  rootLong,
		Example: `  ia3 devices
  ia3 train --steps 20 --out demo-adapter
  ia3 train --model ./gpt2 --data train.jsonl --out my-adapter --device gpu
  ia3 generate --model ./gpt2 --adapter my-adapter --prompt "Hello"`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return a.setupLogging()
		},
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.PersistentFlags().StringVar(&a.logLevel, "log-level", "warn", "log detail on stderr: debug, info, warn or error (debug adds the WebGPU library's own messages)")
	root.AddCommand(
		newDevicesCmd(a),
		newTrainCmd(a),
		newEvalCmd(a),
		newClassifyCmd(a),
		newMergeCmd(a),
		newWeightedCmd(a),
		newForwardCmd(a),
		newGenerateCmd(a),
		newInspectCmd(a),
		newConformanceCmd(a),
		newBenchCmd(a),
		newServeCmd(a),
	)
	root.CompletionOptions.DisableDefaultCmd = true
	return root
}

// execute runs the command line args and returns the exit code, writing
// any error as one line on stderr.
func execute(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCmd(stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err != nil {
		msg := "ia3: " + oneLine(err)
		switch code := exitCode(err); {
		case code == exitUsage:
			msg += " (see 'ia3 --help' or 'ia3 COMMAND --help')"
		case code == exitInterrupted && !errors.Is(err, train.ErrInterrupted):
			msg = "ia3: interrupted: " + oneLine(err)
		}
		fmt.Fprintln(stderr, msg)
	}
	return exitCode(err)
}

// setupLogging sends log/slog output to stderr at the chosen level.
func (a *app) setupLogging() error {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(strings.ToLower(a.logLevel))); err != nil {
		return usagef("--log-level %q: want debug, info, warn or error", a.logLevel)
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: lvl})))
	return nil
}

// noArgs refuses positional arguments: every input is a named flag.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	if cmd.HasSubCommands() {
		return usagef("unknown command %q for %q", args[0], cmd.CommandPath())
	}
	return usagef("%s takes no positional arguments, got %q (inputs are flags: see --help)", cmd.CommandPath(), args[0])
}
