package backend

import "fmt"

// Checked returns b behind a validator: every operation's arguments (nil
// tensors, dtypes, shapes, option consistency) are checked before b sees
// them, and a malformed call returns an *ArgError naming the operation and
// the shapes involved. Open wraps every device this way, so the CPU and every
// GPU report identical errors, and backends may assume validated input.
// Tensors pass through unchanged; checks that depend on tensor contents (ids
// in range) and on device limits stay with the backend.
func Checked(b Backend) Backend {
	if c, ok := b.(*checked); ok {
		return c
	}
	return &checked{inner: b}
}

// checked is the validating decorator Checked returns.
type checked struct {
	inner Backend
}

// Unwrap returns the backend behind the validator.
func (c *checked) Unwrap() Backend { return c.inner }

func (c *checked) Info() DeviceInfo { return c.inner.Info() }
func (c *checked) Close() error     { return c.inner.Close() }
func (c *checked) Sync() error      { return c.inner.Sync() }

func (c *checked) Zeros(shape ...int) (Tensor, error) {
	if _, err := numElements("zeros", "tensor", shape); err != nil {
		return nil, err
	}
	return c.inner.Zeros(shape...)
}

func (c *checked) FromFloat32(data []float32, shape ...int) (Tensor, error) {
	if err := checkUpload("from_float32", len(data), "values", shape); err != nil {
		return nil, err
	}
	return c.inner.FromFloat32(data, shape...)
}

func (c *checked) FromInt32(data []int32, shape ...int) (Tensor, error) {
	if err := checkUpload("from_int32", len(data), "values", shape); err != nil {
		return nil, err
	}
	return c.inner.FromInt32(data, shape...)
}

func (c *checked) FromBytes(dtype DType, data []byte, shape ...int) (Tensor, error) {
	if !storable.has(dtype) {
		return nil, argErr("from_bytes", "unknown dtype %v", dtype)
	}
	if _, err := numElements("from_bytes", "tensor", shape); err != nil {
		return nil, err
	}
	want, err := storageBytes("from_bytes", dtype, shape)
	if err != nil {
		return nil, err
	}
	if info := c.inner.Info(); dtype.IsQuantized() && !info.QuantizedWeights {
		// No quantized tensor reaches a device that cannot compute with it.
		return nil, argErr("from_bytes", "%v %v: device %s (%s) does not take quantized weights", dtype, shape, info.Spec, info.Name)
	}
	if len(data) != want {
		return nil, argErr("from_bytes", "%d bytes for %v %v: want %d", len(data), dtype, shape, want)
	}
	return c.inner.FromBytes(dtype, data, shape...)
}

func checkUpload(op string, have int, what string, shape []int) error {
	n, err := numElements(op, "tensor", shape)
	if err != nil {
		return err
	}
	if have != n {
		return argErr(op, "%d %s for shape %v: want %d", have, what, shape, n)
	}
	return nil
}

func (c *checked) ToFloat32(t Tensor) ([]float32, error) {
	if _, err := tensorArg("to_float32", "t", t, weightFloat); err != nil {
		return nil, err
	}
	return c.inner.ToFloat32(t)
}

func (c *checked) ToInt32(t Tensor) ([]int32, error) {
	if _, err := tensorArg("to_int32", "t", t, onlyI32); err != nil {
		return nil, err
	}
	return c.inner.ToInt32(t)
}

// Free ignores nil tensors, as freeing nothing is a no-op.
func (c *checked) Free(t Tensor) {
	if !isNil(t) {
		c.inner.Free(t)
	}
}

func (c *checked) View(t Tensor, shape ...int) (Tensor, error) {
	const op = "view"
	s, err := tensorArg(op, "t", t, anyDType)
	if err != nil {
		return nil, err
	}
	n, err := numElements(op, "view", shape)
	if err != nil {
		return nil, err
	}
	if n != product(s) {
		return nil, argErr(op, "t %v has %d elements, view %v has %d", s, product(s), shape, n)
	}
	return c.inner.View(t, shape...)
}

func (c *checked) Copy(t Tensor) (Tensor, error) {
	if _, err := tensorArg("copy", "t", t, weightFloat); err != nil {
		return nil, err
	}
	return c.inner.Copy(t)
}

