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
	single   string           // file name of the single-file form
	shards   map[string]Shard // by shard file name
	owner    map[string]Shard // tensor name → shard holding it
	names    []string
	metadata map[string]string
}

// Shard is one weights file of a checkpoint: a safetensors File, or a file
// of another format (torch.save's pytorch_model.bin) read into the same
// accessors so that model loading does not care which it reads.
type Shard interface {
	// Path returns the file's path, for messages.
	Path() string
	// Names returns the tensor names, sorted.
	Names() []string
	// Info returns a tensor's dtype and shape (and, for safetensors, its
	// byte range).
	Info(name string) (TensorInfo, bool)
	// Bytes returns a copy of a tensor's contiguous little-endian bytes.
	Bytes(name string) ([]byte, error)
	// Float32 returns a floating tensor widened or rounded to float32.
	Float32(name string) ([]float32, error)
	// Int64 returns an integer or bool tensor as int64.
	Int64(name string) ([]int64, error)
	// Close releases the file.
	Close() error
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
	return OpenIndexed(dir, IndexFileName, SingleFileName, "safetensors", func(path string) (Shard, error) {
		f, err := Open(path)
		if err != nil {
			return nil, err
		}
		return f, nil
	})
}

// OpenIndexed opens the checkpoint in dir whose index file is named
// indexName and whose single-file form is singleName, opening each file
// with open; format names the format in messages. The index, when
// present, is read as OpenDir reads model.safetensors.index.json (every
// weight_map entry must name a shard file in dir that holds the tensor).
// It lets other formats (torch's pytorch_model.bin.index.json) share the
// index rules.
func OpenIndexed(dir, indexName, singleName, format string, open func(path string) (Shard, error)) (*Checkpoint, error) {
	idxPath := filepath.Join(dir, indexName)
	err := regular.Check(idxPath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return openSingle(dir, indexName, singleName, format, open)
	case err != nil:
		return nil, fmt.Errorf("%s: %w", format, err) // names the path
	}
	raw, err := os.ReadFile(idxPath)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", format, err)
	}
	var idx index
	if err := json.Unmarshal(raw, &idx); err != nil {
		return nil, fmt.Errorf("%s: %s: bad index JSON: %v: %w", format, idxPath, err, ErrCorrupt)
	}
	if len(idx.WeightMap) == 0 {
		return nil, fmt.Errorf("%s: %s: index has no weight_map entries: %w", format, idxPath, ErrCorrupt)
	}
	c := &Checkpoint{dir: dir, index: idxPath, single: singleName, shards: map[string]Shard{}, owner: map[string]Shard{}, metadata: stringMetadata(idx.Metadata)}
	for _, name := range slices.Sorted(maps.Keys(idx.WeightMap)) {
		shard := idx.WeightMap[name]
		if shard == "" || filepath.Base(shard) != shard || shard == "." || shard == ".." {
			c.Close()
			return nil, fmt.Errorf("%s: %s: tensor %q: shard %q is not a file name inside the directory: %w", format, idxPath, name, shard, ErrCorrupt)
		}
		f, ok := c.shards[shard]
		if !ok {
			f, err = open(filepath.Join(dir, shard))
			if err != nil {
				c.Close()
				return nil, fmt.Errorf("%w (the shard of tensor %q in %s)", err, name, idxPath) // err names the shard
			}
			c.shards[shard] = f
		}
		if _, ok := f.Info(name); !ok {
			c.Close()
			return nil, fmt.Errorf("%s: %s: tensor %q is mapped to shard %s, which lacks it: %w", format, idxPath, name, f.Path(), ErrNotFound)
		}
		c.owner[name] = f
	}
	c.names = slices.Sorted(maps.Keys(c.owner))
	return c, nil
}

// openSingle opens dir/singleName as a one-shard checkpoint.
func openSingle(dir, indexName, singleName, format string, open func(path string) (Shard, error)) (*Checkpoint, error) {
	f, err := open(filepath.Join(dir, singleName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: checkpoint %s has neither %s nor %s: %w", format, dir, indexName, singleName, fs.ErrNotExist)
	}
	if err != nil {
		return nil, err // names the file
	}
	var meta map[string]string
	if m, ok := f.(interface{ Metadata() map[string]string }); ok {
		meta = m.Metadata()
	}
	c := &Checkpoint{dir: dir, single: singleName, shards: map[string]Shard{singleName: f}, owner: map[string]Shard{}, names: f.Names(), metadata: meta}
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
	return filepath.Join(c.dir, c.single)
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
func (c *Checkpoint) shard(name string) (Shard, error) {
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
	wide, err := f.Int64(name)
	if err != nil {
		return nil, err
	}
	return narrowInt32(f.Path(), name, wide)
}
