package conformance

import "math"

// u is float32's unit roundoff, 2⁻²⁴: one correctly rounded operation is off
// by at most u relative to its result.
const u = 0x1p-24

// tolerance is the largest error an operation may show, relative to the
// largest magnitude of the reference result (so a result that is all zeros
// must be matched exactly):
//
//	tol = rel + sqrtK·√K·u + linK·K·u
//
// where K is the case's reduction length (0 when there is none).
type tolerance struct {
	rel   float64 // fixed part
	sqrtK float64 // rounding of sums: errors of random sign grow as √K
	linK  float64 // errors that grow linearly, such as Rope's angle K·u
	why   string
}

// at returns the tolerance for a reduction of length k.
func (t tolerance) at(k int) float64 {
	return t.rel + (t.sqrtK*math.Sqrt(float64(k))+t.linK*float64(k))*u
}

const (
	// exact: data movement and widening F16/BF16 to F32 are exact, so any
	// difference at all is a bug.
	exactWhy = "data movement and exact widening: any difference is a bug"
	// transcendental: WGSL's exp has an error of 3+2|x| ULP and its tanh,
	// sin and cos are looser still; erf has no builtin and is approximated
	// to about 1e-7. 1e-5 accepts every conforming implementation and still
	// separates GELU's erf form from its tanh form (which differ by up to
	// 2e-4 relative on these inputs).
	transWhy = "exp/tanh/erf within a few ULP on GPUs (WGSL allows 3+2|x| ULP for exp); erf approximated to ~1e-7"
)

