package ia3

import (
	"fmt"
	"slices"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/model/nn"
)

// Layer is one adapted Linear/Conv1D layer: PEFT's ia3.Linear. It holds one
// vector per adapter and implements nn.LinearAdapter, so the layer's matmul
// applies the active adapters' vectors fused.
type Layer struct {
	// Name is the module name in the base model ("transformer.h.0.attn.c_attn").
	Name string
	// Linear is the wrapped layer; its Adapter field points back here.
	Linear *nn.Linear
	// Feedforward says the vector scales the input (shape (1, in)) rather
	// than the output (shape (out, 1)).
	Feedforward bool

	vectors map[string]*nn.Param // by adapter name; T is F32 [n]
	// skip holds, per adapter with FusedKVOnly on a fused query/key/value
	// projection, the number of leading (query) outputs its vector leaves
	// unscaled: the vector covers outputs [skip, Out). Absent is 0.
	skip   map[string]int
	order  []string // adapter names in insertion order
	merged []string // adapters merged into the weight, in order
	owner  *Model
	// ones caches F32 [n] tensors of ones by n: K/V-only widening and the
	// plain rows of a mixed batch need them on every forward, so each is
	// uploaded once (freed with the vectors, see detachLayers).
	ones map[int]backend.Tensor
}

// VectorLen returns PEFT's vector length: in features for feed-forward
// layers, out features otherwise. A K/V-only vector is shorter (see
// AdapterVectorLen).
func (l *Layer) VectorLen() int {
	if l.Feedforward {
		return l.Linear.In
	}
	return l.Linear.Out
}

// VectorShape returns the shape PEFT gives the vector: (1, in) for
// feed-forward layers, (out, 1) otherwise. In memory the vector is [n].
// A K/V-only vector is shorter (see AdapterVectorShape).
func (l *Layer) VectorShape() []int {
	if l.Feedforward {
		return []int{1, l.Linear.In}
	}
	return []int{l.Linear.Out, 1}
}

// Unscaled returns the number of leading outputs adapter's vector leaves
// alone: the query outputs of a fused projection under Config.FusedKVOnly,
// else 0.
func (l *Layer) Unscaled(adapter string) int { return l.skip[adapter] }

// AdapterVectorLen returns the length of adapter's vector: VectorLen less
// the outputs it leaves unscaled (Unscaled).
func (l *Layer) AdapterVectorLen(adapter string) int { return l.VectorLen() - l.skip[adapter] }

// AdapterVectorShape returns the shape adapter's vector is saved with:
// VectorShape, with (out − Unscaled, 1) for a K/V-only vector.
func (l *Layer) AdapterVectorShape(adapter string) []int {
	if k := l.skip[adapter]; k > 0 {
		return []int{l.Linear.Out - k, 1}
	}
	return l.VectorShape()
}

// Vector returns the adapter's vector parameter, or nil.
func (l *Layer) Vector(adapter string) *nn.Param { return l.vectors[adapter] }

// Adapters lists the adapters with a vector here, in insertion order.
func (l *Layer) Adapters() []string { return slices.Clone(l.order) }

// Merged lists the adapters currently merged into the weight.
func (l *Layer) Merged() []string { return slices.Clone(l.merged) }

// vectorName is PEFT's parameter name for the layer's vector of adapter.
func vectorName(module, adapter string) string {
	return "base_model.model." + module + ".ia3_l." + adapter
}

// savedVectorKey is the key PEFT's save_pretrained writes: the adapter
// name removed.
func savedVectorKey(module string) string { return "base_model.model." + module + ".ia3_l" }