func (c *checked) Permute(x Tensor, perm ...int) (Tensor, error) {
	const op = "permute"
	s, err := tensorArg(op, "x", x, onlyF32)
	if err != nil {
		return nil, err
	}
	if len(s) > 4 {
		return nil, argErr(op, "x %v has %d dimensions, at most 4 supported", s, len(s))
	}
	if len(perm) != len(s) {
		return nil, argErr(op, "perm %v for x %v: want %d entries", perm, s, len(s))
	}
	seen := make([]bool, len(perm))
	for _, p := range perm {
		if p < 0 || p >= len(s) || seen[p] {
			return nil, argErr(op, "perm %v for x %v is not a permutation of 0..%d", perm, s, len(s)-1)
		}
		seen[p] = true
	}
	return c.inner.Permute(x, perm...)
}

func (c *checked) Narrow(x Tensor, dim, start, length int) (Tensor, error) {
	const op = "narrow"
	s, err := tensorArg(op, "x", x, onlyF32)
	if err != nil {
		return nil, err
	}
	if err := checkDim(op, "x", s, dim); err != nil {
		return nil, err
	}
	if start < 0 || length <= 0 || start > s[dim]-length {
		return nil, argErr(op, "x %v: range [%d, %d+%d) out of dimension %d of size %d", s, start, start, length, dim, s[dim])
	}
	return c.inner.Narrow(x, dim, start, length)
}

func (c *checked) NarrowAssign(dst Tensor, dim, start int, src Tensor) error {
	const op = "narrow_assign"
	ds, err := tensorArg(op, "dst", dst, onlyF32)
	if err != nil {
		return err
	}
	ss, err := tensorArg(op, "src", src, onlyF32)
	if err != nil {
		return err
	}
	if err := checkDim(op, "dst", ds, dim); err != nil {
		return err
	}
	if len(ss) != len(ds) {
		return argErr(op, "dst %v and src %v: ranks differ", ds, ss)
	}
	for i := range ds {
		if i != dim && ds[i] != ss[i] {
			return argErr(op, "dst %v and src %v: dimension %d differs (%d and %d)", ds, ss, i, ds[i], ss[i])
		}
	}
	if start < 0 || start > ds[dim]-ss[dim] {
		return argErr(op, "dst %v: range [%d, %d+%d) out of dimension %d of size %d", ds, start, start, ss[dim], dim, ds[dim])
	}
	return c.inner.NarrowAssign(dst, dim, start, src)
}

func (c *checked) Concat(dim int, xs ...Tensor) (Tensor, error) {
	const op = "concat"
	if len(xs) == 0 {
		return nil, argErr(op, "no tensors")
	}
	var first []int
	total := 0
	for i, x := range xs {
		name := fmt.Sprintf("xs[%d]", i)
		s, err := tensorArg(op, name, x, onlyF32)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			first = s
			if err := checkDim(op, name, s, dim); err != nil {
				return nil, err
			}
		} else {
			if len(s) != len(first) {
				return nil, argErr(op, "xs[0] %v and %s %v: ranks differ", first, name, s)
			}
			for j := range s {
				if j != dim && s[j] != first[j] {
					return nil, argErr(op, "xs[0] %v and %s %v: dimension %d differs (%d and %d)", first, name, s, j, first[j], s[j])
				}
			}
		}
		if total > MaxElements-s[dim] {
			return nil, argErr(op, "concatenated dimension %d exceeds %d", dim, MaxElements)
		}
		total += s[dim]
	}
	out := append([]int(nil), first...)
	out[dim] = total
	if err := resultShape(op, out); err != nil {
		return nil, err
	}
	return c.inner.Concat(dim, xs...)
}

func (c *checked) Gather(table, ids Tensor) (Tensor, error) {
	const op = "gather"
	ts, err := rankArg(op, "table", table, anyFloat, 2)
	if err != nil {
		return nil, err
	}
	is, err := rankArg(op, "ids", ids, onlyI32, 1)
	if err != nil {
		return nil, err
	}
	if err := resultShape(op, []int{is[0], ts[1]}); err != nil {
		return nil, err
	}
	return c.inner.Gather(table, ids)
}

