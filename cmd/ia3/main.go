// Command ia3 fine-tunes and runs transformer models with (IA)³ adapters
// that match Hugging Face PEFT number for number, on the CPU or any GPU
// through WebGPU. Run `ia3 --help` for the commands.
package main

import (
	"context"
	"os"
	"os/signal"
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
	code := execute(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
