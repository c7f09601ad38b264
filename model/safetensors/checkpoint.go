package safetensors

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/ia3/ia3/internal/regular"
)

// Standard file names of a Hugging Face checkpoint directory.
const (
	SingleFileName = "model.safetensors"
	IndexFileName  = "model.safetensors.index.json"
)

// Checkpoint is a model directory's weights: one file or several shards
// joined by an index. It offers the same accessors as File.
type Checkpoint struct {
	dir      string
	index    string           // path of the index file; "" for a single file
	shards   map[string]*File // by shard file name
	owner    map[string]*File // tensor name → shard holding it
	names    []string
	metadata map[string]string
}

// index is the JSON layout of model.safetensors.index.json.
type index struct {
	Metadata  map[string]any    `json:"metadata"`
	WeightMap map[string]string `json:"weight_map"`
}

// OpenDir opens the checkpoint in dir: model.safetensors.index.json when
// present (every weight_map entry must name a shard file in dir that holds
// the tensor), otherwise model.safetensors.
func OpenDir(dir string) (*Checkpoint, error) {
	idxPath := filepath.Join(dir, IndexFileName)
	err := regular.Check(idxPath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return openSingle(dir)
	case err != nil:
		return nil, fmt.Errorf("safetensors: %w", err) // names the path
	}
	raw, err := os.ReadFile(idxPath)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	var idx index
	if err := json.Unmarshal(raw, &idx); err != nil {
		return nil, fmt.Errorf("safetensors: %s: bad index JSON: %v: %w", idxPath, err, ErrCorrupt)
	}
	if len(idx.WeightMap) == 0 {
		return nil, fmt.Errorf("safetensors: %s: index has no weight_map entries: %w", idxPath, ErrCorrupt)
	}
	c := &Checkpoint{dir: dir, index: idxPath, shards: map[string]*File{}, owner: map[string]*File{}, metadata: stringMetadata(idx.Metadata)}
	for _, name := range slices.Sorted(maps.Keys(idx.WeightMap)) {
		shard := idx.WeightMap[name]
		if shard == "" || filepath.Base(shard) != shard || shard == "." || shard == ".." {
			c.Close()
			return nil, fmt.Errorf("safetensors: %s: tensor %q: shard %q is not a file name inside the directory: %w", idxPath, name, shard, ErrCorrupt)
		}
		f, ok := c.shards[shard]
		if !ok {
			f, err = Open(filepath.Join(dir, shard))
			if err != nil {
				c.Close()
				return nil, fmt.Errorf("%w (the shard of tensor %q in %s)", err, name, idxPath) // err names the shard
			}
			c.shards[shard] = f
		}
		if _, ok := f.Info(name); !ok {
			c.Close()
			return nil, fmt.Errorf("safetensors: %s: tensor %q is mapped to shard %s, which lacks it: %w", idxPath, name, f.Path(), ErrNotFound)
		}
		c.owner[name] = f
	}
	c.names = slices.Sorted(maps.Keys(c.owner))
	return c, nil
}

// openSingle opens dir/model.safetensors as a one-shard checkpoint.
func openSingle(dir string) (*Checkpoint, error) {
	f, err := Open(filepath.Join(dir, SingleFileName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("safetensors: checkpoint %s has neither %s nor %s: %w", dir, IndexFileName, SingleFileName, fs.ErrNotExist)
	}
	if err != nil {
		return nil, err // names the file
	}
	c := &Checkpoint{dir: dir, shards: map[string]*File{SingleFileName: f}, owner: map[string]*File{}, names: f.Names(), metadata: f.Metadata()}
	for _, n := range c.names {
		c.owner[n] = f
	}
	return c, nil
}

// stringMetadata keeps the string-valued entries of an index's metadata
// (e.g. total_size is a number and is rendered in decimal).
func stringMetadata(m map[string]any) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		switch v := v.(type) {
		case string:
			out[k] = v
		default:
			b, _ := json.Marshal(v)
			out[k] = string(b)
		}
	}
	return out
}

// Dir returns the checkpoint directory.
func (c *Checkpoint) Dir() string { return c.dir }

// Path returns the file that lists the checkpoint's tensors: the index of
// a sharded checkpoint, else the single file. Messages about the whole
// checkpoint (a missing tensor) name it.
func (c *Checkpoint) Path() string {
	if c.index != "" {
		return c.index
	}
	return filepath.Join(c.dir, SingleFileName)
}

// FileOf returns the path of the file holding tensor name (its shard), or
// Path when the checkpoint lacks it.
func (c *Checkpoint) FileOf(name string) string {
	if f, ok := c.owner[name]; ok {
		return f.Path()
	}
	return c.Path()
}

// Close closes every shard, returning the first error.
func (c *Checkpoint) Close() error {
	var first error
	for _, f := range c.shards {
		if err := f.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Names returns every tensor name across shards, sorted.
func (c *Checkpoint) Names() []string { return slices.Clone(c.names) }

// Metadata returns the index's metadata (or the single file's).
func (c *Checkpoint) Metadata() map[string]string { return maps.Clone(c.metadata) }

// shard returns the file holding name.
func (c *Checkpoint) shard(name string) (*File, error) {
	f, ok := c.owner[name]
	if !ok {
		return nil, fmt.Errorf("safetensors: checkpoint %s: tensor %q: %w", c.dir, name, ErrNotFound)
	}
	return f, nil
}

// Info returns the dtype, shape and byte range (within its shard) of name.
func (c *Checkpoint) Info(name string) (TensorInfo, bool) {
	f, ok := c.owner[name]
	if !ok {
		return TensorInfo{}, false
	}
	return f.Info(name)
}

// Bytes returns a copy of the tensor's raw bytes.
func (c *Checkpoint) Bytes(name string) ([]byte, error) {
	f, err := c.shard(name)
	if err != nil {
		return nil, err
	}
	return f.Bytes(name)
}

// Float32 returns a floating tensor as float32 (see File.Float32).
func (c *Checkpoint) Float32(name string) ([]float32, error) {
	f, err := c.shard(name)
	if err != nil {
		return nil, err
	}
	return f.Float32(name)
}

// Int64 returns an integer tensor as int64 (see File.Int64).
func (c *Checkpoint) Int64(name string) ([]int64, error) {
	f, err := c.shard(name)
	if err != nil {
		return nil, err
	}
	return f.Int64(name)
}

// Int32 returns an integer tensor as int32 (see File.Int32).
func (c *Checkpoint) Int32(name string) ([]int32, error) {
	f, err := c.shard(name)
	if err != nil {
		return nil, err
	}
	return f.Int32(name)
}