func (c *checked) ScatterAddRows(rows int, ids, src Tensor) (Tensor, error) {
	const op = "scatter_add_rows"
	is, err := rankArg(op, "ids", ids, onlyI32, 1)
	if err != nil {
		return nil, err
	}
	ss, err := rankArg(op, "src", src, onlyF32, 2)
	if err != nil {
		return nil, err
	}
	if is[0] != ss[0] {
		return nil, argErr(op, "ids %v and src %v: %d ids for %d rows", is, ss, is[0], ss[0])
	}
	if err := resultShape(op, []int{rows, ss[1]}); err != nil {
		return nil, err
	}
	return c.inner.ScatterAddRows(rows, ids, src)
}

func (c *checked) RepeatKV(x Tensor, n int) (Tensor, error) {
	const op = "repeat_kv"
	s, err := rankArg(op, "x", x, onlyF32, 4)
	if err != nil {
		return nil, err
	}
	if n <= 0 {
		return nil, argErr(op, "x %v: repeat count %d is not positive", s, n)
	}
	if s[1] > MaxElements/n {
		return nil, argErr(op, "x %v repeated %d times: too many heads", s, n)
	}
	if err := resultShape(op, []int{s[0], s[1] * n, s[2], s[3]}); err != nil {
		return nil, err
	}
	return c.inner.RepeatKV(x, n)
}

func (c *checked) SumKV(x Tensor, n int) (Tensor, error) {
	const op = "sum_kv"
	s, err := rankArg(op, "x", x, onlyF32, 4)
	if err != nil {
		return nil, err
	}
	if n <= 0 || s[1]%n != 0 {
		return nil, argErr(op, "x %v: %d heads not divisible by group size %d", s, s[1], n)
	}
	return c.inner.SumKV(x, n)
}

func (c *checked) MatMul(a, b Tensor, o MatMulOptions) (Tensor, error) {
	out, err := matMulShape(a, b, o)
	if err != nil {
		return nil, err
	}
	if err := resultShape("matmul", out); err != nil {
		return nil, err
	}
	return c.inner.MatMul(a, b, o)
}

// matMulShape validates MatMul's arguments and returns the result shape.
func matMulShape(a, b Tensor, o MatMulOptions) ([]int, error) {
	const op = "matmul"
	as, err := minRankArg(op, "a", a, onlyF32, 2)
	if err != nil {
		return nil, err
	}
	bs, err := weightArg(op, "b", b, 2, false)
	if err != nil {
		return nil, err
	}

	if err := checkFinite(op, "alpha", o.Alpha); err != nil {
		return nil, err
	}
	an, bn := "a", "b"
	if o.TransA {
		an = "a (transposed)"
	}
	if o.TransB {
		bn = "b (transposed)"
	}
	ra, rb := len(as), len(bs)
	if rb != 2 {
		if rb != ra {
			return nil, argErr(op, "%s %v and %s %v: b must be 2-D or have a's %d dimensions", an, as, bn, bs, ra)
		}
		if !equalInts(as[:ra-2], bs[:rb-2]) {
			return nil, argErr(op, "%s %v and %s %v: batch dimensions %v and %v differ", an, as, bn, bs, as[:ra-2], bs[:rb-2])
		}
	}
	m, k := as[ra-2], as[ra-1]
	if o.TransA {
		m, k = k, m
	}
	kb, n := bs[rb-2], bs[rb-1]
	if o.TransB {
		kb, n = n, kb
	}
	if k != kb {
		return nil, argErr(op, "%s %v and %s %v: inner dimensions %d and %d differ", an, as, bn, bs, k, kb)
	}
	out := append(append([]int(nil), as[:ra-2]...), m, n)
	return out, nil
}

func (c *checked) Linear(x, w Tensor, o LinearOptions) (Tensor, error) {
	if err := linearArgs(x, w, o); err != nil {
		return nil, err
	}
	return c.inner.Linear(x, w, o)
}

func (c *checked) Add(a, b Tensor) (Tensor, error) {
	if err := broadcastArgs("add", a, b); err != nil {
		return nil, err
	}
	return c.inner.Add(a, b)
}

func (c *checked) Sub(a, b Tensor) (Tensor, error) {
	if err := broadcastArgs("sub", a, b); err != nil {
		return nil, err
	}
	return c.inner.Sub(a, b)
}

func (c *checked) Mul(a, b Tensor) (Tensor, error) {
	if err := broadcastArgs("mul", a, b); err != nil {
		return nil, err
	}
	return c.inner.Mul(a, b)
}

