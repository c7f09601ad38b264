package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/model"
	"github.com/ia3/ia3/model/chat"
	"github.com/ia3/ia3/serve"
)

// serveFlags are the flags of `ia3 serve`.
type serveFlags struct {
	model, device, addr, apiKey string
	quantize                    string
	adapters                    []string
	maxBatch, maxQueue, prefill int
	maxPrompt, maxTokens, maxN  int
	maxBody                     int64
	timeout, shutdown           time.Duration
	plainChat, merge, noAPI     bool
}

// newServeCmd builds `ia3 serve`.
func newServeCmd(a *app) *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve a model and its adapters over an OpenAI-compatible HTTP API",
		Long: `Serve one base model and any number of (IA)³ adapters from one process, with
continuous batching: requests for different adapters, or the base model,
share each decoding step, every row with its own adapter vector, KV cache
row and sampling state, and join or leave the batch between steps. Each
completion equals what ia3 generate gives that prompt with that adapter
alone (greedy, or sampled with the same seed).

Endpoints (OpenAI's conventions, so OpenAI client libraries work):
  GET    /v1/models              "base" and every adapter by name
  POST   /v1/completions         model, prompt, max_tokens, temperature, top_p,
                                 top_k, seed, stop, n, stream, logprobs
  POST   /v1/chat/completions    messages, rendered with the model's chat template
                                 (as ia3 generate --chat; --plain-chat: role: content lines)
  POST   /v1/adapters            {"name": ..., "path": DIR on this machine}
  DELETE /v1/adapters/NAME       unload an adapter no request uses
                                 (both 403 with --no-adapter-api or --merge)
  GET    /health                 200, or 503 while shutting down (no key needed)
  GET    /metrics                Prometheus text: queue, batch, tokens, TTFT

The server listens on loopback unless --addr names another interface. With
--api-key (or IA3_API_KEY) every endpoint but /health needs the header
"Authorization: Bearer KEY". A full queue answers 429 with Retry-After.
--merge serves a single hot adapter merged into the weights, under its name,
at the base model's speed. Ctrl-C or SIGTERM stops accepting requests, lets running ones finish for up
to --shutdown-timeout, then cancels the rest.`,
		Example: `  ia3 serve --model ./gpt2 --adapter ./sentiment --adapter ./summaries=sum
  ia3 serve --model ./llama --adapter a=support --addr 127.0.0.1:9000 --api-key secret --device gpu
  curl http://127.0.0.1:8080/v1/completions -H 'Content-Type: application/json' \
    -d '{"model": "sum", "prompt": "Once upon a time", "max_tokens": 20, "temperature": 0}'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "model"); err != nil {
				return err
			}
			return runServe(cmd, a, &f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.model, "model", "", "model directory (config.json, safetensors, tokenizer.json)")
	fl.StringArrayVar(&f.adapters, "adapter", nil, "PEFT adapter directory, DIR or DIR=NAME (repeatable); requests name it as their model")
	fl.StringVar(&f.addr, "addr", "127.0.0.1:8080", "address to listen on (host:port; port 0 picks a free one)")
	fl.StringVar(&f.apiKey, "api-key", "", "bearer token every request but /health must send (default: $IA3_API_KEY)")
	fl.IntVar(&f.maxBatch, "max-batch", 32, "most sequences decoding at once")
	fl.IntVar(&f.maxQueue, "max-queue", 256, "most sequences waiting for the batch (more get 429)")
	fl.IntVar(&f.prefill, "max-prefill-tokens", 4096, "most padded tokens (rows × longest prompt) one batched prefill reads")
	fl.IntVar(&f.maxPrompt, "max-prompt-tokens", 2048, "most tokens in a prompt")
	fl.IntVar(&f.maxTokens, "max-tokens", 512, "most tokens a request may generate (and the chat default)")
	fl.IntVar(&f.maxN, "max-n", 8, "most choices (n) per request")
	fl.Int64Var(&f.maxBody, "max-body", 1<<20, "most bytes in a request body (more get 413)")
	fl.DurationVar(&f.timeout, "timeout", 5*time.Minute, "longest a request may take, queue included")
	fl.DurationVar(&f.shutdown, "shutdown-timeout", 30*time.Second, "how long running requests may finish after Ctrl-C or SIGTERM")
	fl.BoolVar(&f.merge, "merge", false, "merge the one --adapter into the weights and serve it under its name alone: no per-row scaling, no base model, adapter API off")
	fl.BoolVar(&f.noAPI, "no-adapter-api", false, "refuse POST and DELETE /v1/adapters (403): serve only the adapters named at start")
	fl.BoolVar(&f.plainChat, "plain-chat", false, `render chat messages as "role: content" lines instead of the model's chat template (for models without one)`)
	addDeviceFlag(cmd, &f.device)
	addQuantizeFlag(cmd, &f.quantize)
	addMemoryLimitFlag(cmd)
	return cmd
}

