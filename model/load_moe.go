package model

import (
	"fmt"
	"regexp"
	"runtime"
	"strconv"
	"sync"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/model/nn"
	"github.com/ia3/ia3/model/safetensors"
)

// expertSlice locates one expert weight inside a fused checkpoint entry.
// For Mixtral (transformers 5) it is the contiguous elements [off, off+n)
// of entry. For Llama 4 (rows > 0) the weight [cols, rows] is the
// transpose of columns [col, col+cols) of the rows rows of stride
// elements that start at element off: the entry stores x·W's W [in, out]
// per expert, the weight is torch Linear's [out, in].
type expertSlice struct {
	entry                   string
	off, n                  int
	rows, cols, col, stride int
}

// cut returns the slice's elements, of size bytes each, from raw (the
// whole entry), transposed when the slice says so.
func (s expertSlice) cut(raw []byte, size int) []byte {
	if s.rows == 0 {
		return raw[s.off*size : (s.off+s.n)*size]
	}
	out := make([]byte, s.rows*s.cols*size)
	// Output rows (the weight's) split among the CPUs when there are
	// megabytes to move: a released model cuts hundreds of gigabytes.
	const tile = 32
	tiles := (s.cols + tile - 1) / tile
	workers := 1
	if len(out) >= 1<<20 {
		workers = min(runtime.GOMAXPROCS(0), tiles)
	}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(first, last int) {
			defer wg.Done()
			s.cutTiles(out, raw, size, first*tile, min(last*tile, s.cols))
		}(w*tiles/workers, (w+1)*tiles/workers)
	}
	wg.Wait()
	return out
}

// cutTiles writes the weight's rows [c0, c1) into out (cut), in tiles of
// 32 × 32 elements, so that reads and writes both stay within a few cache
// lines, with the element copy written out for the common sizes.
func (s expertSlice) cutTiles(out, raw []byte, size, c0, c1 int) {
	const tile = 32
	step := s.stride * size
	for r0 := 0; r0 < s.rows; r0 += tile {
		r1 := min(r0+tile, s.rows)
		for t0 := c0; t0 < c1; t0 += tile {
			for c := t0; c < min(t0+tile, c1); c++ {
				dst := out[(c*s.rows+r0)*size : (c*s.rows+r1)*size]
				f := (s.off + r0*s.stride + s.col + c) * size
				switch size {
				case 2:
					for i := 0; i+1 < len(dst); i, f = i+2, f+step {
						v := raw[f : f+2 : f+2]
						dst[i], dst[i+1] = v[0], v[1]
					}
				case 4:
					for i := 0; i+3 < len(dst); i, f = i+4, f+step {
						v := raw[f : f+4 : f+4]
						dst[i], dst[i+1], dst[i+2], dst[i+3] = v[0], v[1], v[2], v[3]
					}
				default:
					for i := 0; i < len(dst); i, f = i+size, f+step {
						copy(dst[i:i+size], raw[f:f+size])
					}
				}
			}
		}
	}
}

// fusedEntry is a checkpoint entry [blocks, in, cols] the model holds as
// several parameters: Llama 4's experts.gate_up_proj [E, H, 2I] and
// experts.down_proj [E, I, H], one Linear weight per expert and
// projection. Loading cuts each part out of the entry (transposed, in the
// entry's dtype or quantized) and Save writes the entry back from them, in
// the layout and dtype it was read.
type fusedEntry struct {
	name  string
	shape []int
	parts []fusedPart
}

// fusedPart is one parameter [out, in] of a fusedEntry: the transpose of
// columns [col, col+out) of the entry's block block.
type fusedPart struct {
	p          *nn.Param
	block, col int
}

// slice locates part pt of f in checkpoint entry name.
func (f *fusedEntry) slice(name string, pt fusedPart, out int) expertSlice {
	in, stride := f.shape[1], f.shape[2]
	return expertSlice{entry: name, off: pt.block * in * stride, rows: in, cols: out, col: pt.col, stride: stride}
}

// fusedByName returns the fused entry called name, nil when none is.
func (m *Model) fusedByName(name string) *fusedEntry {
	for _, f := range m.fused {
		if f.name == name {
			return f
		}
	}
	return nil
}

// fusedOf maps every part parameter to its entry.
func (m *Model) fusedOf() map[*nn.Param]*fusedEntry {
	out := map[*nn.Param]*fusedEntry{}
	for _, f := range m.fused {
		for _, pt := range f.parts {
			out[pt.p] = f
		}
	}
	return out
}

// fusedValues downloads f's parts and assembles the entry as the
// checkpoint lays it out (quantized parts dequantized), with the dtype the
// parts were loaded in (F32 when unknown).
func (m *Model) fusedValues(f *fusedEntry) ([]float32, string, error) {
	n := 1
	for _, d := range f.shape {
		n *= d
	}
	out := make([]float32, n)
	in, stride := f.shape[1], f.shape[2]
	dt := ""
	for _, pt := range f.parts {
		if pt.p.T == nil {
			return nil, "", fmt.Errorf("%s: part %s has no storage (freed?)", f.name, pt.p.Name)
		}
		v, err := m.b.ToFloat32(pt.p.T)
		if err != nil {
			return nil, "", fmt.Errorf("%s: download %s: %w", f.name, pt.p.Name, err)
		}
		rows := len(v) / in
		base := pt.block*in*stride + pt.col
		for o := 0; o < rows; o++ {
			for i := 0; i < in; i++ {
				out[base+i*stride+o] = v[o*in+i]
			}
		}
		if dt == "" {
			dt = m.dtypes[pt.p.Name]
		}
	}
	if dt == "" {
		dt = safetensors.F32
	}
	return out, dt, nil
}

// expertWeight matches the per-expert weights of transformers 4's
// Mixtral layout, the one this package builds.
var expertWeight = regexp.MustCompile(`^model\.layers\.(\d+)\.block_sparse_moe\.experts\.(\d+)\.(w[123])\.weight$`)

// fusedExperts finds the slices of fused checkpoint entries that expert
// weights load from: Llama 4's parts of m.fused, and, for Mixtral weights
// the checkpoint lacks under their own names, their slices in transformers
// 5's fused experts: per
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
	for _, f := range m.fused {
		name, ok := find(f.name)
		if !ok {
			continue
		}
		info, _ := r.Info(name)
		if err := checkShape(r, name, info.Shape, f.shape); err != nil {
			return nil, err
		}
		for _, pt := range f.parts {
			out[pt.p] = f.slice(name, pt, m.shapes[pt.p.Name][0])
		}
		used[name] = true
	}
	return out, nil
}

// expertLoader reads expert slices, keeping the raw bytes of the fused
// entries of the layer being loaded (two entries at most) so that each
// is read once; a layer's parameters come in order, entry by entry.
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
	part := s.cut(raw, size)
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
