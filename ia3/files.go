package ia3

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/internal/textlist"
	"github.com/ia3/ia3/model/nn"
	"github.com/ia3/ia3/model/safetensors"
	"github.com/ia3/ia3/model/torchbin"
)

// WeightsFile is the name PEFT gives an adapter's tensors.
const WeightsFile = "adapter_model.safetensors"

// TorchWeightsFile is the name PEFT gives an adapter's tensors saved with
// safe_serialization=False (torch.save's format). LoadAdapter reads it
// when a directory has no WeightsFile.
const TorchWeightsFile = "adapter_model.bin"

// AdapterDir returns where PEFT's save_pretrained puts an adapter: the
// directory itself for "default", a subdirectory named after it otherwise.
func AdapterDir(dir, adapter string) string {
	if adapter == DefaultAdapter {
		return dir
	}
	return filepath.Join(dir, adapter)
}

// SavePretrained writes the named adapters (default: all) as PEFT's
// save_pretrained does: adapter_config.json (with inference_mode true) and
// adapter_model.safetensors holding the vectors under
// "base_model.model.<module>.ia3_l" in PEFT's shapes, plus each
// modules_to_save copy under "base_model.model.<module>.<param>". Every
// file is written atomically. Tensors are F32 (modules_to_save copies are
// kept in F32 in memory, so a head loaded as F16 is saved as F32).
func (m *Model) SavePretrained(dir string, names ...string) error {
	if err := m.usable(); err != nil {
		return err
	}
	if m.b == nil {
		return errors.New("save adapters: the model has no backend (structure only)")
	}
	if len(names) == 0 {
		names = m.names
	}
	for _, n := range names {
		if _, ok := m.configs[n]; !ok {
			return fmt.Errorf("save adapters: Adapter %s does not exist", n)
		}
	}
	for _, n := range names {
		if err := m.saveOne(AdapterDir(dir, n), n); err != nil {
			return fmt.Errorf("save adapter %s: %w", n, err)
		}
	}
	return nil
}

func (m *Model) saveOne(dir, name string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tensors, err := m.adapterTensors(name)
	if err != nil {
		return err
	}
	if err := safetensors.Write(filepath.Join(dir, WeightsFile), tensors, nil); err != nil {
		return err
	}
	cfg := m.configs[name].Clone()
	cfg.InferenceMode = true
	return cfg.Write(dir)
}

// savedKeys lists the keys save_pretrained writes for an adapter, sorted.
func (m *Model) savedKeys(name string) []string {
	var out []string
	for _, l := range m.layers {
		if l.vectors[name] != nil {
			out = append(out, savedVectorKey(l.Name))
		}
	}
	for _, s := range m.saved {
		if _, ok := s.copies[name]; ok {
			for i := range s.originals {
				out = append(out, s.savedKey(i))
			}
		}
	}
	slices.Sort(out)
	return out
}

// adapterTensors gathers an adapter's state dict with PEFT's saved keys.
func (m *Model) adapterTensors(name string) ([]safetensors.Tensor, error) {
	var out []safetensors.Tensor
	for _, l := range m.layers {
		p := l.vectors[name]
		if p == nil {
			continue
		}
		v, err := m.b.ToFloat32(p.T)
		if err != nil {
			return nil, fmt.Errorf("download %s: %w", p.Name, err)
		}
		out = append(out, safetensors.F32Tensor(savedVectorKey(l.Name), l.AdapterVectorShape(name), v))
	}
	for _, s := range m.saved {
		cs, ok := s.copies[name]
		if !ok {
			continue
		}
		for i, c := range cs {
			v, err := m.b.ToFloat32(c.T)
			if err != nil {
				return nil, fmt.Errorf("download %s: %w", c.Name, err)
			}
			out = append(out, safetensors.F32Tensor(s.savedKey(i), c.T.Shape(), v))
		}
	}
	return out, nil
}

// LoadAdapter loads a PEFT adapter directory as adapter name, as PEFT's
// load_adapter with is_trainable=False: the adapter is attached inactive
// and frozen (SetAdapter activates it and makes it trainable). The file
// must fit the model exactly: a missing key, an unexpected key or a shape
// that differs is refused, naming the keys and shapes, and nothing is
// attached.
func (m *Model) LoadAdapter(dir, name string) error {
	if err := m.usable(); err != nil {
		return err
	}
	if m.b == nil {
		return errors.New("load adapter: the model has no backend (structure only)")
	}
	if err := m.checkAdapterName(name); err != nil {
		return fmt.Errorf("load adapter from %s: %w", dir, err)
	}
	cfg, err := LoadConfig(dir)
	if err != nil {
		return fmt.Errorf("load adapter %s: %w", name, err)
	}
	cfg.InferenceMode = true
	if err := m.AddAdapter(name, cfg); err != nil {
		return fmt.Errorf("load adapter %s from %s: %w", name, dir, err)
	}
	if err := m.fillFromDir(dir, name); err != nil {
		if derr := m.DeleteAdapter(name); derr != nil {
			err = errors.Join(err, derr)
		}
		return fmt.Errorf("load adapter %s: %w", name, err)
	}
	return nil
}