// Scaling implements nn.LinearAdapter. With adapters disabled, or with any
// adapter merged into the weight, the layer runs plain (as PEFT's forward).
// Otherwise the active adapters' vectors present here are multiplied; when
// the graph names an adapter per batch sample (g.Adapters), the vectors of
// the adapters named are stacked with a per-row index instead.
func (l *Layer) Scaling(g *nn.Graph, rows int) (nn.Scaling, error) {
	m := l.owner
	if m == nil || m.disabled {
		return nn.Scaling{}, nil
	}
	if g.Adapters != nil {
		if len(l.merged) > 0 || m.anyMerged() {
			return nn.Scaling{}, fmt.Errorf("layer %s: cannot run a mixed-adapter batch while adapters are merged into the weights; unmerge first", l.Name)
		}
		return l.mixedScaling(g, rows)
	}
	if len(l.merged) > 0 {
		return nn.Scaling{}, nil
	}
	var v *nn.Value
	for _, name := range m.active {
		p := l.vectors[name]
		if p == nil {
			continue
		}
		pv := l.widen(g, g.Param(p), name)
		if v == nil {
			v = pv
		} else {
			v = g.Mul(v, pv)
		}
	}
	if err := g.Err(); err != nil {
		return nn.Scaling{}, fmt.Errorf("layer %s: %w", l.Name, err)
	}
	return l.scaling(v, nil), nil
}

// widen returns adapter's vector value v over all the layer's outputs:
// a K/V-only vector gets ones for the query outputs it leaves alone
// (gradients reach v through the concatenation). Other vectors are v.
func (l *Layer) widen(g *nn.Graph, v *nn.Value, adapter string) *nn.Value {
	k := l.skip[adapter]
	if k == 0 || v == nil {
		return v
	}
	ones, err := l.onesOf(g.B, k)
	if err != nil {
		return g.Fail("ia3 "+l.Name, fmt.Errorf("ones for the %d query outputs of adapter %s: %w", k, adapter, err))
	}
	return g.Concat(0, g.Constant(ones), v)
}

// onesOf returns the layer's F32 [n] tensor of ones on b, uploading it the
// first time.
func (l *Layer) onesOf(b backend.Backend, n int) (backend.Tensor, error) {
	if t := l.ones[n]; t != nil {
		return t, nil
	}
	t, err := b.FromFloat32(onesVector(n), n)
	if err != nil {
		return nil, err
	}
	if l.ones == nil {
		l.ones = map[int]backend.Tensor{}
	}
	l.ones[n] = t
	return t, nil
}

// freeOnes releases the cached tensors of ones.
func (l *Layer) freeOnes(b backend.Backend) {
	for n, t := range l.ones {
		b.Free(t)
		delete(l.ones, n)
	}
}

// onesVector returns n ones.
func onesVector(n int) []float32 {
	ones := make([]float32, n)
	for i := range ones {
		ones[i] = 1
	}
	return ones
}

// widenTensor is widen for a merge: adapter's vector t over all outputs,
// as a new tensor the caller frees, or t itself (fresh false).
func (l *Layer) widenTensor(b backend.Backend, t backend.Tensor, adapter string) (w backend.Tensor, fresh bool, err error) {
	k := l.skip[adapter]
	if k == 0 {
		return t, false, nil
	}
	ones, err := l.onesOf(b, k)
	if err != nil {
		return nil, false, err
	}
	w, err = b.Concat(0, ones, t)
	if err != nil {
		return nil, false, fmt.Errorf("widen the K/V-only vector of adapter %s [%d] by %d ones: %w", adapter, t.Len(), k, err)
	}
	return w, true, nil
}

// scaling puts v on the side the layer scales.
func (l *Layer) scaling(v *nn.Value, index backend.Tensor) nn.Scaling {
	if v == nil {
		return nn.Scaling{}
	}
	if l.Feedforward {
		return nn.Scaling{In: v, Index: index}
	}
	return nn.Scaling{Out: v, Index: index}
}

