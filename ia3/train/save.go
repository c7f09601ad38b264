package train

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/ia3/ia3/ia3"
)

// Temporary directories a run writes inside OutDir: a checkpoint and the
// final adapter are built in one and moved into place when complete.
const (
	checkpointTmpPattern = ".checkpoint-*.tmp"
	adapterTmpPattern    = ".adapter-*.tmp"
)

// staleTmp matches the names os.MkdirTemp gives those directories.
var staleTmp = regexp.MustCompile(`^\.(checkpoint|adapter)-[0-9]+\.tmp$`)

// checkOutDir refuses an output directory the adapter cannot be saved
// to: a path that exists but is not a directory, or one where an adapter
// file's name is taken by a directory. An existing adapter in it is
// replaced when the run ends (and its checkpoints are what --resume
// continues from).
func checkOutDir(dir string) error {
	fi, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("output directory: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("output directory %s exists and is not a directory", dir)
	}
	for _, name := range []string{ia3.ConfigFile, ia3.WeightsFile} {
		if fi, err := os.Lstat(filepath.Join(dir, name)); err == nil && fi.IsDir() {
			return fmt.Errorf("output directory %s: %s is a directory, where the adapter's %s goes", dir, filepath.Join(dir, name), name)
		}
	}
	return nil
}

// removeStaleTmp removes the temporary directories an earlier run in dir
// left behind when it was killed while saving: only directories named as
// this package names them (.checkpoint-<n>.tmp, .adapter-<n>.tmp) that
// hold nothing but the files a checkpoint or adapter is made of.
func removeStaleTmp(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("clean %s: %w", dir, err)
	}
	for _, e := range entries {
		if !e.IsDir() || !staleTmp.MatchString(e.Name()) {
			continue
		}
		path := filepath.Join(dir, e.Name())
		if ok, err := onlyOurFiles(path); err != nil || !ok {
			continue
		}
		if err := os.RemoveAll(path); err != nil {
			return fmt.Errorf("clean %s: %w", dir, err)
		}
	}
	return nil
}

// savedFiles are the files a checkpoint or an adapter directory holds.
var savedFiles = []string{ia3.ConfigFile, ia3.WeightsFile, OptimizerFile, StateFile}

// onlyOurFiles reports whether dir holds only regular files named as a
// checkpoint's, or as atomicfile's temporaries of them.
func onlyOurFiles(dir string) (bool, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false, err
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || !isSavedFile(e.Name()) {
			return false, nil
		}
	}
	return true, nil
}

// isSavedFile reports whether name is one of savedFiles or a temporary
// one of atomicfile's (".<name>.tmp-<n>").
func isSavedFile(name string) bool {
	for _, f := range savedFiles {
		if name == f || strings.HasPrefix(name, "."+f+".tmp-") {
			return true
		}
	}
	return false
}

// replaceDir moves the complete directory src to dst. A dst already
// there (a checkpoint of the same step from an earlier run) is first
// moved aside under a temporary name, so dst is never missing a part;
// if the process dies in between, removeStaleTmp removes what is left.
func replaceDir(src, dst string) error {
	if _, err := os.Lstat(dst); errors.Is(err, fs.ErrNotExist) {
		return os.Rename(src, dst)
	}
	aside, err := os.MkdirTemp(filepath.Dir(dst), checkpointTmpPattern)
	if err != nil {
		return err
	}
	if err := os.Remove(aside); err != nil {
		return err
	}
	if err := os.Rename(dst, aside); err != nil {
		return err
	}
	if err := os.Rename(src, dst); err != nil {
		return errors.Join(err, os.Rename(aside, dst))
	}
	return os.RemoveAll(aside)
}

// saveAdapter saves pm's adapter into dir as one change: its files are
// written into a temporary directory inside dir and renamed into place
// only once all of them are complete, the config last. A full disk or a
// failed write leaves dir as it was (the previous adapter, or none), never
// weights without their config.
func saveAdapter(pm *ia3.Model, dir string) (err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(dir, adapterTmpPattern)
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := pm.SavePretrained(tmp); err != nil {
		return err
	}
	entries, err := os.ReadDir(tmp)
	if err != nil {
		return err
	}
	var config string
	for _, e := range entries {
		if e.Name() == ia3.ConfigFile {
			config = e.Name()
			continue
		}
		// A named adapter of a mixed run is a directory (PEFT's layout):
		// it replaces the one an earlier run saved there whole.
		move := os.Rename
		if e.IsDir() {
			move = replaceDir
		}
		if err := move(filepath.Join(tmp, e.Name()), filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	if config != "" {
		if err := os.Rename(filepath.Join(tmp, config), filepath.Join(dir, config)); err != nil {
			return err
		}
	}
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
