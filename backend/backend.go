// Package backend defines the compute interface that every device implements:
// tensors that live on a device between operations, and the operations a
// transformer forward and backward pass and the (IA)³ adapter need.
//
// Layers above this package (model, ia3, the CLI) call only what is declared
// here, so the same code runs on the pure-Go CPU backend (backend/cpu) and on
// any WebGPU adapter (backend/webgpu).
//
// Conventions shared by every implementation:
//   - Tensors are dense and row-major. Shapes are []int; the last dimension
//     varies fastest. A shape of length 0 is a scalar with one element.
//   - All arithmetic is float32. Weights may be stored as F16 or BF16 exactly
//     as loaded; operations that accept them say so and widen inside.
//   - Every operation returns a new tensor owned by the caller unless it says
//     it works in place. Free returns its storage to the device's pool.
//   - A malformed call (shape mismatch, wrong dtype, tensor of another
//     device, over a device limit) returns an error and never panics. The
//     shape and dtype rules live in checked*.go (Checked wraps every backend
//     Open returns), so that all backends report the same errors.
//   - Work may be queued: errors the device reports asynchronously surface
//     from the next call, from Sync or from a download.
package backend

import (
	"fmt"

	"github.com/ia3/ia3/quant"
)

// DType is the element type of a tensor's storage.
type DType uint8

// Storage types. Compute is always F32; F16, BF16, Q8_0 and NF4 are storage
// only.
const (
	F32 DType = iota
	F16
	BF16
	I32
	// Q8_0 is a 2-D weight [R, C] quantized along C in blocks of 32 int8
	// codes with a float16 scale each (package quant, docs/quantization.md).
	Q8_0
	// NF4 is a 2-D weight [R, C] quantized along C in blocks of 64 4-bit
	// NormalFloat codes, with double-quantized block absmax values.
	NF4
)

// String returns the safetensors spelling of the dtype.
func (d DType) String() string {
	switch d {
	case F32:
		return "F32"
	case F16:
		return "F16"
	case BF16:
		return "BF16"
	case I32:
		return "I32"
	case Q8_0:
		return "Q8_0"
	case NF4:
		return "NF4"
	}
	return fmt.Sprintf("DType(%d)", uint8(d))
}

// Size returns the bytes one element occupies. It is meaningless for the
// quantized dtypes, whose elements share block scales (it returns 1 for
// them): use StorageBytes.
func (d DType) Size() int {
	switch d {
	case F16, BF16:
		return 2
	case Q8_0, NF4:
		return 1
	default:
		return 4
	}
}

// IsFloat reports whether d holds floating-point values (the quantized
// dtypes do: they store floats approximately).
func (d DType) IsFloat() bool { return d != I32 }

// IsQuantized reports whether d is a block-quantized weight format.
func (d DType) IsQuantized() bool { return d == Q8_0 || d == NF4 }

// QuantFormat returns the quant package's format of a quantized dtype, and
// quant.None for every other dtype.
func (d DType) QuantFormat() quant.Format {
	switch d {
	case Q8_0:
		return quant.Q8_0
	case NF4:
		return quant.NF4
	}
	return quant.None
}

// QuantDType returns the dtype storing format f, or false for quant.None
// and unknown formats.
func QuantDType(f quant.Format) (DType, bool) {
	switch f {
	case quant.Q8_0:
		return Q8_0, true
	case quant.NF4:
		return NF4, true
	}
	return F32, false
}

// StorageBytes returns the bytes a tensor of dtype d and the given shape
// occupies: the element count times Size for the plain dtypes, and the
// quant package's layout for Q8_0 and NF4, which must be 2-D with the last
// dimension a multiple of the block size.
func StorageBytes(d DType, shape ...int) (int, error) {
	return storageBytes("storage_bytes", d, shape)
}

// storageBytes is StorageBytes with errors reported as op's.
func storageBytes(op string, d DType, shape []int) (int, error) {
	n, err := numElements(op, "tensor", shape)
	if err != nil {
		return 0, err
	}
	if !d.IsQuantized() {
		if d > maxDType {
			return 0, argErr(op, "unknown dtype %v", d)
		}
		if n > MaxElements/d.Size() {
			return 0, argErr(op, "%v %v: more than %d bytes", d, shape, MaxElements)
		}
		return n * d.Size(), nil
	}
	if len(shape) != 2 {
		return 0, argErr(op, "%v tensor %v has %d dimensions, want 2 [out, in]", d, shape, len(shape))
	}
	b, err := quant.StorageBytes(d.QuantFormat(), shape[0], shape[1])
	if err != nil {
		return 0, argErr(op, "%v tensor %v: %v", d, shape, err)
	}
	return b, nil
}

