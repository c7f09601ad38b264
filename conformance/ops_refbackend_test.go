package conformance

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/conformance/ref"
	"github.com/ia3/ia3/quant"
)

// refBackend is a test-only backend.Backend that computes every operation
// with package ref in float64 and stores float32: the suite must pass on it
// (the harness, the cases and the tolerances agree), and a copy with one
// operation broken must fail exactly that operation's rows.
type refBackend struct {
	// broken, when set, replaces some results before they are stored.
	broken func(op string, out ref.T) ref.T
	// geluTanhForErf, when set, computes GELU's tanh form where its erf
	// form is asked for: the classic wrong-GELU bug.
	geluTanhForErf bool
}

// refTensor is a refBackend tensor: float values (already rounded to the
// dtype's precision) or int32 values.
type refTensor struct {
	owner *refBackend
	shape []int
	dtype backend.DType
	data  []float64
}

func (t *refTensor) Shape() []int         { return t.shape }
func (t *refTensor) DType() backend.DType { return t.dtype }
func (t *refTensor) Len() int             { return numel(t.shape) }

var _ backend.Backend = (*refBackend)(nil)

func (b *refBackend) Info() backend.DeviceInfo {
	return backend.DeviceInfo{Spec: "ref", Name: "float64 reference", API: "Go", Type: "Host", Driver: "test", Compute: true, QuantizedWeights: true}
}
func (b *refBackend) Close() error { return nil }
func (b *refBackend) Sync() error  { return nil }

// get returns t as a ref tensor after checking it is one of ours.
func (b *refBackend) get(t backend.Tensor) (ref.T, error) {
	rt, ok := t.(*refTensor)
	if !ok || rt.owner != b {
		return ref.T{}, errors.New("tensor of another backend")
	}
	return ref.T{Shape: rt.shape, Data: rt.data}, nil
}

// gets converts several tensors.
func (b *refBackend) gets(ts ...backend.Tensor) ([]ref.T, error) {
	out := make([]ref.T, len(ts))
	for i, t := range ts {
		r, err := b.get(t)
		if err != nil {
			return nil, err
		}
		out[i] = r
	}
	return out, nil
}

// opt converts an optional tensor.
func (b *refBackend) opt(t backend.Tensor) (*ref.T, error) {
	if t == nil {
		return nil, nil
	}
	r, err := b.get(t)
	return &r, err
}

// ids converts an I32 tensor to ints.
func (b *refBackend) ids(t backend.Tensor) ([]int, error) {
	r, err := b.get(t)
	if err != nil {
		return nil, err
	}
	out := make([]int, len(r.Data))
	for i, v := range r.Data {
		out[i] = int(v)
	}
	return out, nil
}

// put stores a result as F32, rounding it to float32.
func (b *refBackend) put(op string, r ref.T, err error) (backend.Tensor, error) {
	if err != nil {
		return nil, err
	}
	if b.broken != nil {
		r = b.broken(op, r)
	}
	d := make([]float64, len(r.Data))
	for i, v := range r.Data {
		d[i] = float64(float32(v))
	}
	return &refTensor{owner: b, shape: append([]int(nil), r.Shape...), dtype: backend.F32, data: d}, nil
}

func (b *refBackend) Zeros(shape ...int) (backend.Tensor, error) {
	return b.put("Zeros", ref.New(shape...), nil)
}

func (b *refBackend) FromFloat32(data []float32, shape ...int) (backend.Tensor, error) {
	d := make([]float64, len(data))
	for i, v := range data {
		d[i] = float64(v)
	}
	return b.put("FromFloat32", ref.T{Shape: shape, Data: d}, nil)
}

func (b *refBackend) FromInt32(data []int32, shape ...int) (backend.Tensor, error) {
	d := make([]float64, len(data))
	for i, v := range data {
		d[i] = float64(v)
	}
	return &refTensor{owner: b, shape: append([]int(nil), shape...), dtype: backend.I32, data: d}, nil
}