// broadcastArgs requires b's shape to be a suffix of a's.
func broadcastArgs(op string, a, b Tensor) error {
	as, err := tensorArg(op, "a", a, onlyF32)
	if err != nil {
		return err
	}
	bs, err := tensorArg(op, "b", b, onlyF32)
	if err != nil {
		return err
	}
	if len(bs) > len(as) || !equalInts(as[len(as)-len(bs):], bs) {
		return argErr(op, "a %v and b %v: b's shape is not a suffix of a's", as, bs)
	}
	return nil
}

func (c *checked) Affine(x Tensor, alpha, beta float32) (Tensor, error) {
	if _, err := tensorArg("affine", "x", x, onlyF32); err != nil {
		return nil, err
	}
	return c.inner.Affine(x, alpha, beta)
}

func (c *checked) Activation(f Unary, x Tensor) (Tensor, error) {
	if f > maxUnary {
		return nil, argErr("activation", "unknown activation %v", f)
	}
	if _, err := tensorArg("activation", "x", x, onlyF32); err != nil {
		return nil, err
	}
	return c.inner.Activation(f, x)
}

func (c *checked) ActivationBackward(f Unary, x, dy Tensor) (Tensor, error) {
	const op = "activation_backward"
	if f > maxUnary {
		return nil, argErr(op, "unknown activation %v", f)
	}
	if _, err := sameShapeArgs(op, []string{"x", "dy"}, x, dy); err != nil {
		return nil, err
	}
	return c.inner.ActivationBackward(f, x, dy)
}

func (c *checked) SwiGLU(gate, up Tensor) (Tensor, error) {
	if _, err := sameShapeArgs("swiglu", []string{"gate", "up"}, gate, up); err != nil {
		return nil, err
	}
	return c.inner.SwiGLU(gate, up)
}

func (c *checked) SwiGLUBackward(gate, up, dy Tensor) (Tensor, Tensor, error) {
	if _, err := sameShapeArgs("swiglu_backward", []string{"gate", "up", "dy"}, gate, up, dy); err != nil {
		return nil, nil, err
	}
	return c.inner.SwiGLUBackward(gate, up, dy)
}

func (c *checked) LayerNorm(x, gamma, beta Tensor, eps float32) (Tensor, error) {
	if _, err := normArgs("layer_norm", x, eps, named{"gamma", gamma}, named{"beta", beta}); err != nil {
		return nil, err
	}
	return c.inner.LayerNorm(x, gamma, beta, eps)
}

func (c *checked) LayerNormBackward(x, gamma, dy Tensor, eps float32) (Tensor, error) {
	if err := normBackwardArgs("layer_norm_backward", x, dy, eps, named{"gamma", gamma}); err != nil {
		return nil, err
	}
	return c.inner.LayerNormBackward(x, gamma, dy, eps)
}

func (c *checked) RMSNorm(x, w Tensor, eps float32) (Tensor, error) {
	if _, err := normArgs("rms_norm", x, eps, named{"w", w}); err != nil {
		return nil, err
	}
	return c.inner.RMSNorm(x, w, eps)
}

func (c *checked) RMSNormBackward(x, w, dy Tensor, eps float32) (Tensor, error) {
	if err := normBackwardArgs("rms_norm_backward", x, dy, eps, named{"w", w}); err != nil {
		return nil, err
	}
	return c.inner.RMSNormBackward(x, w, dy, eps)
}

func (c *checked) AddNorm(a, b Tensor, o NormOptions) (Tensor, Tensor, error) {
	const op = "add_norm"
	if _, err := sameShapeArgs(op, []string{"a", "b"}, a, b); err != nil {
		return nil, nil, err
	}
	if err := normOptionArgs(op, a, o); err != nil {
		return nil, nil, err
	}
	return c.inner.AddNorm(a, b, o)
}

func (c *checked) NormBackwardAdd(x, dy, dres Tensor, o NormOptions) (Tensor, error) {
	const op = "norm_backward_add"
	if _, err := sameShapeArgs(op, []string{"x", "dy", "dres"}, x, dy, dres); err != nil {
		return nil, err
	}
	if err := normOptionArgs(op, x, o); err != nil {
		return nil, err
	}
	return c.inner.NormBackwardAdd(x, dy, dres, o)
}