// Tensor is a handle to device storage. Implementations are backend specific;
// passing one backend's tensor to another backend is an error.
type Tensor interface {
	// Shape returns the dimensions; callers must not modify the slice.
	Shape() []int
	// DType returns the storage type.
	DType() DType
	// Len returns the number of elements (the product of Shape).
	Len() int
}

// DeviceInfo describes an adapter or the CPU, as `ia3 devices` lists it.
type DeviceInfo struct {
	Spec        string            // the string Open accepts for it: "cpu", "gpu:0", ...
	Name        string            // adapter or CPU model name
	Vendor      string            // vendor name or PCI vendor id
	API         string            // "Vulkan", "Metal", "D3D12", "OpenGL", "Go" for the CPU
	Type        string            // "DiscreteGPU", "IntegratedGPU", "CPU" (software adapter), "Unknown", "Host"
	Driver      string            // driver description, where the adapter reports one
	Compute     bool              // false when the adapter cannot run compute shaders
	Reason      string            // why Compute is false, or why it was not chosen
	Limits      map[string]uint64 // limits relevant to compute (maxStorageBufferBindingSize, ...)
	Parallelism int               // CPU: worker goroutines
	// QuantizedWeights reports that the device takes Q8_0 and NF4 weights
	// (FromBytes, ToFloat32, Copy, MatMul's b, Linear's w, ExpertLinear's
	// ws, ScaleRows, ScaleCols): docs/quantization.md. Callers check it before quantizing
	// a model for the device; the conformance suite runs its quantized
	// cases only where it is set.
	QuantizedWeights bool
}

// MatMulOptions modifies MatMul.
type MatMulOptions struct {
	TransA bool    // a holds [..., K, M] and is read transposed
	TransB bool    // b holds [..., N, K] and is read transposed
	Alpha  float32 // result scale; 0 means 1
}

// LinearOptions modifies Linear. The result is
//
//	y = ((x ⊙ InScale) · Wᵀ + Bias) ⊙ OutScale
//
// which is a torch Linear with the (IA)³ vector fused on the side where it
// belongs: OutScale for keys and values, InScale for feed-forward inputs.
type LinearOptions struct {
	// FanInFanOut says the weight is stored (in, out), as GPT-2's Conv1D,
	// instead of torch Linear's (out, in).
	FanInFanOut bool
	// Bias, when non-nil, has shape [out].
	Bias Tensor
	// OutScale, when non-nil, has shape [out], or [A, out] when ScaleIndex
	// selects one of A vectors per row.
	OutScale Tensor
	// InScale, when non-nil, has shape [in], or [A, in] with ScaleIndex.
	InScale Tensor
	// ScaleIndex, when non-nil, is an I32 tensor with one entry per row of x
	// (rows = product of x's leading dimensions) naming which of the A stacked
	// vectors scales that row; -1 means the row is not scaled. This is how a
	// batch that mixes adapters runs in one pass.
	ScaleIndex Tensor
}

// ExpertOptions modifies ExpertLinear.
type ExpertOptions struct {
	// Backward multiplies by each expert's weight instead of its
	// transpose: dx = dy · W, the backward of the forward product (the
	// experts' weights are frozen, so no weight gradient is needed).
	Backward bool
}

// Unary names an element-wise activation.
type Unary uint8

// Activations. GELUTanh is transformers' gelu_new / gelu_pytorch_tanh.
const (
	GELUErf Unary = iota
	GELUTanh
	ReLU
	SiLU
	Tanh
	Sigmoid
	// Log is the natural logarithm (NaN below 0, −Inf at 0), with derivative
	// 1/x. It is no model activation: losses such as T-Few's unlikelihood
	// loss, log(1 − p), use it.
	Log
)

// String returns the activation's name.
func (u Unary) String() string {
	switch u {
	case GELUErf:
		return "gelu"
	case GELUTanh:
		return "gelu_tanh"
	case ReLU:
		return "relu"
	case SiLU:
		return "silu"
	case Tanh:
		return "tanh"
	case Sigmoid:
		return "sigmoid"
	case Log:
		return "log"
	}
	return fmt.Sprintf("Unary(%d)", uint8(u))
}

