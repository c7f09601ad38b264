package model

import (
	"fmt"
	"regexp"
	"strconv"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/model/nn"
	"github.com/ia3/ia3/model/safetensors"
)

// expertSlice locates one Mixtral expert weight inside a fused
// transformers 5 tensor: elements [off, off+n) of checkpoint entry entry.
type expertSlice struct {
	entry  string
	off, n int
}

// expertWeight matches the per-expert weights of transformers 4's
// Mixtral layout, the one this package builds.
var expertWeight = regexp.MustCompile(`^model\.layers\.(\d+)\.block_sparse_moe\.experts\.(\d+)\.(w[123])\.weight$`)

// fusedExperts finds, for Mixtral weights the checkpoint lacks under
// their own names, their slices in transformers 5's fused experts: per
// layer mlp.experts.gate_up_proj [E, 2·I, H] (each expert's w1, the gate,
// then its w3, the up projection, as the conversion mapping concatenates
// them) and mlp.experts.down_proj [E, H, I] (w2). It checks the fused
// shapes and marks the entries used.
func (m *Model) fusedExperts(r *safetensors.Checkpoint, src map[*nn.Param]string, find func(string) (string, bool),
	used map[string]bool) (map[*nn.Param]expertSlice, error) {
	c := m.cfg
	if c.NumExperts == 0 {
		return nil, nil
	}
	E, H, I := c.NumExperts, c.Hidden, c.Intermediate
	out := map[*nn.Param]expertSlice{}
	for _, p := range m.params {
		if _, ok := src[p]; ok {
			continue
		}
		sm := expertWeight.FindStringSubmatch(p.Name)
		if sm == nil {
			continue
		}
		e, _ := strconv.Atoi(sm[2])
		fused, want := "model.layers."+sm[1]+".mlp.experts.gate_up_proj", []int{E, 2 * I, H}
		if sm[3] == "w2" {
			fused, want = "model.layers."+sm[1]+".mlp.experts.down_proj", []int{E, H, I}
		}
		name, ok := find(fused)
		if !ok {
			continue
		}
		info, _ := r.Info(name)
		if err := checkShape(r, name, info.Shape, want); err != nil {
			return nil, err
		}
		s := expertSlice{entry: name, off: e * H * I, n: H * I}
		switch sm[3] {
		case "w1":
			s.off = e * 2 * I * H
		case "w3":
			s.off = (e*2 + 1) * I * H
		}
		out[p] = s
		used[name] = true
	}
	return out, nil
}

// expertLoader reads expert slices, keeping the raw bytes of the fused
// entries of the layer being loaded (two entries at most) so that each
// is read once.
type expertLoader struct {
	m     *Model
	r     *safetensors.Checkpoint
	cache map[string][]byte
}

// load uploads the slice s as parameter p of the given shape: in the
// entry's half dtype when half is set, else widened to F32, or quantized
// (as LoadOptions.Quantize asks) when quant is the layer to quantize.
func (l *expertLoader) load(p *nn.Param, s expertSlice, shape []int, half bool, quant *nn.Linear) (backend.Tensor, error) {
	info, _ := l.r.Info(s.entry)
	size, ok := safetensors.DTypeSize(info.DType)
	if !ok {
		return nil, fmt.Errorf("%s: tensor %q has dtype %s; weights must be F32, F16, BF16 or F64", l.r.FileOf(s.entry), s.entry, info.DType)
	}
	raw, ok := l.cache[s.entry]
	if !ok {
		if len(l.cache) >= 2 {
			clear(l.cache)
		}
		var err error
		if raw, err = l.r.Bytes(s.entry); err != nil {
			return nil, err
		}
		l.cache[s.entry] = raw
	}
	part := raw[s.off*size : (s.off+s.n)*size]
	dt, native := map[string]backend.DType{safetensors.F32: backend.F32, safetensors.F16: backend.F16,
		safetensors.BF16: backend.BF16}[info.DType]
	if native {
		l.m.dtypes[p.Name] = info.DType
	}
	if native && (half || dt == backend.F32) && quant == nil {
		t, err := l.m.b.FromBytes(dt, part, shape...)
		if err != nil {
			return nil, fmt.Errorf("%s: tensor %q, expert slice of %s: %w", l.r.FileOf(s.entry), s.entry, p.Name, err)
		}
		return t, nil
	}
	v, ok := safetensors.DecodeFloat32(info.DType, part)
	if !ok {
		return nil, fmt.Errorf("%s: tensor %q has dtype %s; weights must be F32, F16, BF16 or F64", l.r.FileOf(s.entry), s.entry, info.DType)
	}
	if quant != nil {
		t, err := l.m.quantizeValues(quant, v, l.m.quant)
		if err != nil {
			return nil, fmt.Errorf("%s: tensor %q, expert slice of %s: %w", l.r.FileOf(s.entry), s.entry, p.Name, err)
		}
		return t, nil
	}
	return l.m.b.FromFloat32(v, shape...)
}
