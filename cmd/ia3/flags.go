package main

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ia3/ia3/ia3"
	"github.com/ia3/ia3/internal/regular"
)

// requireFlags fails with a usage error naming the first required flag
// left empty.
func requireFlags(cmd *cobra.Command, names ...string) error {
	for _, n := range names {
		if !cmd.Flags().Changed(n) {
			return usagef("%s needs --%s", cmd.CommandPath(), n)
		}
	}
	return nil
}

// mustExist returns a one-line error naming path (and what it is for) when
// it does not exist.
func mustExist(path, what string) error {
	_, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s %s does not exist", what, path)
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w", what, path, err)
	}
	return nil
}

// mustBeFile is mustExist for a file read whole: a FIFO, device or
// directory is refused by name before anything opens it (opening a FIFO
// would wait for a writer).
func mustBeFile(path, what string) error {
	if err := mustExist(path, what); err != nil {
		return err
	}
	if err := regular.Check(path); err != nil {
		return fmt.Errorf("%s %w", what, err)
	}
	return nil
}

// adapterSpec is one --adapter DIR[=NAME] value.
type adapterSpec struct{ Dir, Name string }

// parseAdapterSpecs parses --adapter values; without =NAME the name is
// the directory's base name (a Hub id's repo name).
func parseAdapterSpecs(values []string) ([]adapterSpec, error) {
	out := make([]adapterSpec, 0, len(values))
	seen := map[string]bool{}
	for _, v := range values {
		dir, name := v, ""
		if i := strings.LastIndex(v, "="); i >= 0 {
			dir, name = v[:i], v[i+1:]
			if name == "" || dir == "" {
				return nil, usagef("--adapter %q: want DIR or DIR=NAME", v)
			}
		} else {
			name = adapterDefaultName(dir)
		}
		if seen[name] {
			return nil, usagef("--adapter %q: adapter name %q is used twice (name them with DIR=NAME)", v, name)
		}
		seen[name] = true
		out = append(out, adapterSpec{Dir: dir, Name: name})
	}
	return out, nil
}

// checkNewAdapterName refuses a new adapter name that an --adapter
// already uses: PEFT's add_weighted_adapter would keep the loaded adapter
// and report nothing, so the result would be a copy of it. It is a
// run-time failure (exit 1), like the library's ErrAdapterExists.
func checkNewAdapterName(flag, name string, specs []adapterSpec) error {
	for _, s := range specs {
		if s.Name == name {
			return fmt.Errorf("%s %s: adapter %q is already loaded from %s: %w; choose another name",
				flag, name, name, s.Dir, ia3.ErrAdapterExists)
		}
	}
	return nil
}

// weightedSpec is a parsed --weights/--weighted value.
type weightedSpec struct {
	Adapters []string
	Weights  []float64
}

// parseWeights parses "A:0.6,B:0.4".
func parseWeights(flag, v string) (weightedSpec, error) {
	var w weightedSpec
	for _, part := range strings.Split(v, ",") {
		name, num, ok := strings.Cut(strings.TrimSpace(part), ":")
		if !ok || name == "" {
			return w, usagef("%s %q: want NAME:WEIGHT,NAME:WEIGHT (e.g. a:0.6,b:0.4)", flag, v)
		}
		f, err := strconv.ParseFloat(num, 64)
		if err != nil {
			return w, usagef("%s %q: weight %q of %s is not a number", flag, v, num, name)
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return w, fmt.Errorf("%s %q: weight %q of %s is not a finite number", flag, v, num, name)
		}
		w.Adapters = append(w.Adapters, name)
		w.Weights = append(w.Weights, f)
	}
	return w, nil
}

// splitList splits a comma-separated flag value, dropping empty entries.
func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