// SoftmaxOptions modifies Softmax over the last axis of scores shaped
// [B, H, Tq, Tk]. The logits are x·Scale + Bias, then masked, then
// normalised. Masked entries get probability 0; a row with every entry
// masked becomes uniform over the row (as adding float32's minimum does in
// transformers).
type SoftmaxOptions struct {
	Scale float32 // 0 means 1
	// Causal masks key j for query i when j > i + (Tk - Tq), so a query block
	// that continues a KV cache sees every cached key.
	Causal bool
	// Window, when > 0, also masks key j for query i when
	// j ≤ i + (Tk − Tq) − Window: each query sees itself and the Window − 1
	// keys before it (Mistral's and Gemma 2's sliding-window attention, as
	// transformers' sliding_window_overlay keeps kv_idx > q_idx − window).
	// Negative values are refused.
	Window int
	// KeyMask, when non-nil, is F32 [B, Tk]: 1 keeps a key, 0 masks it.
	KeyMask Tensor
	// Bias, when non-nil, is F32 [H, Tq, Tk] (shared by the batch) or
	// [B, H, Tq, Tk], added after scaling: T5's relative position bias.
	Bias Tensor
}

// RopeOptions modifies Rope.
type RopeOptions struct {
	// InvFreq is F32 [R/2]: the inverse frequencies of the R rotated
	// features (R = 2·len(InvFreq) ≤ D); features past R are copied.
	InvFreq Tensor
	// Positions is I32 [T] (shared by the batch) or [B, T].
	Positions Tensor
	// Inverse rotates by the negative angle: the backward pass.
	Inverse bool
}

// NormOptions names the normalisation over the last axis that AddNorm and
// NormBackwardAdd apply: LayerNorm ((x − mean)/sqrt(var + Eps) ⊙ Weight +
// Bias, biased variance) or, with RMS, RMSNorm (x/sqrt(mean(x²) + Eps) ⊙
// Weight). Weight and Bias are F32 [D] and may be nil; an RMS norm has no
// Bias.
type NormOptions struct {
	RMS          bool
	Weight, Bias Tensor
	Eps          float32
}

// AdamWOptions is one torch.optim.AdamW step: decoupled weight decay, then
// the bias-corrected Adam update.
type AdamWOptions struct {
	LR, Beta1, Beta2, Eps, WeightDecay float32
	Step                               int // 1 for the first step
}

