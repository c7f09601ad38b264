package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/ia3/ia3/hub"
	"github.com/ia3/ia3/ia3"
)

// resolveModelAdapter resolves --model and, when given, the one --adapter
// of eval and classify, in place.
func (a *app) resolveModelAdapter(ctx context.Context, model, adapter *string) error {
	var err error
	if *model, err = a.resolveHub(ctx, "--model", *model, hub.Model); err != nil {
		return err
	}
	if *adapter != "" {
		*adapter, err = a.resolveHub(ctx, "--adapter", *adapter, hub.Adapter)
	}
	return err
}

// resolveHub turns a --model, --adapter or --config value into a local
// directory: the value itself when it is a local path (an existing path
// always wins over a Hub id), else the snapshot hub.Snapshot returns for
// the Hub id "org/name[@revision]". Call it after the command line is
// checked, so that usage errors never wait on the network.
func (a *app) resolveHub(ctx context.Context, flag, value string, kind hub.Kind) (string, error) {
	if !hub.IsRepoID(value) {
		return value, nil
	}
	bars := newHubBars(a)
	defer bars.finish()
	dir, err := hub.Snapshot(ctx, value, hub.Options{Kind: kind, Progress: bars.report})
	if err != nil {
		return "", fmt.Errorf("%s %s: no such local path, and from the Hub: %w", flag, value, err)
	}
	slog.Debug("hub snapshot", "flag", flag, "repo", value, "dir", dir)
	return dir, nil
}

// resolveAdapterSpecs resolves each --adapter value's directory in place.
func (a *app) resolveAdapterSpecs(ctx context.Context, specs []adapterSpec) error {
	for i := range specs {
		dir, err := a.resolveHub(ctx, "--adapter", specs[i].Dir, hub.Adapter)
		if err != nil {
			return err
		}
		specs[i].Dir = dir
	}
	return nil
}

// resolveModelAndAdapters resolves --model and every --adapter.
func (a *app) resolveModelAndAdapters(ctx context.Context, modelFlag *string, specs []adapterSpec) error {
	dir, err := a.resolveHub(ctx, "--model", *modelFlag, hub.Model)
	if err != nil {
		return err
	}
	*modelFlag = dir
	return a.resolveAdapterSpecs(ctx, specs)
}

// adapterDefaultName is the adapter name an --adapter value without
// =NAME gets: the directory's base name, or the repo's name for a Hub id
// (without its @revision).
func adapterDefaultName(value string) string {
	if hub.IsRepoID(value) {
		if id, err := hub.ParseRepoID(value); err == nil {
			return id.Name
		}
	}
	return filepath.Base(filepath.Clean(value))
}

// recordHubBase writes the Hub id of the base model into an adapter
// config that names none, as PEFT records model.name_or_path (and the
// revision it was given), so that PEFT's AutoPeftModel finds the base.
func recordHubBase(c *ia3.Config, value string) {
	id, err := hub.ParseRepoID(value)
	if err != nil || c.BaseModelNameOrPath != "" {
		return
	}
	c.BaseModelNameOrPath = id.String()
	if c.Revision == "" {
		c.Revision = id.Revision
	}
}

// hubBars renders download progress: a byte bar per file on a terminal,
// a log line per finished file otherwise. The hub package itself never
// prints.
type hubBars struct {
	mu   sync.Mutex
	term bool
	a    *app
	bar  *progressbar.ProgressBar
	file string
}

// newHubBars returns the renderer for a's stderr.
func newHubBars(a *app) *hubBars {
	return &hubBars{a: a, term: terminal(a.stderr) != nil}
}

// report is the hub.Options.Progress callback.
func (h *hubBars) report(p hub.Progress) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if p.Finished {
		if h.bar != nil && h.file == p.File {
			_ = h.bar.Finish()
			fmt.Fprintln(h.a.stderr)
			h.bar = nil
		}
		slog.Info("downloaded from the Hub", "repo", p.Repo, "file", p.File, "bytes", p.Total)
		return
	}
	if !h.term {
		return
	}
	if h.bar == nil || h.file != p.File {
		h.finishLocked()
		h.file = p.File
		h.bar = progressbar.NewOptions64(p.Total,
			progressbar.OptionSetWriter(h.a.stderr),
			progressbar.OptionSetDescription(p.Repo+" "+p.File),
			progressbar.OptionShowBytes(true),
			progressbar.OptionShowCount(),
			progressbar.OptionSetWidth(24),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionSetPredictTime(true),
		)
	}
	_ = h.bar.Set64(p.Done)
}

// finish ends a bar left open by a failed download.
func (h *hubBars) finish() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.finishLocked()
}

// finishLocked is finish with h.mu held.
func (h *hubBars) finishLocked() {
	if h.bar != nil {
		_ = h.bar.Exit()
		fmt.Fprintln(h.a.stderr)
		h.bar = nil
	}
}