// normOptionArgs checks a fused norm's options against x, as normArgs
// checks LayerNorm's and RMSNorm's: an RMS norm takes no bias.
func normOptionArgs(op string, x Tensor, o NormOptions) error {
	if o.RMS && o.Bias != nil {
		return argErr(op, "an RMS norm has no bias")
	}
	_, err := normArgs(op, x, o.Eps, named{"weight", o.Weight}, named{"bias", o.Bias})
	return err
}

// named is an optional tensor argument with its name.
type named struct {
	name string
	t    Tensor
}

// normArgs validates a normalisation over the last axis: x [..., D], a
// finite non-negative eps and optional F32 [D] vectors. It returns x's shape.
func normArgs(op string, x Tensor, eps float32, vectors ...named) ([]int, error) {
	xs, err := minRankArg(op, "x", x, onlyF32, 1)
	if err != nil {
		return nil, err
	}
	if err := checkFinite(op, "eps", eps); err != nil {
		return nil, err
	}
	if eps < 0 {
		return nil, argErr(op, "eps %v is negative", eps)
	}
	d := xs[len(xs)-1]
	for _, v := range vectors {
		if err := optionalVector(op, v.name, v.t, d, fmt.Sprintf("the last dimension of x %v", xs)); err != nil {
			return nil, err
		}
	}
	return xs, nil
}

// normBackwardArgs is normArgs plus dy of x's shape.
func normBackwardArgs(op string, x, dy Tensor, eps float32, vectors ...named) error {
	xs, err := normArgs(op, x, eps, vectors...)
	if err != nil {
		return err
	}
	ds, err := tensorArg(op, "dy", dy, onlyF32)
	if err != nil {
		return err
	}
	return sameShape(op, "x", xs, "dy", ds)
}

func (c *checked) Softmax(scores Tensor, o SoftmaxOptions) (Tensor, error) {
	if err := softmaxArgs(scores, o); err != nil {
		return nil, err
	}
	return c.inner.Softmax(scores, o)
}

func (c *checked) SoftmaxBackward(y, dy Tensor, scale float32) (Tensor, error) {
	const op = "softmax_backward"
	s, err := sameShapeArgs(op, []string{"y", "dy"}, y, dy)
	if err != nil {
		return nil, err
	}
	if len(s) != 4 {
		return nil, argErr(op, "y %v has %d dimensions, want 4 [B, H, Tq, Tk]", s, len(s))
	}
	if err := checkFinite(op, "scale", scale); err != nil {
		return nil, err
	}
	return c.inner.SoftmaxBackward(y, dy, scale)
}

func (c *checked) Rope(x Tensor, o RopeOptions) (Tensor, error) {
	if err := ropeArgs(x, o); err != nil {
		return nil, err
	}
	return c.inner.Rope(x, o)
}

func (c *checked) CrossEntropy(logits, labels Tensor, ignoreIndex int32) (Tensor, Tensor, error) {
	const op = "cross_entropy"
	ls, err := rankArg(op, "logits", logits, onlyF32, 2)
	if err != nil {
		return nil, nil, err
	}
	ys, err := rankArg(op, "labels", labels, onlyI32, 1)
	if err != nil {
		return nil, nil, err
	}
	if ys[0] != ls[0] {
		return nil, nil, argErr(op, "logits %v and labels %v: %d rows but %d labels", ls, ys, ls[0], ys[0])
	}
	return c.inner.CrossEntropy(logits, labels, ignoreIndex)
}

func (c *checked) SumRows(x Tensor) (Tensor, error) {
	if _, err := minRankArg("sum_rows", "x", x, onlyF32, 1); err != nil {
		return nil, err
	}
	return c.inner.SumRows(x)
}

func (c *checked) MulSumRows(a, b Tensor) (Tensor, error) {
	const op = "mul_sum_rows"
	s, err := sameShapeArgs(op, []string{"a", "b"}, a, b)
	if err != nil {
		return nil, err
	}
	if len(s) == 0 {
		return nil, argErr(op, "a is a scalar, want at least one dimension")
	}
	return c.inner.MulSumRows(a, b)
}

func (c *checked) SumSquares(x Tensor) (Tensor, error) {
	if _, err := tensorArg("sum_squares", "x", x, onlyF32); err != nil {
		return nil, err
	}
	return c.inner.SumSquares(x)
}

