package model

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/model/nn"
	"github.com/ia3/ia3/model/safetensors"
	"github.com/ia3/ia3/quant"
)

// NewRandom builds the model of cfg with random F32 weights, reproducible
// from seed: normal(0, initializer_range) matrices and embeddings (0.02
// when the config has none), zero biases, unit norm weights — the shape of
// transformers' initialisation, for benchmarks and demos.
func NewRandom(cfg *Config, b backend.Backend, seed uint64) (*Model, error) {
	return NewRandomWith(cfg, b, seed, RandomOptions{})
}

// RandomOptions sets how NewRandomWith stores the weights, as a checkpoint
// loaded in that form would hold them: for memory benchmarks.
type RandomOptions struct {
	// BF16 stores the Linear weights and embeddings as bfloat16 (the
	// random values rounded), as a BF16 checkpoint loads; norms and biases
	// stay float32.
	BF16 bool
	// Quantize stores the blocks' Linear and Conv1D weights in this format,
	// chosen as LoadOptions.Quantize chooses them; each is quantized as it
	// is made, so the float weights never reach the device.
	Quantize quant.Format
}

// NewRandomWith is NewRandom with the weights stored as o says.
func NewRandomWith(cfg *Config, b backend.Backend, seed uint64, o RandomOptions) (*Model, error) {
	if b == nil {
		return nil, fmt.Errorf("model.NewRandom: nil backend")
	}
	if err := checkQuantizable(b, o.Quantize); err != nil {
		return nil, fmt.Errorf("model.NewRandom: %w", err)
	}
	m, err := build(cfg, b)
	if err != nil {
		return nil, fmt.Errorf("model.NewRandom: %w", err)
	}
	init := m.initializer(seed)
	quantized := m.quantizable(o.Quantize)
	var half map[*nn.Param]bool
	if o.BF16 {
		half = m.halfCapable()
	}
	m.quant = o.Quantize
	err = m.fill(func(p *nn.Param, shape []int) (backend.Tensor, error) {
		v := init(p, shape)
		if l := quantized[p]; l != nil {
			return m.quantizeValues(l, v, o.Quantize)
		}
		if half[p] {
			m.dtypes[p.Name] = safetensors.BF16
			return b.FromBytes(backend.BF16, encodeFloats(safetensors.BF16, v), shape...)
		}
		return b.FromFloat32(v, shape...)
	})
	if err != nil {
		return nil, fmt.Errorf("model.NewRandom: %w", err)
	}
	return m, nil
}

// initializer returns a function giving a parameter's initial values:
// normal(0, initializer_range) for matrices and embeddings (0.02 when the
// config has none), zeros for biases, ones for norm weights. Successive
// calls draw from one generator seeded by seed.
func (m *Model) initializer(seed uint64) func(p *nn.Param, shape []int) []float32 {
	std := 0.02
	if v, ok := m.cfg.Raw["initializer_range"].(float64); ok && v > 0 {
		std = v
	}
	// Norm weights start at the identity: 1, or 0 where the norm scales
	// by (1 + weight) as Gemma's do.
	norms := map[*nn.Param]float32{}
	for _, nm := range m.modules {
		if n, ok := nm.Module.(*nn.Norm); ok && n.Weight != nil {
			norms[n.Weight] = 1 - n.WeightOffset
		}
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	return func(p *nn.Param, shape []int) []float32 {
		n := 1
		for _, d := range shape {
			n *= d
		}
		v := make([]float32, n)
		one, isNorm := norms[p]
		switch {
		case isNorm:
			for i := range v {
				v[i] = one
			}
		case strings.HasSuffix(p.Name, ".bias"):
		default:
			for i := range v {
				v[i] = float32(rng.NormFloat64() * std)
			}
		}
		return v
	}
}