func (b *refBackend) FromBytes(dtype backend.DType, data []byte, shape ...int) (backend.Tensor, error) {
	if dtype.IsQuantized() {
		v, err := quant.Dequantize(dtype.QuantFormat(), data, shape[0], shape[1])
		if err != nil {
			return nil, err
		}
		d := make([]float64, len(v))
		for i, x := range v {
			d[i] = float64(x)
		}
		return &refTensor{owner: b, shape: append([]int(nil), shape...), dtype: dtype, data: d}, nil
	}
	n := numel(shape)
	d := make([]float64, n)
	for i := range d {
		switch dtype {
		case backend.F32:
			d[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:])))
		case backend.I32:
			d[i] = float64(int32(binary.LittleEndian.Uint32(data[4*i:])))
		case backend.F16:
			d[i] = ref.F16(binary.LittleEndian.Uint16(data[2*i:]))
		case backend.BF16:
			d[i] = ref.BF16(binary.LittleEndian.Uint16(data[2*i:]))
		}
	}
	return &refTensor{owner: b, shape: append([]int(nil), shape...), dtype: dtype, data: d}, nil
}

func (b *refBackend) ToFloat32(t backend.Tensor) ([]float32, error) {
	r, err := b.get(t)
	if err != nil {
		return nil, err
	}
	out := make([]float32, len(r.Data))
	for i, v := range r.Data {
		out[i] = float32(v)
	}
	return out, nil
}

func (b *refBackend) ToInt32(t backend.Tensor) ([]int32, error) {
	r, err := b.get(t)
	if err != nil {
		return nil, err
	}
	out := make([]int32, len(r.Data))
	for i, v := range r.Data {
		out[i] = int32(v)
	}
	return out, nil
}

func (b *refBackend) Free(backend.Tensor) {}

func (b *refBackend) View(t backend.Tensor, shape ...int) (backend.Tensor, error) {
	rt, ok := t.(*refTensor)
	if !ok || rt.owner != b {
		return nil, errors.New("tensor of another backend")
	}
	return &refTensor{owner: b, shape: append([]int(nil), shape...), dtype: rt.dtype, data: rt.data}, nil
}

func (b *refBackend) Copy(t backend.Tensor) (backend.Tensor, error) {
	r, err := b.get(t)
	return b.put("Copy", r.Clone(), err)
}

func (b *refBackend) Permute(x backend.Tensor, perm ...int) (backend.Tensor, error) {
	r, err := b.get(x)
	if err != nil {
		return nil, err
	}
	out, err := ref.Permute(r, perm...)
	return b.put("Permute", out, err)
}

func (b *refBackend) Narrow(x backend.Tensor, dim, start, length int) (backend.Tensor, error) {
	r, err := b.get(x)
	if err != nil {
		return nil, err
	}
	out, err := ref.Narrow(r, dim, start, length)
	return b.put("Narrow", out, err)
}

func (b *refBackend) NarrowAssign(dst backend.Tensor, dim, start int, src backend.Tensor) error {
	rs, err := b.gets(dst, src)
	if err != nil {
		return err
	}
	out, err := ref.NarrowAssign(rs[0], dim, start, rs[1])
	if err != nil {
		return err
	}
	copy(dst.(*refTensor).data, out.Data)
	return nil
}

func (b *refBackend) Concat(dim int, xs ...backend.Tensor) (backend.Tensor, error) {
	rs, err := b.gets(xs...)
	if err != nil {
		return nil, err
	}
	out, err := ref.Concat(dim, rs...)
	return b.put("Concat", out, err)
}

func (b *refBackend) Gather(table, ids backend.Tensor) (backend.Tensor, error) {
	t, err := b.get(table)
	if err != nil {
		return nil, err
	}
	if ids.DType() != backend.I32 {
		return nil, errors.New("gather: ids must be I32")
	}
	is, err := b.ids(ids)
	if err != nil {
		return nil, err
	}
	out, err := ref.Gather(t, is)
	return b.put("Gather", out, err)
}

func (b *refBackend) ScatterAddRows(rows int, ids, src backend.Tensor) (backend.Tensor, error) {
	s, err := b.get(src)
	if err != nil {
		return nil, err
	}
	is, err := b.ids(ids)
	if err != nil {
		return nil, err
	}
	out, err := ref.ScatterAddRows(rows, is, s)
	return b.put("ScatterAddRows", out, err)
}

func (b *refBackend) TopK(x backend.Tensor, k int) (backend.Tensor, error) {
	r, err := b.get(x)
	if err != nil {
		return nil, err
	}
	out, err := ref.TopK(r, k)
	if err != nil {
		return nil, err
	}
	return &refTensor{owner: b, shape: out.Shape, dtype: backend.I32, data: out.Data}, nil
}

