// Command ia3 fine-tunes and runs transformer models with (IA)³ adapters
// that match Hugging Face PEFT number for number, on the CPU or any GPU
// through WebGPU. Run `ia3 --help` for the commands.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
)

// main runs the command line with Ctrl-C cancelling the context, and
// exits with the code execute returns.
func main() {
	// The first Ctrl-C cancels the context (ia3 train then saves a
	// checkpoint); restoring the default handling right away lets a second
	// Ctrl-C end the process at once.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	go func() {
		<-ctx.Done()
		stop()
	}()
	code := guard(os.Stderr, func() int { return execute(ctx, os.Args[1:], os.Stdout, os.Stderr) })
	stop()
	os.Exit(code)
}

// guard runs the command line and turns a panic that escapes it (a bug:
// bad input is meant to be an error) into one line on stderr and exit
// code 1. Go's own exit code for a panic is 2, which scripts would read
// as a usage error. The stack goes to the debug log.
func guard(stderr io.Writer, run func() int) (code int) {
	defer func() {
		if r := recover(); r != nil {
			slog.Debug("panic", "value", r, "stack", string(debug.Stack()))
			fmt.Fprintf(stderr, "ia3: internal error (please report it, with --log-level debug output): %s\n", oneLine(fmt.Errorf("%v", r)))
			code = exitFailure
		}
	}()
	return run()
}
