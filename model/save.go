package model

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/ia3/ia3/internal/atomicfile"
	"github.com/ia3/ia3/model/safetensors"
	"github.com/ia3/ia3/quant"
)

// Save writes the model as a Hugging Face checkpoint directory that
// transformers loads: config.json (the loaded file's fields, unchanged)
// and model.safetensors with every parameter once (tied weights under
// their first owner, as save_pretrained does), each in the dtype it was
// loaded with (a merged F32 weight of an F16 model is rounded back to F16;
// a quantized weight is written dequantized, in its checkpoint's layout;
// an entry held as several parameters, Llama 4's fused experts, is written
// whole in its checkpoint's layout and dtype, so that an unchanged model
// saves its entries bit for bit).
// Each file is written atomically; dir is created when missing.
func (m *Model) Save(dir string) error {
	if m.b == nil {
		return errors.New("model.Save: structure-only model has no weights")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("model.Save: %w", err)
	}
	tensors := make([]safetensors.Tensor, 0, len(m.params))
	transposed := m.transposedWeights()
	parts := m.fusedOf()
	written := map[*fusedEntry]bool{}
	for _, p := range m.params {
		if f := parts[p]; f != nil {
			// Written whole where its first part stands.
			if written[f] {
				continue
			}
			written[f] = true
			v, dt, err := m.fusedValues(f)
			if err != nil {
				return fmt.Errorf("model.Save: %w", err)
			}
			tensors = append(tensors, safetensors.Tensor{Name: f.name, DType: dt, Shape: f.shape, Data: encodeFloats(dt, v)})
			continue
		}
		if p.T == nil {
			return fmt.Errorf("model.Save: parameter %s has no storage (freed?)", p.Name)
		}
		v, err := m.b.ToFloat32(p.T)
		if err != nil {
			return fmt.Errorf("model.Save: download %s: %w", p.Name, err)
		}
		if l := transposed[p]; l != nil { // a quantized Conv1D, held (out, in)
			v = transpose(v, l.Out, l.In)
		}
		dt := m.dtypes[p.Name]
		if dt == "" {
			dt = safetensors.F32
		}
		tensors = append(tensors, safetensors.Tensor{Name: p.Name, DType: dt, Shape: m.shapes[p.Name], Data: encodeFloats(dt, v)})
	}
	cfg, err := json.MarshalIndent(m.cfg.Raw, "", "  ")
	if err != nil {
		return fmt.Errorf("model.Save: encode config.json: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, "config.json"), append(cfg, '\n')); err != nil {
		return fmt.Errorf("model.Save: %w", err)
	}
	if err := safetensors.Write(filepath.Join(dir, safetensors.SingleFileName), tensors, nil); err != nil {
		return fmt.Errorf("model.Save: %w", err)
	}
	return nil
}

// encodeFloats packs v as little-endian F32, F16 or BF16 (rounding to
// nearest even).
func encodeFloats(dtype string, v []float32) []byte {
	switch dtype {
	case safetensors.F16:
		out := make([]byte, 2*len(v))
		for i, x := range v {
			binary.LittleEndian.PutUint16(out[2*i:], f32ToF16(x))
		}
		return out
	case safetensors.BF16:
		out := make([]byte, 2*len(v))
		for i, x := range v {
			binary.LittleEndian.PutUint16(out[2*i:], f32ToBF16(x))
		}
		return out
	}
	out := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(x))
	}
	return out
}

// f32ToBF16 rounds to the nearest bfloat16, ties to even; NaN stays NaN.
func f32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if f != f {
		return uint16(b>>16) | 0x40
	}
	return uint16((b + 0x7fff + (b>>16)&1) >> 16)
}

// f32ToF16 rounds to the nearest IEEE half, ties to even, with overflow to
// infinity and gradual underflow (quant's conversion, shared with Q8_0).
func f32ToF16(f float32) uint16 { return quant.Float32ToHalf(f) }