func (b *refBackend) ExpertLinear(x backend.Tensor, ws []backend.Tensor, ids backend.Tensor, o backend.ExpertOptions) (backend.Tensor, error) {
	r, err := b.get(x)
	if err != nil {
		return nil, err
	}
	rw, err := b.gets(ws...)
	if err != nil {
		return nil, err
	}
	is, err := b.ids(ids)
	if err != nil {
		return nil, err
	}
	out, err := ref.ExpertLinear(r, rw, is, ids.Shape()[1], o.Backward)
	return b.put("ExpertLinear", out, err)
}

func (b *refBackend) RepeatKV(x backend.Tensor, n int) (backend.Tensor, error) {
	r, err := b.get(x)
	if err != nil {
		return nil, err
	}
	out, err := ref.RepeatKV(r, n)
	return b.put("RepeatKV", out, err)
}

func (b *refBackend) SumKV(x backend.Tensor, n int) (backend.Tensor, error) {
	r, err := b.get(x)
	if err != nil {
		return nil, err
	}
	out, err := ref.SumKV(r, n)
	return b.put("SumKV", out, err)
}

func (b *refBackend) MatMul(x, y backend.Tensor, o backend.MatMulOptions) (backend.Tensor, error) {
	rs, err := b.gets(x, y)
	if err != nil {
		return nil, err
	}
	alpha := float64(o.Alpha)
	if alpha == 0 {
		alpha = 1
	}
	out, err := ref.MatMul(rs[0], rs[1], o.TransA, o.TransB, alpha)
	return b.put("MatMul", out, err)
}

func (b *refBackend) Linear(x, w backend.Tensor, o backend.LinearOptions) (backend.Tensor, error) {
	if x.DType() != backend.F32 {
		return nil, errors.New("linear: x must be F32")
	}
	rs, err := b.gets(x, w)
	if err != nil {
		return nil, err
	}
	ro := ref.LinearOpts{FanInFanOut: o.FanInFanOut}
	for _, f := range []struct {
		t   backend.Tensor
		dst **ref.T
	}{{o.Bias, &ro.Bias}, {o.OutScale, &ro.OutScale}, {o.InScale, &ro.InScale}} {
		if *f.dst, err = b.opt(f.t); err != nil {
			return nil, err
		}
	}
	if o.ScaleIndex != nil {
		if ro.ScaleIndex, err = b.ids(o.ScaleIndex); err != nil {
			return nil, err
		}
	}
	out, err := ref.Linear(rs[0], rs[1], ro)
	return b.put("Linear", out, err)
}

func (b *refBackend) binary(op string, x, y backend.Tensor, f func(a, c ref.T) (ref.T, error)) (backend.Tensor, error) {
	rs, err := b.gets(x, y)
	if err != nil {
		return nil, err
	}
	out, err := f(rs[0], rs[1])
	return b.put(op, out, err)
}

func (b *refBackend) Add(x, y backend.Tensor) (backend.Tensor, error) {
	return b.binary("Add", x, y, ref.Add)
}
func (b *refBackend) Sub(x, y backend.Tensor) (backend.Tensor, error) {
	return b.binary("Sub", x, y, ref.Sub)
}
func (b *refBackend) Mul(x, y backend.Tensor) (backend.Tensor, error) {
	return b.binary("Mul", x, y, ref.Mul)
}

func (b *refBackend) Affine(x backend.Tensor, alpha, beta float32) (backend.Tensor, error) {
	r, err := b.get(x)
	if err != nil {
		return nil, err
	}
	out, err := ref.Affine(r, float64(alpha), float64(beta))
	return b.put("Affine", out, err)
}

func (b *refBackend) Activation(f backend.Unary, x backend.Tensor) (backend.Tensor, error) {
	r, err := b.get(x)
	if err != nil {
		return nil, err
	}
	if f == backend.GELUErf && b.geluTanhForErf {
		f = backend.GELUTanh
	}
	out, err := ref.Activation(f, r)
	return b.put("Activation", out, err)
}

func (b *refBackend) ActivationBackward(f backend.Unary, x, dy backend.Tensor) (backend.Tensor, error) {
	return b.binary("ActivationBackward", x, dy, func(a, c ref.T) (ref.T, error) { return ref.ActivationBackward(f, a, c) })
}

func (b *refBackend) SwiGLU(gate, up backend.Tensor) (backend.Tensor, error) {
	return b.binary("SwiGLU", gate, up, ref.SwiGLU)
}

