package backend

import (
	"errors"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// checkCase is one call through the validator.
type checkCase struct {
	name string
	call func(b Backend) error
	// op names the operation in the error (and, for a valid call, the inner
	// method that must be reached); msg is a fragment of the error message,
	// empty for a valid call.
	op, msg string
}

func t1(_ Tensor, err error) error              { return err }
func t2(_, _ Tensor, err error) error           { return err }
func tf(_ []float32, err error) error           { return err }
func ti(_ []int32, err error) error             { return err }
func tb(_ bool, err error) error                { return err }
func lin(o LinearOptions) func(Backend) error   { return linCall(f32(2, 3, 4), f32(5, 4), o) }
func soft(o SoftmaxOptions) func(Backend) error { return softCall(f32(2, 3, 4, 5), o) }

func linCall(x, w Tensor, o LinearOptions) func(Backend) error {
	return func(b Backend) error { return t1(b.Linear(x, w, o)) }
}

func softCall(s Tensor, o SoftmaxOptions) func(Backend) error {
	return func(b Backend) error { return t1(b.Softmax(s, o)) }
}

func mm(a, bb Tensor, o MatMulOptions) func(Backend) error {
	return func(b Backend) error { return t1(b.MatMul(a, bb, o)) }
}

func rope(x Tensor, o RopeOptions) func(Backend) error {
	return func(b Backend) error { return t1(b.Rope(x, o)) }
}

var adamOK = AdamWOptions{LR: 0.05, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01, Step: 1}

func adam(o AdamWOptions, ts ...Tensor) func(Backend) error {
	return func(b Backend) error { return b.AdamW(ts[0], ts[1], ts[2], ts[3], o) }
}

// nilF32 is a typed nil pointer inside the Tensor interface.
var nilF32 Tensor = (*fakeTensor)(nil)

// Malformed calls: each must fail with an *ArgError naming the op, and must
// not reach the inner backend.
var malformed = []checkCase{
	{"zeros negative dim", func(b Backend) error { return t1(b.Zeros(2, -1)) }, "zeros", "dimension -1 is not positive"},
	{"zeros zero dim", func(b Backend) error { return t1(b.Zeros(0)) }, "zeros", "dimension 0 is not positive"},
	{"zeros overflow", func(b Backend) error { return t1(b.Zeros(1<<20, 1<<20)) }, "zeros", "more than 2147483647 elements"},
	{"from_float32 count", func(b Backend) error { return t1(b.FromFloat32(make([]float32, 5), 2, 3)) }, "from_float32", "5 values for shape [2 3]: want 6"},
	{"from_int32 count", func(b Backend) error { return t1(b.FromInt32(nil, 1)) }, "from_int32", "0 values for shape [1]: want 1"},
	{"from_bytes size", func(b Backend) error { return t1(b.FromBytes(F16, make([]byte, 5), 3)) }, "from_bytes", "5 bytes for F16 [3]: want 6"},
	{"from_bytes dtype", func(b Backend) error { return t1(b.FromBytes(DType(9), nil, 1)) }, "from_bytes", "unknown dtype DType(9)"},
	{"to_float32 int", func(b Backend) error { return tf(b.ToFloat32(i32(3))) }, "to_float32", "t [3] has dtype I32, want F32, F16, BF16, Q8_0 or NF4"},
	{"to_int32 float", func(b Backend) error { return ti(b.ToInt32(f32(3))) }, "to_int32", "t [3] has dtype F32, want I32"},
	{"to_float32 nil", func(b Backend) error { return tf(b.ToFloat32(nil)) }, "to_float32", "t is nil"},
	{"to_float32 typed nil", func(b Backend) error { return tf(b.ToFloat32(nilF32)) }, "to_float32", "t is nil"},
	{"view count", func(b Backend) error { return t1(b.View(f32(2, 3), 4, 2)) }, "view", "t [2 3] has 6 elements, view [4 2] has 8"},
	{"view bad shape", func(b Backend) error { return t1(b.View(f32(2, 3), -6)) }, "view", "dimension -6 is not positive"},
	{"tensor with bad shape", func(b Backend) error { return t1(b.Copy(f32(2, 0))) }, "copy", "t shape [2 0]: dimension 0 is not positive"},
	{"copy int", func(b Backend) error { return t1(b.Copy(i32(2))) }, "copy", "dtype I32"},
	{"permute rank 5", func(b Backend) error { return t1(b.Permute(f32(1, 1, 1, 1, 1), 0, 1, 2, 3, 4)) }, "permute", "at most 4"},
	{"permute length", func(b Backend) error { return t1(b.Permute(f32(2, 3), 0)) }, "permute", "perm [0] for x [2 3]: want 2 entries"},
	{"permute repeat", func(b Backend) error { return t1(b.Permute(f32(2, 3, 4), 0, 0, 1)) }, "permute", "not a permutation of 0..2"},
	{"permute range", func(b Backend) error { return t1(b.Permute(f32(2, 3), 0, 2)) }, "permute", "not a permutation"},
	{"permute f16", func(b Backend) error { return t1(b.Permute(f16(2, 3), 1, 0)) }, "permute", "dtype F16, want F32"},
	{"narrow dim", func(b Backend) error { return t1(b.Narrow(f32(2, 3), 2, 0, 1)) }, "narrow", "dim 2 out of range for x [2 3]"},
	{"narrow range", func(b Backend) error { return t1(b.Narrow(f32(2, 3), 1, 2, 2)) }, "narrow", "range [2, 2+2) out of dimension 1 of size 3"},
	{"narrow zero length", func(b Backend) error { return t1(b.Narrow(f32(2, 3), 1, 0, 0)) }, "narrow", "range [0, 0+0)"},
	{"narrow negative start", func(b Backend) error { return t1(b.Narrow(f32(2, 3), 1, -1, 1)) }, "narrow", "range [-1, -1+1)"},
	{"narrow_assign rank", func(b Backend) error { return b.NarrowAssign(f32(2, 3), 1, 0, f32(2)) }, "narrow_assign", "ranks differ"},
	{"narrow_assign other dim", func(b Backend) error { return b.NarrowAssign(f32(2, 8), 1, 0, f32(3, 2)) }, "narrow_assign", "dimension 0 differs (2 and 3)"},
	{"narrow_assign range", func(b Backend) error { return b.NarrowAssign(f32(2, 8), 1, 7, f32(2, 2)) }, "narrow_assign", "range [7, 7+2) out of dimension 1 of size 8"},
	{"concat none", func(b Backend) error { return t1(b.Concat(0)) }, "concat", "no tensors"},
	{"concat dims", func(b Backend) error { return t1(b.Concat(1, f32(2, 3), f32(3, 3))) }, "concat", "xs[0] [2 3] and xs[1] [3 3]: dimension 0 differs (2 and 3)"},
	{"concat rank", func(b Backend) error { return t1(b.Concat(0, f32(2, 3), f32(3))) }, "concat", "ranks differ"},
	{"concat dim range", func(b Backend) error { return t1(b.Concat(-1, f32(2, 3))) }, "concat", "dim -1 out of range"},
	{"concat nil", func(b Backend) error { return t1(b.Concat(0, f32(2), nil)) }, "concat", "xs[1] is nil"},
	{"gather table rank", func(b Backend) error { return t1(b.Gather(f32(5), i32(2))) }, "gather", "table [5] has 1 dimensions, want 2"},
	{"gather ids dtype", func(b Backend) error { return t1(b.Gather(f32(5, 4), f32(2))) }, "gather", "ids [2] has dtype F32, want I32"},
	{"gather ids rank", func(b Backend) error { return t1(b.Gather(f32(5, 4), i32(2, 2))) }, "gather", "ids [2 2] has 2 dimensions, want 1"},
	{"scatter count", func(b Backend) error { return t1(b.ScatterAddRows(5, i32(3), f32(2, 4))) }, "scatter_add_rows", "3 ids for 2 rows"},
	{"scatter rows", func(b Backend) error { return t1(b.ScatterAddRows(0, i32(2), f32(2, 4))) }, "scatter_add_rows", "result shape [0 4]"},
	{"top_k rank", func(b Backend) error { return t1(b.TopK(f32(6), 2)) }, "top_k", "x [6] has 1 dimensions, want 2"},
	{"top_k dtype", func(b Backend) error { return t1(b.TopK(i32(2, 6), 2)) }, "top_k", "x [2 6] has dtype I32, want F32"},
	{"top_k zero", func(b Backend) error { return t1(b.TopK(f32(2, 6), 0)) }, "top_k", "x [2 6]: k 0 outside [1, 6]"},
	{"top_k over", func(b Backend) error { return t1(b.TopK(f32(2, 6), 7)) }, "top_k", "x [2 6]: k 7 outside [1, 6]"},
	{"expert no weights", func(b Backend) error { return t1(b.ExpertLinear(f32(3, 4), nil, i32(3, 2), ExpertOptions{})) }, "expert_linear", "no expert weights"},
	{"expert shapes differ", func(b Backend) error {
		return t1(b.ExpertLinear(f32(3, 4), []Tensor{f32(5, 4), f32(5, 3)}, i32(3, 2), ExpertOptions{}))
	}, "expert_linear", "ws[1] [5 3] and ws[0] [5 4] differ"},
	{"expert weight dtype", func(b Backend) error {
		return t1(b.ExpertLinear(f32(3, 4), []Tensor{i32(5, 4)}, i32(3, 2), ExpertOptions{}))
	}, "expert_linear", "ws[0] [5 4] has dtype I32"},
	{"expert ids rank", func(b Backend) error {
		return t1(b.ExpertLinear(f32(3, 4), []Tensor{f32(5, 4)}, i32(6), ExpertOptions{}))
	}, "expert_linear", "ids [6] has 1 dimensions, want 2"},
	{"expert x features", func(b Backend) error {
		return t1(b.ExpertLinear(f32(3, 4), []Tensor{f32(5, 4)}, i32(3, 2), ExpertOptions{Backward: true}))
	}, "expert_linear", "x [3 4] for ids [3 2] and weights [5 4]: want [3 5] or [3 2 5] (out features)"},
	{"expert x slots", func(b Backend) error {
		return t1(b.ExpertLinear(f32(3, 1, 4), []Tensor{f32(5, 4)}, i32(3, 2), ExpertOptions{}))
	}, "expert_linear", "want [3 4] or [3 2 4] (in features)"},
	{"repeat_kv n", func(b Backend) error { return t1(b.RepeatKV(f32(1, 2, 3, 4), 0)) }, "repeat_kv", "repeat count 0"},
	{"repeat_kv rank", func(b Backend) error { return t1(b.RepeatKV(f32(2, 3, 4), 2)) }, "repeat_kv", "x [2 3 4] has 3 dimensions, want 4"},
	{"sum_kv divisible", func(b Backend) error { return t1(b.SumKV(f32(1, 6, 3, 4), 4)) }, "sum_kv", "6 heads not divisible by group size 4"},
	{"matmul inner", mm(f32(2, 3, 4), f32(5, 6), MatMulOptions{}), "matmul", "a [2 3 4] and b [5 6]: inner dimensions 4 and 5 differ"},
	{"matmul transA inner", mm(f32(4, 3), f32(3, 2), MatMulOptions{TransA: true}), "matmul", "a (transposed) [4 3] and b [3 2]: inner dimensions 4 and 3 differ"},
	{"matmul transB inner", mm(f32(2, 3), f32(4, 2), MatMulOptions{TransB: true}), "matmul", "inner dimensions 3 and 2 differ"},
	{"matmul batch", mm(f32(2, 3, 4), f32(3, 4, 5), MatMulOptions{}), "matmul", "batch dimensions [2] and [3] differ"},
	{"matmul b rank", mm(f32(3, 4), f32(2, 4, 5), MatMulOptions{}), "matmul", "b must be 2-D or have a's 2 dimensions"},
	{"matmul a rank", mm(f32(4), f32(4, 5), MatMulOptions{}), "matmul", "a [4] has 1 dimensions, want at least 2"},
	{"matmul a f16", mm(f16(3, 4), f32(4, 5), MatMulOptions{}), "matmul", "a [3 4] has dtype F16, want F32"},
	{"matmul b i32", mm(f32(3, 4), i32(4, 5), MatMulOptions{}), "matmul", "b [4 5] has dtype I32, want F32, F16, BF16, Q8_0 or NF4"},
	{"matmul alpha", mm(f32(3, 4), f32(4, 5), MatMulOptions{Alpha: float32(math.NaN())}), "matmul", "alpha NaN is not finite"},
	{"matmul result overflow", mm(f32(1<<16, 2), f32(2, 1<<16), MatMulOptions{}), "matmul", "result shape [65536 65536]"},
	{"linear in", linCall(f32(2, 3, 4), f32(5, 3), LinearOptions{}), "linear", "x [2 3 4] and w [5 3] (out, in): in features 4 and 3 differ"},
	{"linear fan_in_fan_out", linCall(f32(2, 4), f32(5, 4), LinearOptions{FanInFanOut: true}), "linear", "w [5 4] (in, out): in features 4 and 5 differ"},
	{"linear w rank", linCall(f32(2, 4), f32(4), LinearOptions{}), "linear", "w [4] has 1 dimensions, want 2"},
	{"linear bias", lin(LinearOptions{Bias: f32(4)}), "linear", "bias [4]: want [5]"},
	{"linear bias dtype", lin(LinearOptions{Bias: f16(5)}), "linear", "bias [5] has dtype F16"},
	{"linear out_scale", lin(LinearOptions{OutScale: f32(4)}), "linear", "out_scale [4]: want [5] or [A, 5]"},
	{"linear in_scale", lin(LinearOptions{InScale: f32(5)}), "linear", "in_scale [5]: want [4] or [A, 4]"},
	{"linear stacked without index", lin(LinearOptions{OutScale: f32(2, 5)}), "linear", "scales stack 2 vectors [A, n] but scale_index is nil"},
	{"linear index without stack", lin(LinearOptions{OutScale: f32(5), ScaleIndex: i32(6)}), "linear", "scale_index [6] given but no scale is stacked"},
	{"linear index length", lin(LinearOptions{OutScale: f32(2, 5), ScaleIndex: i32(2)}), "linear", "scale_index [2] for x [2 3 4]: want one entry per row (6)"},
	{"linear index dtype", lin(LinearOptions{OutScale: f32(2, 5), ScaleIndex: f32(6)}), "linear", "scale_index [6] has dtype F32, want I32"},
	{"linear stack counts", lin(LinearOptions{OutScale: f32(2, 5), InScale: f32(3, 4), ScaleIndex: i32(6)}), "linear", "out_scale stacks 2 vectors but in_scale stacks 3"},
	{"add broadcast", func(b Backend) error { return t1(b.Add(f32(2, 3), f32(2))) }, "add", "a [2 3] and b [2]: b's shape is not a suffix of a's"},
	{"sub broadcast rank", func(b Backend) error { return t1(b.Sub(f32(3), f32(2, 3))) }, "sub", "not a suffix"},
	{"mul dtype", func(b Backend) error { return t1(b.Mul(f32(3), i32(3))) }, "mul", "b [3] has dtype I32"},
	{"affine nil", func(b Backend) error { return t1(b.Affine(nil, 1, 0)) }, "affine", "x is nil"},
	{"activation unknown", func(b Backend) error { return t1(b.Activation(Unary(42), f32(3))) }, "activation", "unknown activation Unary(42)"},
	{"activation_backward shapes", func(b Backend) error { return t1(b.ActivationBackward(ReLU, f32(3), f32(4))) }, "activation_backward", "x [3] and dy [4]: shapes differ"},
	{"swiglu shapes", func(b Backend) error { return t1(b.SwiGLU(f32(2, 3), f32(3, 2))) }, "swiglu", "gate [2 3] and up [3 2]: shapes differ"},
	{"swiglu_backward dy", func(b Backend) error { return t2(b.SwiGLUBackward(f32(3), f32(3), f32(2))) }, "swiglu_backward", "gate [3] and dy [2]: shapes differ"},
	{"layer_norm gamma", func(b Backend) error { return t1(b.LayerNorm(f32(2, 4), f32(3), nil, 1e-5)) }, "layer_norm", "gamma [3]: want [4]"},
	{"layer_norm beta", func(b Backend) error { return t1(b.LayerNorm(f32(2, 4), nil, f32(2, 4), 1e-5)) }, "layer_norm", "beta [2 4]: want [4]"},
	{"layer_norm eps", func(b Backend) error { return t1(b.LayerNorm(f32(2, 4), nil, nil, -1)) }, "layer_norm", "eps -1 is negative"},
	{"layer_norm scalar", func(b Backend) error { return t1(b.LayerNorm(f32(), nil, nil, 1e-5)) }, "layer_norm", "x [] has 0 dimensions, want at least 1"},
	{"layer_norm_backward dy", func(b Backend) error { return t1(b.LayerNormBackward(f32(2, 4), nil, f32(4), 1e-5)) }, "layer_norm_backward", "x [2 4] and dy [4]: shapes differ"},
	{"rms_norm w", func(b Backend) error { return t1(b.RMSNorm(f32(2, 4), f32(5), 1e-6)) }, "rms_norm", "w [5]: want [4]"},
	{"rms_norm eps nan", func(b Backend) error { return t1(b.RMSNorm(f32(4), nil, float32(math.NaN()))) }, "rms_norm", "eps NaN is not finite"},
	{"rms_norm_backward dy nil", func(b Backend) error { return t1(b.RMSNormBackward(f32(4), nil, nil, 1e-6)) }, "rms_norm_backward", "dy is nil"},
	// Fused residual add and norm, fused product and row sum.
	{"mul_sum_rows shapes", func(b Backend) error { return t1(b.MulSumRows(f32(2, 4), f32(4))) }, "mul_sum_rows", "a [2 4] and b [4]: shapes differ"},
	{"mul_sum_rows scalar", func(b Backend) error { return t1(b.MulSumRows(f32(), f32())) }, "mul_sum_rows", "a is a scalar"},
	{"add_norm shapes", func(b Backend) error { return t2(b.AddNorm(f32(2, 4), f32(4), NormOptions{Eps: 1e-5})) }, "add_norm", "a [2 4] and b [4]: shapes differ"},
	{"add_norm weight", func(b Backend) error { return t2(b.AddNorm(f32(2, 4), f32(2, 4), NormOptions{Weight: f32(3)})) }, "add_norm", "weight [3]: want [4]"},
	{"add_norm rms bias", func(b Backend) error {
		return t2(b.AddNorm(f32(2, 4), f32(2, 4), NormOptions{RMS: true, Bias: f32(4)}))
	}, "add_norm", "an RMS norm has no bias"},
	{"add_norm eps", func(b Backend) error { return t2(b.AddNorm(f32(4), f32(4), NormOptions{Eps: -1})) }, "add_norm", "eps -1 is negative"},
	{"add_norm dtype", func(b Backend) error { return t2(b.AddNorm(f32(4), f16(4), NormOptions{})) }, "add_norm", "b [4] has dtype F16"},
	{"norm_backward_add dres", func(b Backend) error {
		return t1(b.NormBackwardAdd(f32(2, 4), f32(2, 4), f32(4), NormOptions{}))
	}, "norm_backward_add", "x [2 4] and dres [4]: shapes differ"},
	{"norm_backward_add dy nil", func(b Backend) error {
		return t1(b.NormBackwardAdd(f32(2, 4), nil, f32(2, 4), NormOptions{RMS: true}))
	}, "norm_backward_add", "dy is nil"},
	{"softmax rank", softCall(f32(3, 4, 5), SoftmaxOptions{}), "softmax", "scores [3 4 5] has 3 dimensions, want 4"},
	{"softmax key_mask", soft(SoftmaxOptions{KeyMask: f32(2, 4)}), "softmax", "key_mask [2 4] for scores [2 3 4 5]: want [B, Tk] = [2 5]"},
	{"softmax bias", soft(SoftmaxOptions{Bias: f32(4, 5)}), "softmax", "bias [4 5] for scores [2 3 4 5]: want [H, Tq, Tk] or [B, H, Tq, Tk]"},
	{"softmax window", soft(SoftmaxOptions{Window: -1}), "softmax", "window -1: want ≥ 0 (0: no sliding window)"},
	{"softmax scale", soft(SoftmaxOptions{Scale: float32(math.Inf(1))}), "softmax", "scale +Inf is not finite"},
	{"softmax_backward shapes", func(b Backend) error { return t1(b.SoftmaxBackward(f32(1, 1, 2, 2), f32(1, 1, 2, 3), 1)) }, "softmax_backward", "y [1 1 2 2] and dy [1 1 2 3]: shapes differ"},
	{"softmax_backward rank", func(b Backend) error { return t1(b.SoftmaxBackward(f32(2, 2), f32(2, 2), 1)) }, "softmax_backward", "want 4"},
	{"rope inv_freq long", rope(f32(1, 2, 3, 4), RopeOptions{InvFreq: f32(3), Positions: i32(3)}), "rope", "inv_freq [3] rotates 6 features but x [1 2 3 4] has only 4"},
	{"rope inv_freq nil", rope(f32(1, 2, 3, 4), RopeOptions{Positions: i32(3)}), "rope", "inv_freq is nil"},
	{"rope positions nil", rope(f32(1, 2, 3, 4), RopeOptions{InvFreq: f32(2)}), "rope", "positions is nil"},
	{"rope positions length", rope(f32(1, 2, 3, 4), RopeOptions{InvFreq: f32(2), Positions: i32(4)}), "rope", "positions [4] for x [1 2 3 4]: want [T] = [3] or [B, T] = [1 3]"},
	{"rope positions dtype", rope(f32(1, 2, 3, 4), RopeOptions{InvFreq: f32(2), Positions: f32(3)}), "rope", "positions [3] has dtype F32, want I32"},
	{"cross_entropy labels", func(b Backend) error { return t2(b.CrossEntropy(f32(3, 5), i32(4), -100)) }, "cross_entropy", "logits [3 5] and labels [4]: 3 rows but 4 labels"},
	{"cross_entropy logits rank", func(b Backend) error { return t2(b.CrossEntropy(f32(2, 3, 5), i32(6), -100)) }, "cross_entropy", "logits [2 3 5] has 3 dimensions, want 2"},
	{"sum_rows scalar", func(b Backend) error { return t1(b.SumRows(f32())) }, "sum_rows", "want at least 1"},
	{"sum_squares int", func(b Backend) error { return t1(b.SumSquares(i32(3))) }, "sum_squares", "dtype I32"},
	{"scale_rows length", func(b Backend) error { return t1(b.ScaleRows(f16(3, 4), f32(4), false)) }, "scale_rows", "v [4]: want [3] (the rows of w [3 4])"},
	{"scale_cols length", func(b Backend) error { return t1(b.ScaleCols(f32(3, 4), f32(3), true)) }, "scale_cols", "v [3]: want [4] (the columns of w [3 4])"},
	{"scale_rows nil v", func(b Backend) error { return t1(b.ScaleRows(f32(3, 4), nil, false)) }, "scale_rows", "v is nil"},
	{"weighted_sum lengths", func(b Backend) error { return t1(b.WeightedSum([]Tensor{f32(2), f32(2)}, []float32{1})) }, "weighted_sum", "2 tensors but 1 weights"},
	{"weighted_sum shapes", func(b Backend) error { return t1(b.WeightedSum([]Tensor{f32(2), f32(3)}, []float32{1, 2})) }, "weighted_sum", "xs[0] [2] and xs[1] [3]: shapes differ"},
	{"weighted_sum none", func(b Backend) error { return t1(b.WeightedSum(nil, nil)) }, "weighted_sum", "no tensors"},
	{"all_finite f16", func(b Backend) error { return tb(b.AllFinite(f16(2))) }, "all_finite", "dtype F16, want F32"},
	{"adamw shapes", adam(adamOK, f32(3), f32(3), f32(3), f32(4)), "adamw", "param [3] and v [4]: shapes differ"},
	{"adamw step", adam(AdamWOptions{LR: 1, Step: 0}, f32(3), f32(3), f32(3), f32(3)), "adamw", "step 0"},
	{"adamw beta", adam(AdamWOptions{LR: 1, Beta1: 1, Step: 1}, f32(3), f32(3), f32(3), f32(3)), "adamw", "betas (1, 0) must lie in [0, 1)"},
	{"adamw lr", adam(AdamWOptions{LR: -1, Step: 1}, f32(3), f32(3), f32(3), f32(3)), "adamw", "lr -1 is negative"},
	{"from_bytes q8 size", func(b Backend) error { return t1(b.FromBytes(Q8_0, make([]byte, 64), 2, 32)) }, "from_bytes", "64 bytes for Q8_0 [2 32]: want 68"},
	{"from_bytes nf4 cols", func(b Backend) error { return t1(b.FromBytes(NF4, make([]byte, 44), 2, 32)) }, "from_bytes", "32 columns are not a multiple of the block size 64"},
	{"from_bytes q8 rank", func(b Backend) error { return t1(b.FromBytes(Q8_0, make([]byte, 34), 1, 1, 32)) }, "from_bytes", "has 3 dimensions, want 2"},
	{"view q8", func(b Backend) error { return t1(b.View(q8(2, 32), 64)) }, "view", "dtype Q8_0, want F32, F16, BF16 or I32"},
	{"gather nf4", func(b Backend) error { return t1(b.Gather(nf4(5, 64), i32(2))) }, "gather", "table [5 64] has dtype NF4, want F32, F16 or BF16"},
	{"add q8", func(b Backend) error { return t1(b.Add(f32(2, 32), q8(2, 32))) }, "add", "b [2 32] has dtype Q8_0, want F32"},
	{"matmul q8 batched", mm(f32(2, 3, 32), q8(2, 5, 32), MatMulOptions{TransB: true}), "matmul", "a quantized weight must be 2-D"},
	{"linear q8 fan_in_fan_out", linCall(f32(2, 32), q8(32, 32), LinearOptions{FanInFanOut: true}), "linear", "fan_in_fan_out is refused for a quantized weight"},
	{"linear nf4 cols", linCall(f32(2, 32), nf4(5, 32), LinearOptions{}), "linear", "a quantized weight must be 2-D with its last dimension a multiple of 64"},
	{"adamw grad dtype", adam(adamOK, f32(3), bf16(3), f32(3), f32(3)), "adamw", "grad [3] has dtype BF16"},
}

func TestCheckedRejectsMalformedCalls(t *testing.T) {
	for _, tc := range malformed {
		t.Run(tc.name, func(t *testing.T) {
			inner := &fakeBackend{}
			err := tc.call(Checked(inner))
			require.Error(t, err)
			var ae *ArgError
			require.True(t, errors.As(err, &ae), "want *ArgError, got %T: %v", err, err)
			assert.Equal(t, tc.op, ae.Op)
			assert.Contains(t, err.Error(), tc.op+": ")
			assert.Contains(t, err.Error(), tc.msg)
			assert.Empty(t, inner.calls, "a malformed call reached the inner backend")
		})
	}
}

// Well-formed calls, including every documented broadcast and option form:
// each must reach the inner backend exactly once.
var wellFormed = []checkCase{
	{"zeros scalar", func(b Backend) error { return t1(b.Zeros()) }, "Zeros", ""},
	{"from_bytes bf16", func(b Backend) error { return t1(b.FromBytes(BF16, make([]byte, 6), 3)) }, "FromBytes", ""},
	{"from_float32", func(b Backend) error { return t1(b.FromFloat32(make([]float32, 6), 2, 3)) }, "FromFloat32", ""},
	{"to_float32 bf16", func(b Backend) error { return tf(b.ToFloat32(bf16(3))) }, "ToFloat32", ""},
	{"view int", func(b Backend) error { return t1(b.View(i32(2, 3), 6)) }, "View", ""},
	{"permute", func(b Backend) error { return t1(b.Permute(f32(2, 3, 4, 5), 0, 2, 1, 3)) }, "Permute", ""},
	{"narrow to end", func(b Backend) error { return t1(b.Narrow(f32(2, 3), 1, 1, 2)) }, "Narrow", ""},
	{"narrow_assign", func(b Backend) error { return b.NarrowAssign(f32(1, 2, 8, 4), 2, 5, f32(1, 2, 3, 4)) }, "NarrowAssign", ""},
	{"concat", func(b Backend) error { return t1(b.Concat(1, f32(2, 3), f32(2, 1))) }, "Concat", ""},
	{"gather f16", func(b Backend) error { return t1(b.Gather(f16(5, 4), i32(7))) }, "Gather", ""},
	{"scatter", func(b Backend) error { return t1(b.ScatterAddRows(5, i32(2), f32(2, 4))) }, "ScatterAddRows", ""},
	{"top_k", func(b Backend) error { return t1(b.TopK(f32(3, 8), 8)) }, "TopK", ""},
	{"expert_linear shared x", func(b Backend) error {
		return t1(b.ExpertLinear(f32(3, 4), []Tensor{f16(5, 4), bf16(5, 4)}, i32(3, 2), ExpertOptions{}))
	}, "ExpertLinear", ""},
	{"expert_linear backward", func(b Backend) error {
		return t1(b.ExpertLinear(f32(3, 2, 5), []Tensor{f32(5, 4)}, i32(3, 2), ExpertOptions{Backward: true}))
	}, "ExpertLinear", ""},
	{"repeat_kv", func(b Backend) error { return t1(b.RepeatKV(f32(1, 2, 3, 4), 3)) }, "RepeatKV", ""},
	{"sum_kv", func(b Backend) error { return t1(b.SumKV(f32(1, 6, 3, 4), 3)) }, "SumKV", ""},
	{"matmul batched", mm(f32(2, 3, 4), f32(2, 4, 5), MatMulOptions{}), "MatMul", ""},
	{"matmul shared b", mm(f32(2, 3, 4), bf16(4, 5), MatMulOptions{}), "MatMul", ""},
	{"matmul transposed", mm(f32(2, 4, 3), f32(2, 5, 4), MatMulOptions{TransA: true, TransB: true, Alpha: 0.5}), "MatMul", ""},
	{"linear plain", linCall(f32(4), f16(5, 4), LinearOptions{}), "Linear", ""},
	{"linear conv1d", linCall(f32(2, 3, 4), f32(4, 5), LinearOptions{FanInFanOut: true, Bias: f32(5), OutScale: f32(5)}), "Linear", ""},
	{"linear scales", lin(LinearOptions{Bias: f32(5), OutScale: f32(5), InScale: f32(4)}), "Linear", ""},
	{"linear stacked", lin(LinearOptions{OutScale: f32(3, 5), InScale: f32(3, 4), ScaleIndex: i32(6)}), "Linear", ""},
	{"add same", func(b Backend) error { return t1(b.Add(f32(2, 3), f32(2, 3))) }, "Add", ""},
	{"add suffix", func(b Backend) error { return t1(b.Add(f32(2, 3), f32(3))) }, "Add", ""},
	{"mul scalar", func(b Backend) error { return t1(b.Mul(f32(2, 3), f32())) }, "Mul", ""},
	{"activation", func(b Backend) error { return t1(b.Activation(Sigmoid, f32(3))) }, "Activation", ""},
	{"swiglu_backward", func(b Backend) error { return t2(b.SwiGLUBackward(f32(3), f32(3), f32(3))) }, "SwiGLUBackward", ""},
	{"layer_norm", func(b Backend) error { return t1(b.LayerNorm(f32(2, 4), f32(4), f32(4), 1e-5)) }, "LayerNorm", ""},
	{"layer_norm bare", func(b Backend) error { return t1(b.LayerNorm(f32(2, 4), nil, nil, 0)) }, "LayerNorm", ""},
	{"rms_norm_backward", func(b Backend) error { return t1(b.RMSNormBackward(f32(2, 4), f32(4), f32(2, 4), 1e-6)) }, "RMSNormBackward", ""},
	{"mul_sum_rows", func(b Backend) error { return t1(b.MulSumRows(f32(2, 3, 4), f32(2, 3, 4))) }, "MulSumRows", ""},
	{"add_norm layer", func(b Backend) error {
		return t2(b.AddNorm(f32(2, 4), f32(2, 4), NormOptions{Weight: f32(4), Bias: f32(4), Eps: 1e-5}))
	}, "AddNorm", ""},
	{"add_norm rms", func(b Backend) error { return t2(b.AddNorm(f32(4), f32(4), NormOptions{RMS: true})) }, "AddNorm", ""},
	{"norm_backward_add", func(b Backend) error {
		return t1(b.NormBackwardAdd(f32(2, 4), f32(2, 4), f32(2, 4), NormOptions{RMS: true, Weight: f32(4), Eps: 1e-6}))
	}, "NormBackwardAdd", ""},
	{"softmax all options", soft(SoftmaxOptions{Scale: 0.125, Causal: true, KeyMask: f32(2, 5), Bias: f32(3, 4, 5)}), "Softmax", ""},
	{"softmax batch bias", soft(SoftmaxOptions{Bias: f32(2, 3, 4, 5)}), "Softmax", ""},
	{"rope shared positions", rope(f32(2, 2, 3, 8), RopeOptions{InvFreq: f32(2), Positions: i32(3)}), "Rope", ""},
	{"rope batch positions", rope(f32(2, 2, 3, 8), RopeOptions{InvFreq: f32(4), Positions: i32(2, 3), Inverse: true}), "Rope", ""},
	{"cross_entropy", func(b Backend) error { return t2(b.CrossEntropy(f32(3, 5), i32(3), -100)) }, "CrossEntropy", ""},
	{"scale_rows bf16", func(b Backend) error { return t1(b.ScaleRows(bf16(3, 4), f32(3), true)) }, "ScaleRows", ""},
	{"weighted_sum", func(b Backend) error { return t1(b.WeightedSum([]Tensor{f32(2), f32(2)}, []float32{0.6, 0.4})) }, "WeightedSum", ""},
	{"from_bytes q8", func(b Backend) error { return t1(b.FromBytes(Q8_0, make([]byte, 68), 2, 32)) }, "FromBytes", ""},
	{"from_bytes nf4", func(b Backend) error { return t1(b.FromBytes(NF4, make([]byte, 76), 2, 64)) }, "FromBytes", ""},
	{"to_float32 nf4", func(b Backend) error { return tf(b.ToFloat32(nf4(2, 64))) }, "ToFloat32", ""},
	{"copy q8", func(b Backend) error { return t1(b.Copy(q8(2, 32))) }, "Copy", ""},
	{"matmul q8 transposed", mm(f32(2, 3, 32), q8(5, 32), MatMulOptions{TransB: true}), "MatMul", ""},
	{"matmul nf4 as is", mm(f32(2, 3, 5), nf4(5, 64), MatMulOptions{}), "MatMul", ""},
	{"linear nf4 all options", linCall(f32(2, 3, 64), nf4(5, 64), LinearOptions{Bias: f32(5), OutScale: f32(2, 5), InScale: f32(2, 64), ScaleIndex: i32(6)}), "Linear", ""},
	{"scale_cols q8", func(b Backend) error { return t1(b.ScaleCols(q8(3, 32), f32(32), false)) }, "ScaleCols", ""},
	{"adamw", adam(adamOK, f32(3), f32(3), f32(3), f32(3)), "AdamW", ""},
}

func TestCheckedPassesWellFormedCalls(t *testing.T) {
	for _, tc := range wellFormed {
		t.Run(tc.name, func(t *testing.T) {
			inner := &fakeBackend{}
			require.NoError(t, tc.call(Checked(inner)))
			assert.Equal(t, []string{tc.op}, inner.calls)
		})
	}
}

func TestCheckedFreeIgnoresNil(t *testing.T) {
	inner := &fakeBackend{}
	b := Checked(inner)
	b.Free(nil)
	b.Free(nilF32)
	assert.Empty(t, inner.calls)
	b.Free(f32(2))
	assert.Equal(t, []string{"Free"}, inner.calls)
}

func TestCheckedWrapsOnce(t *testing.T) {
	inner := &fakeBackend{}
	b := Checked(inner)
	assert.Same(t, b, Checked(b))
	assert.Same(t, inner, b.(interface{ Unwrap() Backend }).Unwrap())
	assert.Equal(t, "fake", b.Info().Spec)
}

func TestStorageBytes(t *testing.T) {
	tests := []struct {
		d     DType
		shape []int
		want  int
		err   string
	}{
		{F32, []int{2, 3}, 24, ""},
		{BF16, []int{5}, 10, ""},
		{I32, nil, 4, ""},
		{Q8_0, []int{4, 64}, 256 + 16, ""},
		{NF4, []int{4, 64}, 128 + 4 + 4 + 4, ""},
		{NF4, []int{4, 96}, 0, "not a multiple of the block size 64"},
		{Q8_0, []int{64}, 0, "has 1 dimensions, want 2"},
		{DType(9), []int{1}, 0, "unknown dtype"},
		{F32, []int{0}, 0, "not positive"},
	}
	for _, tt := range tests {
		got, err := StorageBytes(tt.d, tt.shape...)
		if tt.err != "" {
			assert.ErrorContains(t, err, tt.err, "%v %v", tt.d, tt.shape)
			continue
		}
		require.NoError(t, err)
		assert.Equal(t, tt.want, got, "%v %v", tt.d, tt.shape)
	}
}

func TestQuantizedDTypes(t *testing.T) {
	assert.Equal(t, "Q8_0", Q8_0.String())
	assert.Equal(t, "NF4", NF4.String())
	assert.True(t, Q8_0.IsFloat())
	assert.True(t, NF4.IsQuantized())
	assert.False(t, BF16.IsQuantized())
	for _, d := range []DType{Q8_0, NF4} {
		back, ok := QuantDType(d.QuantFormat())
		assert.True(t, ok)
		assert.Equal(t, d, back)
	}
	_, ok := QuantDType(F32.QuantFormat())
	assert.False(t, ok)
}

func TestCheckedRefusesQuantizedOnDevicesWithout(t *testing.T) {
	inner := &fakeBackend{noQuant: true}
	_, err := Checked(inner).FromBytes(NF4, make([]byte, 76), 2, 64)
	var ae *ArgError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, "from_bytes", ae.Op)
	assert.Contains(t, err.Error(), "NF4 [2 64]: device fake () does not take quantized weights")
	assert.Empty(t, inner.calls)
}