// runServe loads the model and adapters, listens, and serves until the
// context ends (Ctrl-C, SIGTERM), then shuts down gracefully.
func runServe(cmd *cobra.Command, a *app, f *serveFlags) error {
	if f.maxBatch <= 0 || f.maxQueue <= 0 || f.prefill <= 0 || f.maxPrompt <= 0 || f.maxTokens <= 0 || f.maxN <= 0 || f.maxBody <= 0 ||
		f.timeout <= 0 || f.shutdown < 0 {
		return usagef("--max-batch, --max-queue, --max-prefill-tokens, --max-prompt-tokens, --max-tokens, --max-n, --max-body and --timeout must be positive")
	}
	if f.apiKey == "" {
		f.apiKey = os.Getenv("IA3_API_KEY")
	}
	specs, err := parseAdapterSpecs(f.adapters)
	if err != nil {
		return err
	}
	if f.merge && len(specs) != 1 {
		return usagef("--merge serves exactly one --adapter merged into the weights (got %d)", len(specs))
	}
	q, err := quantizeFormat(f.quantize)
	if err != nil {
		return err
	}
	if err := a.resolveModelAndAdapters(cmd.Context(), &f.model, specs); err != nil {
		return err
	}
	tok, err := loadTokenizer(f.model)
	if err != nil {
		return err
	}
	var tmpl *chat.Template
	if !f.plainChat {
		// Chat completions need the template; a model without one still
		// serves completions.
		if tmpl, err = chat.LoadDir(f.model); errors.Is(err, chat.ErrNoTemplate) {
			slog.Info("ia3 serve: the model has no chat template: /v1/chat/completions answers 400 (--plain-chat renders role: content lines)")
		} else if err != nil {
			return err
		}
	}
	ctx, stop := withTerminate(cmd.Context())
	defer stop()
	lim, err := memoryLimit(cmd)
	if err != nil {
		return err
	}
	// The plan covers the weights, one full prefill and the KV cache of its
	// rows generating --max-tokens each.
	l, err := loadChecked(ctx, f.device, f.model, specs, q, func(info backend.DeviceInfo, cfg *model.Config) error {
		return checkRunFits(info, cfg, runShape{Batch: max(1, f.prefill/f.maxPrompt), Seq: min(f.maxPrompt, f.prefill),
			NewTokens: f.maxTokens, SeqFlag: "--max-prompt-tokens", MemoryLimit: lim, WeightBytes: storedWeightBytes(f.model),
			ProjBytesPerWeight: model.ProjBytesPerWeight(q)})
	})
	if err != nil {
		return err
	}
	defer l.close()
	o := serve.Options{MaxQueue: f.maxQueue, MaxBatch: f.maxBatch, MaxPrefillTokens: f.prefill, MaxPromptTokens: f.maxPrompt, MaxTokens: f.maxTokens,
		MaxN: f.maxN, MaxBodyBytes: f.maxBody, RequestTimeout: f.timeout, APIKey: f.apiKey, NoAdapterAPI: f.noAPI}
	if f.merge {
		if l.base, err = l.peft.MergeAndUnload(false, specs[0].Name); err != nil {
			return err
		}
		l.peft = nil
		o.BaseName, o.NoAdapterAPI = specs[0].Name, true
	}
	if f.plainChat {
		o.RenderChat = serve.PlainChat
	}
	o.ChatTemplate = tmpl
	srv, err := serve.New(l.base, l.peft, tok, o)
	if err != nil {
		return err
	}
	defer func() {
		srv.Close()
		if p := srv.PEFT(); p != nil {
			_ = p.Close() // adapters loaded through the API included
		}
	}()
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return fmt.Errorf("--addr %s: %w", f.addr, err)
	}
	if !loopback(ln.Addr()) && f.apiKey == "" {
		slog.Warn("ia3 serve: listening beyond loopback without --api-key: anyone who reaches this address can use the model and load adapters", "addr", ln.Addr().String())
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	fmt.Fprintf(a.stdout, "serving %s on http://%s (models: %s)\n", f.model, ln.Addr(), strings.Join(srv.Models(), ", "))
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	fmt.Fprintf(a.stdout, "shutting down: finishing running requests for up to %v\n", f.shutdown)
	sctx, cancel := context.WithTimeout(context.Background(), f.shutdown)
	defer cancel()
	shutErr := srv.Shutdown(sctx)
	if err := hs.Shutdown(sctx); err != nil {
		hs.Close()
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	if shutErr != nil {
		slog.Warn("ia3 serve: shutdown", "err", shutErr)
	}
	fmt.Fprintln(a.stdout, "stopped")
	return nil
}

// loopback reports whether addr is a loopback address.
func loopback(addr net.Addr) bool {
	tcp, ok := addr.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}