func (b *refBackend) SwiGLUBackward(gate, up, dy backend.Tensor) (backend.Tensor, backend.Tensor, error) {
	rs, err := b.gets(gate, up, dy)
	if err != nil {
		return nil, nil, err
	}
	dg, du, err := ref.SwiGLUBackward(rs[0], rs[1], rs[2])
	if err != nil {
		return nil, nil, err
	}
	tg, _ := b.put("SwiGLUBackward", dg, nil)
	tu, _ := b.put("SwiGLUBackward", du, nil)
	return tg, tu, nil
}

func (b *refBackend) LayerNorm(x, gamma, beta backend.Tensor, eps float32) (backend.Tensor, error) {
	r, err := b.get(x)
	if err != nil {
		return nil, err
	}
	g, err := b.opt(gamma)
	if err != nil {
		return nil, err
	}
	bt, err := b.opt(beta)
	if err != nil {
		return nil, err
	}
	out, err := ref.LayerNorm(r, g, bt, float64(eps))
	return b.put("LayerNorm", out, err)
}

func (b *refBackend) LayerNormBackward(x, gamma, dy backend.Tensor, eps float32) (backend.Tensor, error) {
	rs, err := b.gets(x, dy)
	if err != nil {
		return nil, err
	}
	g, err := b.opt(gamma)
	if err != nil {
		return nil, err
	}
	out, err := ref.LayerNormBackward(rs[0], g, rs[1], float64(eps))
	return b.put("LayerNormBackward", out, err)
}

func (b *refBackend) RMSNorm(x, w backend.Tensor, eps float32) (backend.Tensor, error) {
	r, err := b.get(x)
	if err != nil {
		return nil, err
	}
	g, err := b.opt(w)
	if err != nil {
		return nil, err
	}
	out, err := ref.RMSNorm(r, g, float64(eps))
	return b.put("RMSNorm", out, err)
}

func (b *refBackend) RMSNormBackward(x, w, dy backend.Tensor, eps float32) (backend.Tensor, error) {
	rs, err := b.gets(x, dy)
	if err != nil {
		return nil, err
	}
	g, err := b.opt(w)
	if err != nil {
		return nil, err
	}
	out, err := ref.RMSNormBackward(rs[0], g, rs[1], float64(eps))
	return b.put("RMSNormBackward", out, err)
}

func (b *refBackend) normSpec(o backend.NormOptions) (ref.NormSpec, error) {
	g, err := b.opt(o.Weight)
	if err != nil {
		return ref.NormSpec{}, err
	}
	bt, err := b.opt(o.Bias)
	if err != nil {
		return ref.NormSpec{}, err
	}
	return ref.NormSpec{RMS: o.RMS, Gamma: g, Beta: bt, Eps: float64(o.Eps)}, nil
}

func (b *refBackend) AddNorm(a, x backend.Tensor, o backend.NormOptions) (backend.Tensor, backend.Tensor, error) {
	rs, err := b.gets(a, x)
	if err != nil {
		return nil, nil, err
	}
	spec, err := b.normSpec(o)
	if err != nil {
		return nil, nil, err
	}
	sum, y, err := ref.AddNorm(rs[0], rs[1], spec)
	if err != nil {
		return nil, nil, err
	}
	ts, _ := b.put("AddNorm", sum, nil)
	ty, _ := b.put("AddNorm", y, nil)
	return ts, ty, nil
}

func (b *refBackend) NormBackwardAdd(x, dy, dres backend.Tensor, o backend.NormOptions) (backend.Tensor, error) {
	rs, err := b.gets(x, dy, dres)
	if err != nil {
		return nil, err
	}
	spec, err := b.normSpec(o)
	if err != nil {
		return nil, err
	}
	out, err := ref.NormBackwardAdd(rs[0], rs[1], rs[2], spec)
	return b.put("NormBackwardAdd", out, err)
}

func (b *refBackend) Softmax(scores backend.Tensor, o backend.SoftmaxOptions) (backend.Tensor, error) {
	r, err := b.get(scores)
	if err != nil {
		return nil, err
	}
	ro := ref.SoftmaxOpts{Scale: float64(o.Scale), Causal: o.Causal, Window: o.Window}
	if ro.Scale == 0 {
		ro.Scale = 1
	}
	if ro.KeyMask, err = b.opt(o.KeyMask); err != nil {
		return nil, err
	}
	if ro.Bias, err = b.opt(o.Bias); err != nil {
		return nil, err
	}
	out, err := ref.Softmax(r, ro)
	return b.put("Softmax", out, err)
}