func (c *checked) TopK(x Tensor, k int) (Tensor, error) {
	const op = "top_k"
	s, err := rankArg(op, "x", x, onlyF32, 2)
	if err != nil {
		return nil, err
	}
	if k < 1 || k > s[1] {
		return nil, argErr(op, "x %v: k %d outside [1, %d]", s, k, s[1])
	}
	return c.inner.TopK(x, k)
}

func (c *checked) ExpertLinear(x Tensor, ws []Tensor, ids Tensor, o ExpertOptions) (Tensor, error) {
	if err := expertLinearArgs(x, ws, ids, o); err != nil {
		return nil, err
	}
	return c.inner.ExpertLinear(x, ws, ids, o)
}

// expertLinearArgs checks ExpertLinear's shapes: experts of one 2-D shape,
// ids [N, k], and x [N, features] or [N, k, features] where features is
// the weights' in (forward) or out (backward).
func expertLinearArgs(x Tensor, ws []Tensor, ids Tensor, o ExpertOptions) error {
	const op = "expert_linear"
	if len(ws) == 0 {
		return argErr(op, "no expert weights")
	}
	var w0 []int
	for e, w := range ws {
		s, err := weightArg(op, fmt.Sprintf("ws[%d]", e), w, 2, true)
		if err != nil {
			return err
		}
		if e == 0 {
			w0 = s
		} else if !equalInts(s, w0) {
			return argErr(op, "ws[%d] %v and ws[0] %v differ: experts share one shape", e, s, w0)
		}
	}
	is, err := rankArg(op, "ids", ids, onlyI32, 2)
	if err != nil {
		return err
	}
	xs, err := tensorArg(op, "x", x, onlyF32)
	if err != nil {
		return err
	}
	in, out, what := w0[1], w0[0], "in"
	if o.Backward {
		in, out, what = w0[0], w0[1], "out"
	}
	n, k := is[0], is[1]
	switch {
	case len(xs) == 2 && xs[0] == n && xs[1] == in:
	case len(xs) == 3 && xs[0] == n && xs[1] == k && xs[2] == in:
	default:
		return argErr(op, "x %v for ids %v and weights %v: want [%d %d] or [%d %d %d] (%s features)", xs, is, w0, n, in, n, k, in, what)
	}
	return resultShape(op, []int{n, k, out})
}

func (c *checked) ScaleRows(w, v Tensor, invert bool) (Tensor, error) {
	if err := scaleArgs("scale_rows", w, v, 0, "rows"); err != nil {
		return nil, err
	}
	return c.inner.ScaleRows(w, v, invert)
}

func (c *checked) ScaleCols(w, v Tensor, invert bool) (Tensor, error) {
	if err := scaleArgs("scale_cols", w, v, 1, "columns"); err != nil {
		return nil, err
	}
	return c.inner.ScaleCols(w, v, invert)
}

// scaleArgs validates w [R, C] and v of w's dimension axis.
func scaleArgs(op string, w, v Tensor, axis int, what string) error {
	ws, err := weightArg(op, "w", w, 2, true)
	if err != nil {
		return err
	}
	if isNil(v) {
		return argErr(op, "v is nil")
	}
	return optionalVector(op, "v", v, ws[axis], fmt.Sprintf("the %s of w %v", what, ws))
}

func (c *checked) WeightedSum(xs []Tensor, weights []float32) (Tensor, error) {
	const op = "weighted_sum"
	if len(xs) == 0 {
		return nil, argErr(op, "no tensors")
	}
	if len(weights) != len(xs) {
		return nil, argErr(op, "%d tensors but %d weights", len(xs), len(weights))
	}
	names := make([]string, len(xs))
	for i := range xs {
		names[i] = fmt.Sprintf("xs[%d]", i)
		if err := checkFinite(op, fmt.Sprintf("weights[%d]", i), weights[i]); err != nil {
			return nil, err
		}
	}
	if _, err := sameShapeArgs(op, names, xs...); err != nil {
		return nil, err
	}
	return c.inner.WeightedSum(xs, weights)
}

func (c *checked) AllFinite(t Tensor) (bool, error) {
	if _, err := tensorArg("all_finite", "t", t, onlyF32); err != nil {
		return false, err
	}
	return c.inner.AllFinite(t)
}

func (c *checked) AdamW(param, grad, m, v Tensor, o AdamWOptions) error {
	if err := adamWArgs(param, grad, m, v, o); err != nil {
		return err
	}
	return c.inner.AdamW(param, grad, m, v, o)
}