// mixedScaling stacks the vectors of the adapters g.Adapters names into
// [A, n] with an I32 index per row: row r of sample s uses the vector of
// g.Adapters[s], or none when that is "" or has no vector in this layer.
// Each row then equals a run of its sample with that adapter alone active.
// PEFT never built this for IA3 (peft#759). On a graph with gradients the
// vectors enter as parameters, so each row's gradient reaches only its own
// adapter's vector, and rows without one use a constant vector of ones
// (the gradient path gathers a vector for every row).
func (l *Layer) mixedScaling(g *nn.Graph, rows int) (nn.Scaling, error) {
	m := l.owner
	samples := len(g.Adapters)
	if samples == 0 || rows%samples != 0 {
		return nn.Scaling{}, fmt.Errorf("layer %s: %d rows do not split into %d samples of the mixed-adapter batch", l.Name, rows, samples)
	}
	if err := m.checkMixed(g.Adapters); err != nil {
		return nn.Scaling{}, err
	}
	slot := map[string]int32{}
	var stack []*nn.Param
	var names []string // the adapter of each stacked vector
	plain := false
	for _, name := range g.Adapters {
		if _, seen := slot[name]; seen {
			continue
		}
		p := l.vectors[name]
		if name == "" || p == nil {
			slot[name] = -1
			plain = true
			continue
		}
		slot[name] = int32(len(stack))
		stack = append(stack, p)
		names = append(names, name)
	}
	if len(stack) == 0 {
		return nn.Scaling{}, nil
	}
	var stacked *nn.Value
	var err error
	if g.Grad() {
		stacked, err = l.stackValues(g, stack, names, plain)
		if plain {
			for name, i := range slot {
				if i < 0 {
					slot[name] = int32(len(stack))
				}
			}
		}
	} else {
		stacked, err = l.stackTensors(g, stack, names)
	}
	if err != nil {
		return nn.Scaling{}, err
	}
	per := rows / samples
	idx := make([]int32, rows)
	for s, name := range g.Adapters {
		for r := 0; r < per; r++ {
			idx[s*per+r] = slot[name]
		}
	}
	index, err := g.B.FromInt32(idx, rows)
	if err != nil {
		return nn.Scaling{}, fmt.Errorf("layer %s: upload adapter index: %w", l.Name, err)
	}
	g.Own(index)
	return l.scaling(stacked, index), nil
}

// stackTensors stacks the vectors, each widened over the outputs its
// adapter leaves unscaled (K/V-only), into one constant [A, n] tensor: the
// inference path, which records nothing.
func (l *Layer) stackTensors(g *nn.Graph, stack []*nn.Param, names []string) (*nn.Value, error) {
	n := l.VectorLen()
	views := make([]backend.Tensor, len(stack))
	for i, p := range stack {
		t, fresh, err := l.widenTensor(g.B, p.T, names[i])
		if err != nil {
			return nil, fmt.Errorf("layer %s: %w", l.Name, err)
		}
		if fresh {
			g.Own(t)
		}
		v, err := g.B.View(t, 1, n)
		if err != nil {
			return nil, fmt.Errorf("layer %s: %w", l.Name, err)
		}
		views[i] = v
	}
	stacked, err := g.B.Concat(0, views...)
	if err != nil {
		return nil, fmt.Errorf("layer %s: stack %d vectors of %d: %w", l.Name, len(views), n, err)
	}
	g.Own(stacked)
	return g.Constant(stacked), nil
}

// stackValues stacks the vectors as graph values [A, n] (A+1 with a last
// row of ones when plain rows need one), so that gradients reach each
// trainable vector (each widened with constant ones over the outputs its
// adapter leaves unscaled, so no gradient reaches those).
func (l *Layer) stackValues(g *nn.Graph, stack []*nn.Param, names []string, plain bool) (*nn.Value, error) {
	n := l.VectorLen()
	vs := make([]*nn.Value, 0, len(stack)+1)
	for i, p := range stack {
		vs = append(vs, g.Reshape(l.widen(g, g.Param(p), names[i]), 1, n))
	}
	if plain {
		ones, err := l.onesOf(g.B, n)
		if err != nil {
			return nil, fmt.Errorf("layer %s: upload ones: %w", l.Name, err)
		}
		vs = append(vs, g.Reshape(g.Constant(ones), 1, n))
	}
	v := g.Concat(0, vs...)
	if err := g.Err(); err != nil {
		return nil, fmt.Errorf("layer %s: stack %d vectors of %d: %w", l.Name, len(vs), n, err)
	}
	return v, nil
}