func (b *refBackend) SoftmaxBackward(y, dy backend.Tensor, scale float32) (backend.Tensor, error) {
	return b.binary("SoftmaxBackward", y, dy, func(a, c ref.T) (ref.T, error) { return ref.SoftmaxBackward(a, c, float64(scale)) })
}

func (b *refBackend) Rope(x backend.Tensor, o backend.RopeOptions) (backend.Tensor, error) {
	rs, err := b.gets(x, o.InvFreq)
	if err != nil {
		return nil, err
	}
	pos, err := b.ids(o.Positions)
	if err != nil {
		return nil, err
	}
	out, err := ref.Rope(rs[0], rs[1].Data, pos, o.Inverse)
	return b.put("Rope", out, err)
}

func (b *refBackend) CrossEntropy(logits, labels backend.Tensor, ignoreIndex int32) (backend.Tensor, backend.Tensor, error) {
	r, err := b.get(logits)
	if err != nil {
		return nil, nil, err
	}
	if labels.DType() != backend.I32 {
		return nil, nil, errors.New("cross entropy: labels must be I32")
	}
	ls, err := b.ids(labels)
	if err != nil {
		return nil, nil, err
	}
	loss, grad, err := ref.CrossEntropy(r, ls, int(ignoreIndex))
	if err != nil {
		return nil, nil, err
	}
	tl, _ := b.put("CrossEntropy", ref.T{Shape: []int{1}, Data: []float64{loss}}, nil)
	tg, _ := b.put("CrossEntropy", grad, nil)
	return tl, tg, nil
}

func (b *refBackend) MulSumRows(a, x backend.Tensor) (backend.Tensor, error) {
	rs, err := b.gets(a, x)
	if err != nil {
		return nil, err
	}
	out, err := ref.MulSumRows(rs[0], rs[1])
	return b.put("MulSumRows", out, err)
}

func (b *refBackend) SumRows(x backend.Tensor) (backend.Tensor, error) {
	r, err := b.get(x)
	if err != nil {
		return nil, err
	}
	out, err := ref.SumRows(r)
	return b.put("SumRows", out, err)
}

func (b *refBackend) SumSquares(x backend.Tensor) (backend.Tensor, error) {
	r, err := b.get(x)
	if err != nil {
		return nil, err
	}
	out, err := ref.SumSquares(r)
	return b.put("SumSquares", out, err)
}

func (b *refBackend) ScaleRows(w, v backend.Tensor, invert bool) (backend.Tensor, error) {
	return b.binary("ScaleRows", w, v, func(a, c ref.T) (ref.T, error) { return ref.ScaleRows(a, c, invert) })
}

func (b *refBackend) ScaleCols(w, v backend.Tensor, invert bool) (backend.Tensor, error) {
	return b.binary("ScaleCols", w, v, func(a, c ref.T) (ref.T, error) { return ref.ScaleCols(a, c, invert) })
}

func (b *refBackend) WeightedSum(xs []backend.Tensor, weights []float32) (backend.Tensor, error) {
	rs, err := b.gets(xs...)
	if err != nil {
		return nil, err
	}
	w := make([]float64, len(weights))
	for i, v := range weights {
		w[i] = float64(v)
	}
	out, err := ref.WeightedSum(rs, w)
	return b.put("WeightedSum", out, err)
}

func (b *refBackend) AllFinite(t backend.Tensor) (bool, error) {
	r, err := b.get(t)
	return err == nil && ref.AllFinite(r), err
}

func (b *refBackend) AdamW(param, grad, m, v backend.Tensor, o backend.AdamWOptions) error {
	rs, err := b.gets(param, grad, m, v)
	if err != nil {
		return err
	}
	ro := ref.AdamWOpts{LR: float64(o.LR), Beta1: float64(o.Beta1), Beta2: float64(o.Beta2),
		Eps: float64(o.Eps), WeightDecay: float64(o.WeightDecay), Step: o.Step}
	np, nm, nv, err := ref.AdamW(rs[0].Data, rs[1].Data, rs[2].Data, rs[3].Data, ro)
	if err != nil {
		return fmt.Errorf("adamw: %w", err)
	}
	for i, dst := range []backend.Tensor{param, m, v} {
		src := [][]float64{np, nm, nv}[i]
		d := dst.(*refTensor).data
		for j := range d {
			d[j] = float64(float32(src[j]))
		}
	}
	return nil
}
