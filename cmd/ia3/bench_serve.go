package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ia3/ia3/serve"
)

// benchServeFlags are the flags of `ia3 bench --serve`.
type benchServeFlags struct {
	on                      bool
	model, url, apiKey      string
	adapters, prompts       []string
	clients, requests, toks int
	noSerial                bool
}

// addBenchServeFlags registers the --serve flags on bench.
func addBenchServeFlags(cmd *cobra.Command, f *benchServeFlags) {
	fl := cmd.Flags()
	fl.BoolVar(&f.on, "serve", false, "load-test ia3 serve instead: --clients concurrent streaming clients over the base model and every --adapter")
	fl.StringVar(&f.model, "model", "", "with --serve: the model directory to serve in this process (with its tokenizer.json)")
	fl.StringArrayVar(&f.adapters, "adapter", nil, "with --serve: adapter DIR or DIR=NAME to serve (repeatable); the clients cycle through base and these")
	fl.StringVar(&f.url, "url", "", "with --serve: drive a running server at this URL instead of starting one (its /v1/models are used)")
	fl.StringVar(&f.apiKey, "api-key", "", "with --serve --url: the server's bearer token")
	fl.StringArrayVar(&f.prompts, "prompt", nil, "with --serve: prompts to cycle through (repeatable; default: four of different lengths)")
	fl.IntVar(&f.clients, "clients", 64, "with --serve: concurrent clients")
	fl.IntVar(&f.requests, "requests", 1, "with --serve: requests per client")
	fl.IntVar(&f.toks, "max-tokens", 16, "with --serve: tokens generated per request (greedy)")
	fl.BoolVar(&f.noSerial, "no-serial", false, "with --serve: skip the baseline that sends the same requests one at a time")
}

// benchServeOutput is the result of `ia3 bench --serve`.
type benchServeOutput struct {
	Models     []string          `json:"models"`
	Device     string            `json:"device,omitempty"`
	Concurrent serve.LoadReport  `json:"concurrent"`
	Serial     *serve.LoadReport `json:"serial,omitempty"`
	// Speedup is the concurrent run's tokens/s over the serial run's.
	Speedup float64 `json:"speedup,omitempty"`
}

// runBenchServe load-tests a server: one started here on loopback with
// --model and --adapter, or the one at --url.
func runBenchServe(cmd *cobra.Command, a *app, f *benchServeFlags, device string, asJSON bool) error {
	if f.clients <= 0 || f.requests <= 0 || f.toks <= 0 {
		return usagef("--clients, --requests and --max-tokens must be positive")
	}
	if (f.model == "") == (f.url == "") {
		return usagef("--serve needs --model (start a server here) or --url (drive a running one), not both")
	}
	ctx := cmd.Context()
	specs, err := parseAdapterSpecs(f.adapters)
	if err != nil {
		return err
	}
	out := benchServeOutput{}
	url, key := f.url, f.apiKey
	if f.model != "" {
		if err := a.resolveModelAndAdapters(ctx, &f.model, specs); err != nil {
			return err
		}
		stop, u, models, dev, err := startBenchServer(ctx, f, specs, device)
		if err != nil {
			return err
		}
		defer stop()
		url, out.Models, out.Device = u, models, dev
	} else {
		models, err := listModels(ctx, url, key)
		if err != nil {
			return err
		}
		out.Models = models
	}
	prompts := f.prompts
	if len(prompts) == 0 {
		prompts = []string{"Hello", "The quick brown fox jumps over the lazy dog",
			"Once upon a time, in a land far away, there lived a", "Q: What is the capital of France? A:"}
	}
	// An untimed round first: the first large batches allocate the
	// buffers later steps reuse, which would count against the first run.
	warm := serve.LoadOptions{URL: url, APIKey: key, Clients: f.clients, Requests: 1, Models: out.Models, Prompts: prompts, MaxTokens: 2}
	if _, err := serve.Load(ctx, warm); err != nil {
		return err
	}
	o := serve.LoadOptions{URL: url, APIKey: key, Clients: f.clients, Requests: f.requests, Models: out.Models,
		Prompts: prompts, MaxTokens: f.toks}
	rep, err := serve.Load(ctx, o)
	if err != nil {
		return err
	}
	out.Concurrent = rep
	if !f.noSerial {
		o.Clients, o.Requests = 1, f.clients*f.requests
		serial, err := serve.Load(ctx, o)
		if err != nil {
			return err
		}
		out.Serial = &serial
		if serial.TokensPerSecond > 0 {
			out.Speedup = rep.TokensPerSecond / serial.TokensPerSecond
		}
	}
	if asJSON {
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return err
		}
	} else {
		w := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintf(w, "models\t%v\n", out.Models)
		if out.Device != "" {
			fmt.Fprintf(w, "device\t%s\n", out.Device)
		}
		row := func(name string, r serve.LoadReport) {
			fmt.Fprintf(w, "%s\t%d clients, %d requests, %d errors\t%d tokens in %.2f s\t%.1f tokens/s\t%.1f requests/s\n",
				name, r.Clients, r.Requests, r.Errors, r.Tokens, r.Wall.Seconds(), r.TokensPerSecond, r.RequestsPerSecond)
			fmt.Fprintf(w, "\ttime to first token\t%s\n\tlatency\t%s\n", r.TTFT, r.Latency)
		}
		row("concurrent", out.Concurrent)
		if out.Serial != nil {
			row("one at a time", *out.Serial)
			fmt.Fprintf(w, "speedup\t%.2f× tokens/s\n", out.Speedup)
		}
		if err := w.Flush(); err != nil {
			return err
		}
	}
	if n := out.Concurrent.Errors; n > 0 {
		return fmt.Errorf("bench --serve: %d of %d requests failed; the first: %s", n, out.Concurrent.Requests, out.Concurrent.FirstError)
	}
	return nil
}

// startBenchServer loads --model and --adapter and serves them on a free
// loopback port with a batch as large as --clients.
func startBenchServer(ctx context.Context, f *benchServeFlags, specs []adapterSpec, device string) (stop func(), url string, models []string, dev string, err error) {
	tok, err := loadTokenizer(f.model)
	if err != nil {
		return nil, "", nil, "", err
	}
	l, err := loadWithAdapters(ctx, device, f.model, specs)
	if err != nil {
		return nil, "", nil, "", err
	}
	srv, err := serve.New(l.base, l.peft, tok, serve.Options{MaxBatch: f.clients, MaxQueue: 4 * f.clients, MaxTokens: f.toks})
	if err != nil {
		l.close()
		return nil, "", nil, "", err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		srv.Close()
		l.close()
		return nil, "", nil, "", err
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	info := l.b.Info()
	stop = func() {
		_ = hs.Close()
		srv.Close()
		l.close()
	}
	return stop, "http://" + ln.Addr().String(), srv.Models(), fmt.Sprintf("%s (%s)", info.Name, info.API), nil
}

// listModels asks a running server for its model ids.
func listModels(ctx context.Context, url, key string) ([]string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/v1/models", nil)
	if err != nil {
		return nil, fmt.Errorf("--url %s: %w", url, err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("--url %s: %w", url, err)
	}
	defer resp.Body.Close()
	var list struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("--url %s: GET /v1/models: HTTP %d", url, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		return nil, fmt.Errorf("--url %s: GET /v1/models: %w", url, err)
	}
	var ids []string
	for _, m := range list.Data {
		ids = append(ids, m.ID)
	}
	if len(ids) == 0 {
		return nil, errors.New("--url: the server lists no models")
	}
	return ids, nil
}