// tolerances states, per operation, how far a device may be from the
// float64 reference, and why.
var tolerances = map[string]tolerance{
	// Memory and layout: exact.
	"Zeros":        {why: exactWhy},
	"FromFloat32":  {why: exactWhy},
	"FromInt32":    {why: exactWhy},
	"FromBytes":    {why: exactWhy},
	"View":         {why: exactWhy},
	"Copy":         {why: exactWhy},
	"Permute":      {why: exactWhy},
	"Narrow":       {why: exactWhy},
	"NarrowAssign": {why: exactWhy},
	"Concat":       {why: exactWhy},
	"Gather":       {why: exactWhy},
	"RepeatKV":     {why: exactWhy},
	"AllFinite":    {why: "a boolean: must be exact"},
	"TopK":         {why: "indices chosen by comparisons only: must be exact"},

	// Small sums in any order.
	"ScatterAddRows": {rel: 8 * u, sqrtK: 4, why: "adds K rows per id in any order: √K·u growth"},
	"SumKV":          {rel: 8 * u, sqrtK: 4, why: "adds n heads in any order: √n·u growth"},
	"WeightedSum":    {rel: 16 * u, why: "a few products and sums per element, each rounded once"},

	// One rounding per element.
	"Add":       {rel: 2 * u, why: "one rounded add per element"},
	"Sub":       {rel: 2 * u, why: "one rounded subtract per element"},
	"Mul":       {rel: 2 * u, why: "one rounded multiply per element"},
	"Affine":    {rel: 4 * u, why: "a multiply and an add (or one fma) per element"},
	"ScaleRows": {rel: 8 * u, why: "one multiply or one division (WGSL: 2.5 ULP) per element; the +1e-8 is exact in float64"},
	"ScaleCols": {rel: 8 * u, why: "one multiply or one division (WGSL: 2.5 ULP) per element"},

	// Transcendental element-wise functions.
	"Activation":         {rel: 1e-5, why: transWhy},
	"ActivationBackward": {rel: 1e-5, why: transWhy},
	"SwiGLU":             {rel: 1e-5, why: transWhy},
	"SwiGLUBackward":     {rel: 1e-5, why: transWhy},

	// Dot products: float32 accumulation of K products.
	"MatMul":       {rel: 8 * u, sqrtK: 16, why: "float32 dot products of length K: rounding grows as √K·2⁻²⁴ (16× covers the maximum over many outputs)"},
	"Linear":       {rel: 16 * u, sqrtK: 16, why: "as MatMul over K = in features, plus the bias add and two scale multiplies"},
	"ExpertLinear": {rel: 8 * u, sqrtK: 16, why: "as MatMul: one float32 dot product of length K = the input features per output"},

	// Quantized weights (Q8_0, NF4), against the float64 reference of the
	// weights package quant dequantizes: Q8_0's scale (11 significant bits)
	// times its code (8 bits) is exact in float32, but NF4's A = D8·s +
	// offset may be fused into one fma on a GPU and then multiplies the
	// table value: each weight within 2 roundings (2u relative) of the
	// reference's. In a product that adds 2u·Σ|a·w| (about √K times the
	// result's scale on these random inputs) to the float32 sums' own error.
	"FromBytes/quantized": {rel: 4 * u, why: "dequantizing one weight: at most an fma and a multiply, each rounded once"},
	"Copy/quantized":      {rel: 4 * u, why: "dequantizing one weight: at most an fma and a multiply, each rounded once"},
	"ScaleRows/quantized": {rel: 12 * u, why: "dequantizing (2 roundings) then one multiply or division (WGSL: 2.5 ULP)"},
	"ScaleCols/quantized": {rel: 12 * u, why: "dequantizing (2 roundings) then one multiply or division (WGSL: 2.5 ULP)"},
	"MatMul/quantized": {rel: 8 * u, sqrtK: 20, why: "as MatMul, plus each dequantized weight within 2 roundings " +
		"of the reference's: 2u·Σ|a·w|, about 2√K·u of the result's scale"},
	"ExpertLinear/quantized": {rel: 8 * u, sqrtK: 20, why: "as MatMul/quantized: a dot product of dequantized weights"},
	"Linear/quantized": {rel: 16 * u, sqrtK: 20, why: "as Linear, plus each dequantized weight within 2 roundings " +
		"of the reference's: 2u·Σ|x·w|, about 2√K·u of the result's scale"},

	// Reductions over the last axis followed by an inverse square root.
	"LayerNorm":         {rel: 1e-6, sqrtK: 16, why: "mean and variance summed over D (√D·u), inverseSqrt within 2 ULP"},
	"RMSNorm":           {rel: 1e-6, sqrtK: 16, why: "mean square summed over D (√D·u), inverseSqrt within 2 ULP"},
	"LayerNormBackward": {rel: 2e-6, sqrtK: 32, why: "two row sums over D and the forward statistics recomputed: about twice the forward's error"},
	"RMSNormBackward":   {rel: 2e-6, sqrtK: 32, why: "a row sum over D and the forward statistics recomputed: about twice the forward's error"},

	// Fused residual add and norm: the norm's error, on a sum rounded once
	// to float32 (u relative to |a + b|, which the norm divides by the
	// row's spread: a few u on these inputs), plus one rounded add of dres.
	"AddNorm":         {rel: 1e-6 + 4*u, sqrtK: 16, why: "a + b rounded once (≤ u of the sum, a few u once normalised), then LayerNorm's or RMSNorm's error"},
	"MulSumRows":      {rel: 4 * u, sqrtK: 12, why: "SumRows of products each rounded once: u per product, of random sign, adds up to about √K·u of the sum's scale"},
	"NormBackwardAdd": {rel: 2e-6 + 2*u, sqrtK: 32, why: "the norm backward's error plus one rounded add of dres"},

	// Attention and losses.
	"Softmax":         {rel: 1e-5, sqrtK: 16, why: "exp per entry (a few ULP on GPUs) and a sum over Tk"},
	"SoftmaxBackward": {rel: 1e-6, sqrtK: 16, why: "a dot product over Tk, then one multiply-add per entry"},
	"Rope": {rel: 1e-5, linK: 2, why: "sin/cos of an angle position·inv_freq formed in float32 (error K·u for an " +
		"angle of K radians, as torch has too), plus a few ULP of sin/cos"},
	"CrossEntropy": {rel: 1e-5, sqrtK: 16, why: "log-sum-exp over V: exp and log within a few ULP, a sum over V"},
	"SumRows":      {rel: 4 * u, sqrtK: 8, why: "a sum of K rows per column: √K·u growth"},
	"SumSquares":   {rel: 4 * u, sqrtK: 8, why: "a sum of K squares (all positive, so relative error √K·u)"},

	// Optimiser.
	"AdamW": {rel: 2e-6, linK: 2, why: "about ten rounded operations per element, including a sqrt and a division; " +
		"for decimal hyper-parameters K = 1/(1−β2): float32's rounding of β2 is magnified K times in 1−β2"},
}

// toleranceFor returns the stated tolerance of op and whether one exists.
func toleranceFor(op string) (tolerance, bool) {
	t, ok := tolerances[op]
	return t, ok
}
