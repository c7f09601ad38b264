package conformance

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/conformance/ref"
	"github.com/ia3/ia3/quant"
)

// allCases returns the whole suite in a stable order: memory, layout,
// matrix products, element-wise, normalisation, attention, losses, adapter
// maths, the optimiser, quantized weights and mixture-of-experts routing,
// then the malformed calls.
func allCases() []opCase {
	var cs []opCase
	for _, f := range caseFamilies() {
		cs = append(cs, f.cases()...)
	}
	return cs
}

// caseFamily is one group of the suite, as the Markdown report sums it up.
type caseFamily struct {
	name  string
	cases func() []opCase
}

// caseFamilies lists the suite's groups in allCases' order.
func caseFamilies() []caseFamily {
	return []caseFamily{
		{"memory", memoryCases}, {"layout", layoutCases}, {"matmul", matmulCases},
		{"elementwise", elementwiseCases}, {"norm", normCases}, {"attention", attentionCases},
		{"loss", lossCases}, {"adapter", adapterCases}, {"quantized", quantizedCases}, {"moe", moeCases}, {"malformed", malformedCases},
		{"fused norm", fusedNormCases}, {"fused reduction", mulSumRowsCases},
	}
}

// opCase is one row of the suite: one operation on inputs of one shape.
type opCase struct {
	op    string // the backend method; the key of the tolerance table
	shape string // the shapes and variant, as the report shows them
	// k is the length of the reduction that bounds the rounding error (a
	// matmul's K, a norm's D); the tolerance may grow with it.
	k int
	// floor, when positive, is the magnitude errors are measured against
	// when the result itself is much smaller than the terms that cancel to
	// give it (a 1-wide norm's gradient); otherwise max|ref| is used.
	floor float64
	// build generates the inputs, the call and the expected outputs. It
	// runs only when the case is selected, from a generator seeded by the
	// case's name, so filtering never changes a case's data.
	build func(g *gen) (*spec, error)
	// malformed cases pass when the call fails with an error.
	malformed bool
	// quantized cases take a Q8_0 or NF4 weight: they run only on devices
	// whose DeviceInfo reports QuantizedWeights.
	quantized bool
	// tol, when set, is the key of the tolerance table for this case
	// instead of op (a quantized weight's product has its own).
	tol string
}

// tolKey returns the key of the case's tolerance.
func (c opCase) tolKey() string {
	if c.tol != "" {
		return c.tol
	}
	return c.op
}

// runsOn reports whether the case applies to a device: quantized cases need
// a device that takes quantized weights.
func (c opCase) runsOn(info backend.DeviceInfo) bool {
	return !c.quantized || info.QuantizedWeights
}

// spec is a built case: inputs to upload, the call, and what it must give.
type spec struct {
	inputs []input
	// call runs the operation on the uploaded inputs (in the order of
	// inputs) and returns the tensors to download, in the order of want.
	// In-place operations return the inputs they modify.
	call callFn
	want []ref.T
	// names label the outputs in error messages; empty means "output i".
	names []string
}

// input is one tensor to upload before the call.
type input struct {
	dtype backend.DType
	shape []int
	f32   []float32 // F32 values
	raw   []byte    // storage for FromBytes (F16, BF16, or F32/I32 bytes)
	i32   []int32   // I32 values
}

// gen builds a case's inputs from a deterministic random stream.
type gen struct {
	rng    *rand.Rand
	inputs []input
}

// newGen seeds a generator from the case's op and shape.
func newGen(op, shape string) *gen {
	h := fnv.New64a()
	h.Write([]byte(op + "\x00" + shape))
	s := h.Sum64()
	return &gen{rng: rand.New(rand.NewPCG(s, s^0x9e3779b97f4a7c15))}
}

// values returns n samples of N(mean, sd²) rounded to float32, so the
// reference sees exactly what the device gets.
func (g *gen) values(n int, mean, sd float64) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = float64(float32(mean + sd*g.rng.NormFloat64()))
	}
	return v
}

// f32 registers an F32 input holding vals and returns its index and its
// reference copy.
func (g *gen) f32(vals []float64, shape ...int) (int, ref.T) {
	f := make([]float32, len(vals))
	d := make([]float64, len(vals))
	for i, v := range vals {
		f[i] = float32(v)
		d[i] = float64(f[i])
	}
	g.inputs = append(g.inputs, input{dtype: backend.F32, shape: shape, f32: f})
	return len(g.inputs) - 1, ref.T{Shape: append([]int(nil), shape...), Data: d}
}

// normal registers an F32 input of N(mean, sd²) values.
func (g *gen) normal(mean, sd float64, shape ...int) (int, ref.T) {
	return g.f32(g.values(numel(shape), mean, sd), shape...)
}