// fillFromDir fills a freshly attached adapter from dir's weights file:
// adapter_model.safetensors, or, when the directory has none,
// adapter_model.bin as PEFT writes with safe_serialization=False (read
// by package torchbin's restricted unpickler, which runs no code).
func (m *Model) fillFromDir(dir, name string) error {
	path := filepath.Join(dir, WeightsFile)
	open := func(p string) (safetensors.Shard, error) { return safetensors.Open(p) }
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		bin := filepath.Join(dir, TorchWeightsFile)
		if _, err := os.Lstat(bin); errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("adapter directory %s has neither %s nor %s: %w", dir, WeightsFile, TorchWeightsFile, fs.ErrNotExist)
		}
		path, open = bin, torchbin.OpenShard
	}
	f, err := open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return m.fillAdapter(f, path, name)
}

// slot is one tensor an adapter file must provide.
type slot struct {
	param *nn.Param // receives the tensor (T replaced)
	shape []int     // shape in the file
	flat  bool      // stored [n] in memory
}

// fillAdapter copies an adapter file's tensors into a freshly added
// adapter, after checking that the keys and shapes match exactly.
func (m *Model) fillAdapter(f safetensors.Shard, path, name string) error {
	want := map[string]slot{}
	for _, l := range m.layers {
		if p := l.vectors[name]; p != nil {
			want[savedVectorKey(l.Name)] = slot{param: p, shape: l.AdapterVectorShape(name), flat: true}
		}
	}
	for _, s := range m.saved {
		for i, c := range s.copies[name] {
			if c.T == nil {
				return fmt.Errorf("modules_to_save %s: %s has no storage (the base model's %s was freed?)", s.name, c.Name, s.originals[i].Name)
			}
			want[s.savedKey(i)] = slot{param: c, shape: c.T.Shape()}
		}
	}
	have := f.Names()
	var missing, unexpected, mismatched []string
	for _, k := range have {
		w, ok := want[k]
		if !ok {
			unexpected = append(unexpected, k)
			continue
		}
		info, _ := f.Info(k)
		if !slices.Equal(info.Shape, w.shape) {
			mismatched = append(mismatched, fmt.Sprintf("%s: file %v, model %v%s", k, info.Shape, w.shape, m.kvHint(k, name)))
		}
	}
	for _, k := range sortedKeys(want) {
		if !slices.Contains(have, k) {
			missing = append(missing, k)
		}
	}
	if len(missing)+len(unexpected)+len(mismatched) > 0 {
		var parts []string
		if len(mismatched) > 0 {
			parts = append(parts, "shape mismatch: "+textlist.Join(mismatched, "; "))
		}
		if len(missing) > 0 {
			parts = append(parts, "missing keys: "+textlist.Join(missing, ", "))
		}
		if len(unexpected) > 0 {
			parts = append(parts, "unexpected keys: "+textlist.Join(unexpected, ", "))
		}
		return fmt.Errorf("%s does not fit the model: %s", path, strings.Join(parts, "; "))
	}
	for _, k := range sortedKeys(want) {
		w := want[k]
		t, err := m.readTensor(f, k, w)
		if err != nil {
			return fmt.Errorf("%s: tensor %s: %w", path, k, err)
		}
		m.free(w.param.T)
		w.param.T = t
	}
	return nil
}

// kvHint explains a vector shape mismatch on a fused q/k/v projection:
// a K/V-only vector (ia3_fused_kv_only) is shorter than PEFT's.
func (m *Model) kvHint(key, adapter string) string {
	for _, l := range m.layers {
		if savedVectorKey(l.Name) != key || l.Linear.Adapter == nil {
			continue
		}
		if l.skip[adapter] > 0 {
			return fmt.Sprintf(" (the config sets %s, so the vector covers the key and value outputs only; the file's does not)", FusedKVOnlyKey)
		}
		if m.info.fusedQKV != nil {
			if _, fused := m.info.fusedQKV(l.Name); fused {
				return fmt.Sprintf(" (a K/V-only vector? its adapter_config.json would set %s)", FusedKVOnlyKey)
			}
		}
	}
	return ""
}

// readTensor uploads one tensor as F32, [n] for vectors.
func (m *Model) readTensor(f safetensors.Shard, key string, w slot) (backend.Tensor, error) {
	v, err := f.Float32(key)
	if err != nil {
		return nil, err
	}
	shape := w.shape
	if w.flat {
		shape = []int{len(v)}
	}
	return m.b.FromFloat32(v, shape...)
}