// Backend is a compute device. Implementations are safe for use by one
// goroutine at a time; the CPU backend parallelises inside each operation.
type Backend interface {
	// Info describes the device.
	Info() DeviceInfo
	// Close releases the device and everything allocated on it.
	Close() error
	// Sync submits queued work, waits for it and returns any error the
	// device reported since the last Sync.
	Sync() error

	// Memory.

	// Zeros allocates an F32 tensor of zeros.
	Zeros(shape ...int) (Tensor, error)
	// FromFloat32 uploads data (len = product of shape) as F32.
	FromFloat32(data []float32, shape ...int) (Tensor, error)
	// FromInt32 uploads data as I32.
	FromInt32(data []int32, shape ...int) (Tensor, error)
	// FromBytes uploads little-endian raw storage of the given dtype, as
	// safetensors holds it (F32, F16, BF16 or I32), or a quantized 2-D
	// weight in the layout of package quant (Q8_0, NF4; StorageBytes).
	FromBytes(dtype DType, data []byte, shape ...int) (Tensor, error)
	// ToFloat32 downloads a float tensor, widening F16/BF16 and
	// dequantizing Q8_0/NF4.
	ToFloat32(t Tensor) ([]float32, error)
	// ToInt32 downloads an I32 tensor.
	ToInt32(t Tensor) ([]int32, error)
	// Free releases t's storage. Freeing a view, or freeing twice, is a no-op.
	Free(t Tensor)
	// View returns a tensor sharing t's storage with another shape of the
	// same element count. The view stays valid until t is freed.
	View(t Tensor, shape ...int) (Tensor, error)
	// Copy returns a new F32 tensor equal to t (widening F16/BF16,
	// dequantizing Q8_0/NF4).
	Copy(t Tensor) (Tensor, error)

	// Layout.

	// Permute reorders up to 4 dimensions: out.Shape[i] = x.Shape[perm[i]].
	Permute(x Tensor, perm ...int) (Tensor, error)
	// Narrow copies x[..., start:start+length, ...] along dim.
	Narrow(x Tensor, dim, start, length int) (Tensor, error)
	// NarrowAssign writes src into dst[..., start:start+src.Shape[dim], ...]
	// along dim, in place (KV caches, the backward of Narrow).
	NarrowAssign(dst Tensor, dim, start int, src Tensor) error
	// Concat joins tensors along dim.
	Concat(dim int, xs ...Tensor) (Tensor, error)
	// Gather picks rows of table [V, D] by I32 ids [N] into [N, D]
	// (embeddings; pooling a token). table may be F16/BF16. An id out of
	// range is an error at the next Sync or download on GPU backends.
	Gather(table, ids Tensor) (Tensor, error)
	// ScatterAddRows returns [rows, D] zeros plus src [N, D] added into the
	// rows named by ids [N]: the backward of Gather.
	ScatterAddRows(rows int, ids, src Tensor) (Tensor, error)
	// RepeatKV repeats each head of x [B, Hkv, T, D] n times, giving
	// [B, Hkv·n, T, D] with head h taken from h / n (grouped-query attention).
	RepeatKV(x Tensor, n int) (Tensor, error)
	// SumKV is the backward of RepeatKV: [B, Hkv·n, T, D] → [B, Hkv, T, D].
	SumKV(x Tensor, n int) (Tensor, error)

	// Matrix products.

	// MatMul multiplies a [..., M, K] by b [..., K, N] (or either
	// transposed, see options). b's leading dimensions equal a's, or b is 2-D
	// and shared by every batch. b may be F16/BF16, or a 2-D Q8_0/NF4
	// weight W [R, C] read either way: TransB (y = a·Wᵀ, the forward) or
	// not (y = a·W, a Linear's backward dx = dy·W).
	MatMul(a, b Tensor, o MatMulOptions) (Tensor, error)
	// Linear applies x [..., in] to weight w with the options' bias and
	// (IA)³ scaling, giving [..., out]. w may be F16/BF16, or Q8_0/NF4
	// (dequantized inside, every option as for F32, FanInFanOut refused).
	Linear(x, w Tensor, o LinearOptions) (Tensor, error)

	// Element-wise.

	// Add returns a + b. b's shape equals a's or a suffix of it (broadcast).
	Add(a, b Tensor) (Tensor, error)
	// Sub returns a − b, broadcasting as Add.
	Sub(a, b Tensor) (Tensor, error)
	// Mul returns a ⊙ b, broadcasting as Add.
	Mul(a, b Tensor) (Tensor, error)
	// Affine returns alpha·x + beta.
	Affine(x Tensor, alpha, beta float32) (Tensor, error)
	// Activation applies f element-wise.
	Activation(f Unary, x Tensor) (Tensor, error)
	// ActivationBackward returns dy ⊙ f'(x).
	ActivationBackward(f Unary, x, dy Tensor) (Tensor, error)
	// SwiGLU returns silu(gate) ⊙ up.
	SwiGLU(gate, up Tensor) (Tensor, error)
	// SwiGLUBackward returns the gradients of gate and up.
	SwiGLUBackward(gate, up, dy Tensor) (dgate, dup Tensor, err error)

	// Normalisation over the last axis.

	// LayerNorm returns (x − mean)/sqrt(var + eps) ⊙ gamma + beta; gamma and
	// beta [D] may be nil.
	LayerNorm(x, gamma, beta Tensor, eps float32) (Tensor, error)
	// LayerNormBackward returns dx (gamma may be nil).
	LayerNormBackward(x, gamma, dy Tensor, eps float32) (Tensor, error)
	// RMSNorm returns x / sqrt(mean(x²) + eps) ⊙ w; w [D] may be nil.
	RMSNorm(x, w Tensor, eps float32) (Tensor, error)
	// RMSNormBackward returns dx.
	RMSNormBackward(x, w, dy Tensor, eps float32) (Tensor, error)

	// Fused residual add and normalisation: a pre-norm block adds each
	// sub-layer's output to the residual stream and normalises the sum
	// for the next sub-layer. One pass instead of two reads the stream
	// once, writes the sum once, and is one dispatch instead of two, both
	// ways.

	// AddNorm returns sum = a + b (one shape, F32) and y, the norm o names
	// of sum: the residual add and the next norm in one pass. y equals
	// LayerNorm or RMSNorm of sum as that op computes it.
	AddNorm(a, b Tensor, o NormOptions) (sum, y Tensor, err error)
	// NormBackwardAdd returns dres + dx, with dx the gradient of the norm
	// o names at input x for upstream dy (as LayerNormBackward or
	// RMSNormBackward computes it) and dres, of x's shape, the gradient
	// the residual stream already carries to x: a norm's backward and the
	// gradient sum in one pass.
	NormBackwardAdd(x, dy, dres Tensor, o NormOptions) (Tensor, error)

	// Attention pieces.

	// Softmax normalises scores [B, H, Tq, Tk] over the last axis.
	Softmax(scores Tensor, o SoftmaxOptions) (Tensor, error)
	// SoftmaxBackward returns d(scores) from the probabilities y and dy,
	// including the factor Scale (masked entries get 0).
	SoftmaxBackward(y, dy Tensor, scale float32) (Tensor, error)
	// Rope rotates x [B, H, T, D] as Llama does (rotate_half, the
	// "neox" layout).
	Rope(x Tensor, o RopeOptions) (Tensor, error)

	// Losses and reductions.

	// CrossEntropy takes logits [N, V] and I32 labels [N]; rows whose label
	// equals ignoreIndex do not count. It returns the mean loss over counted
	// rows as a [1] tensor and d(loss)/d(logits) [N, V] (zero for ignored
	// rows). With no counted row the loss is NaN and the gradient zero.
	CrossEntropy(logits, labels Tensor, ignoreIndex int32) (loss, dlogits Tensor, err error)
	// SumRows sums x [..., C] over every leading dimension, giving [C]:
	// the gradient of a broadcast vector.
	SumRows(x Tensor) (Tensor, error)
	// SumSquares returns Σx² as a [1] tensor (gradient norms).
	SumSquares(x Tensor) (Tensor, error)
	// MulSumRows returns Σ over every leading dimension of a ⊙ b (one
	// shape [..., C]), giving [C]: the gradient of a broadcast scale
	// vector, dv = Σrows dy ⊙ z, without the [rows, C] product Mul then
	// SumRows would write and read back.
	MulSumRows(a, b Tensor) (Tensor, error)

	// Mixture of experts: routing without the host reading the router.

	// TopK returns the indices of the k largest values of each row of x
	// [N, E] (F32) in descending order of value, as I32 [N, k], 1 ≤ k ≤ E:
	// torch.topk's indices, with equal values going to the lower index. A
	// row holding a NaN gives 0, 1, …, k−1 (its softmax is all NaN, all
	// tied). It has no gradient: a router chooses experts with it and the
	// choice stays on the device.
	TopK(x Tensor, k int) (Tensor, error)
	// ExpertLinear runs each token through the experts ids names, with no
	// host reading ids (ggml's mul_mat_id): ws are the E experts' weights
	// [out, in] (torch Linear's layout), one shape, each F32, F16, BF16,
	// Q8_0 or NF4; ids is I32 [N, k] with entries in [0, E); x is F32
	// [N, in], every slot of token n reading row n, or [N, k, in], slot j
	// reading its own row. The result is [N, k, out]:
	//
	//	y[n, j] = x[n(, j)] · ws[ids[n, j]]ᵀ
	//
	// With o.Backward each weight is read untransposed: x is [N, out] or
	// [N, k, out] and the result [N, k, in], the gradient of the forward's
	// x (the caller sums it over k when that x was broadcast). An id
	// outside [0, E) is an error (GPU backends report it at the next Sync
	// or download, that slot's row of the result zeros).
	ExpertLinear(x Tensor, ws []Tensor, ids Tensor, o ExpertOptions) (Tensor, error)

	// Adapter maths.

	// ScaleRows returns w [R, C] with row r multiplied by v[r], or divided
	// by (v[r] + 1e-8) when invert is set (PEFT's unmerge). w may be
	// F16/BF16/Q8_0/NF4; the result is F32.
	ScaleRows(w, v Tensor, invert bool) (Tensor, error)
	// ScaleCols is ScaleRows along columns: v has shape [C].
	ScaleCols(w, v Tensor, invert bool) (Tensor, error)
	// WeightedSum returns Σ weights[i]·xs[i] over tensors of one shape.
	WeightedSum(xs []Tensor, weights []float32) (Tensor, error)
	// AllFinite reports whether every element of t is finite.
	AllFinite(t Tensor) (bool, error)

	// Optimiser.

	// AdamW updates param in place from grad, with the moment buffers m and
	// v (same shape, F32) updated in place too.
	AdamW(param, grad, m, v Tensor, o AdamWOptions) error
}