// weight registers an input of N(0, sd²) values stored as dtype (F32, F16
// or BF16); the reference holds the values the stored bits decode to.
func (g *gen) weight(dtype backend.DType, sd float64, shape ...int) (int, ref.T) {
	n := numel(shape)
	if dtype == backend.F32 {
		return g.normal(0, sd, shape...)
	}
	bits := make([]uint16, n)
	for i := range bits {
		bits[i] = halfBits(dtype, sd*g.rng.NormFloat64())
	}
	return g.half(dtype, bits, shape...)
}

// quantizedWeight registers a Q8_0 or NF4 input [rows, cols] of N(0, sd²)
// values, quantized by package quant; the reference holds the dequantized
// values, so a case measures the device's product, not the quantization.
func (g *gen) quantizedWeight(dtype backend.DType, sd float64, rows, cols int) (int, ref.T, error) {
	vals := g.values(rows*cols, 0, sd)
	f := make([]float32, len(vals))
	for i, v := range vals {
		f[i] = float32(v)
	}
	raw, err := quant.Quantize(dtype.QuantFormat(), f, rows, cols)
	if err != nil {
		return 0, ref.T{}, err
	}
	deq, err := quant.Dequantize(dtype.QuantFormat(), raw, rows, cols)
	if err != nil {
		return 0, ref.T{}, err
	}
	d := make([]float64, len(deq))
	for i, v := range deq {
		d[i] = float64(v)
	}
	g.inputs = append(g.inputs, input{dtype: dtype, shape: []int{rows, cols}, raw: raw})
	return len(g.inputs) - 1, ref.T{Shape: []int{rows, cols}, Data: d}, nil
}

// half registers an F16 or BF16 input from raw bit patterns.
func (g *gen) half(dtype backend.DType, bits []uint16, shape ...int) (int, ref.T) {
	raw := make([]byte, 2*len(bits))
	d := make([]float64, len(bits))
	for i, b := range bits {
		binary.LittleEndian.PutUint16(raw[2*i:], b)
		if dtype == backend.F16 {
			d[i] = ref.F16(b)
		} else {
			d[i] = ref.BF16(b)
		}
	}
	g.inputs = append(g.inputs, input{dtype: dtype, shape: shape, raw: raw})
	return len(g.inputs) - 1, ref.T{Shape: append([]int(nil), shape...), Data: d}
}

// i32 registers an I32 input.
func (g *gen) i32(vals []int, shape ...int) int {
	v := make([]int32, len(vals))
	for i, x := range vals {
		v[i] = int32(x)
	}
	g.inputs = append(g.inputs, input{dtype: backend.I32, shape: shape, i32: v})
	return len(g.inputs) - 1
}

// ints returns n uniform integers in [0, hi).
func (g *gen) ints(n, hi int) []int {
	v := make([]int, n)
	for i := range v {
		v[i] = g.rng.IntN(hi)
	}
	return v
}

// callFn runs a case's operation on its uploaded inputs.
type callFn = func(b backend.Backend, in []backend.Tensor) ([]backend.Tensor, error)

// done assembles the spec from the registered inputs.
func (g *gen) done(call callFn, want ...ref.T) *spec {
	return &spec{inputs: g.inputs, call: call, want: want}
}

// halfBits rounds x to the nearest F16 or BF16 (ties to even) and returns
// its bits. Only finite, normal-range values are asked for here; the decode
// cases build special values from explicit bits.
func halfBits(dtype backend.DType, x float64) uint16 {
	f := math.Float32bits(float32(x))
	if dtype == backend.BF16 {
		// Round the low 16 bits away, ties to even.
		return uint16((f + 0x7fff + (f>>16)&1) >> 16)
	}
	sign := uint16(f>>16) & 0x8000
	a := math.Abs(float64(float32(x)))
	if a < math.Pow(2, -14) { // below F16's normal range: flush to ±0
		return sign
	}
	frac, exp := math.Frexp(a) // a = frac·2^exp, frac in [0.5, 1)
	e := exp - 1
	m := math.RoundToEven((2*frac - 1) * 1024)
	if m == 1024 {
		m, e = 0, e+1
	}
	if e > 15 {
		return sign | 0x7bff // clamp to the largest finite value
	}
	return sign | uint16(e+15)<<10 | uint16(m)
}

// one returns a one-element list of tensors, for single-output calls.
func one(t backend.Tensor, err error) ([]backend.Tensor, error) {
	if err != nil {
		return nil, err
	}
	return []backend.Tensor{t}, nil
}

// shapeStr formats shapes for the report, e.g. "[3 7]×[7 5]".
func shapeStr(shapes ...[]int) string {
	s := ""
	for i, sh := range shapes {
		if i > 0 {
			s += "×"
		}
		s += fmt.Sprint(sh)
	}
	return s
}
