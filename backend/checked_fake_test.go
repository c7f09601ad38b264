package backend

// fakeTensor is a shape and dtype without storage: all the validator reads.
type fakeTensor struct {
	shape []int
	dtype DType
}

func (t fakeTensor) Shape() []int { return t.shape }
func (t fakeTensor) DType() DType { return t.dtype }
func (t fakeTensor) Len() int     { return product(t.shape) }

func f32(shape ...int) Tensor  { return fakeTensor{shape: shape, dtype: F32} }
func f16(shape ...int) Tensor  { return fakeTensor{shape: shape, dtype: F16} }
func bf16(shape ...int) Tensor { return fakeTensor{shape: shape, dtype: BF16} }
func i32(shape ...int) Tensor  { return fakeTensor{shape: shape, dtype: I32} }
func q8(shape ...int) Tensor   { return fakeTensor{shape: shape, dtype: Q8_0} }
func nf4(shape ...int) Tensor  { return fakeTensor{shape: shape, dtype: NF4} }

// fakeBackend records which operations reached it and computes nothing.
type fakeBackend struct {
	calls []string
	// noQuant makes it a device without QuantizedWeights.
	noQuant bool
}

func (f *fakeBackend) record(op string) { f.calls = append(f.calls, op) }

func (f *fakeBackend) Info() DeviceInfo {
	return DeviceInfo{Spec: "fake", QuantizedWeights: !f.noQuant}
}
func (f *fakeBackend) Close() error  { f.record("Close"); return nil }
func (f *fakeBackend) Sync() error   { f.record("Sync"); return nil }
func (f *fakeBackend) Free(t Tensor) { f.record("Free") }

func (f *fakeBackend) Zeros(shape ...int) (Tensor, error) {
	f.record("Zeros")
	return fakeTensor{}, nil
}

func (f *fakeBackend) FromFloat32(data []float32, shape ...int) (Tensor, error) {
	f.record("FromFloat32")
	return fakeTensor{}, nil
}

func (f *fakeBackend) FromInt32(data []int32, shape ...int) (Tensor, error) {
	f.record("FromInt32")
	return fakeTensor{}, nil
}

func (f *fakeBackend) FromBytes(dtype DType, data []byte, shape ...int) (Tensor, error) {
	f.record("FromBytes")
	return fakeTensor{}, nil
}

func (f *fakeBackend) ToFloat32(t Tensor) ([]float32, error) {
	f.record("ToFloat32")
	return nil, nil
}

func (f *fakeBackend) ToInt32(t Tensor) ([]int32, error) {
	f.record("ToInt32")
	return nil, nil
}

func (f *fakeBackend) View(t Tensor, shape ...int) (Tensor, error) {
	f.record("View")
	return fakeTensor{}, nil
}

func (f *fakeBackend) Copy(t Tensor) (Tensor, error) {
	f.record("Copy")
	return fakeTensor{}, nil
}

func (f *fakeBackend) Permute(x Tensor, perm ...int) (Tensor, error) {
	f.record("Permute")
	return fakeTensor{}, nil
}

func (f *fakeBackend) Narrow(x Tensor, dim, start, length int) (Tensor, error) {
	f.record("Narrow")
	return fakeTensor{}, nil
}

func (f *fakeBackend) NarrowAssign(dst Tensor, dim, start int, src Tensor) error {
	f.record("NarrowAssign")
	return nil
}

func (f *fakeBackend) Concat(dim int, xs ...Tensor) (Tensor, error) {
	f.record("Concat")
	return fakeTensor{}, nil
}

func (f *fakeBackend) Gather(table, ids Tensor) (Tensor, error) {
	f.record("Gather")
	return fakeTensor{}, nil
}

func (f *fakeBackend) ScatterAddRows(rows int, ids, src Tensor) (Tensor, error) {
	f.record("ScatterAddRows")
	return fakeTensor{}, nil
}

func (f *fakeBackend) TopK(x Tensor, k int) (Tensor, error) {
	f.record("TopK")
	return fakeTensor{}, nil
}

func (f *fakeBackend) ExpertLinear(x Tensor, ws []Tensor, ids Tensor, o ExpertOptions) (Tensor, error) {
	f.record("ExpertLinear")
	return fakeTensor{}, nil
}

func (f *fakeBackend) RepeatKV(x Tensor, n int) (Tensor, error) {
	f.record("RepeatKV")
	return fakeTensor{}, nil
}

func (f *fakeBackend) SumKV(x Tensor, n int) (Tensor, error) {
	f.record("SumKV")
	return fakeTensor{}, nil
}

func (f *fakeBackend) MatMul(a, b Tensor, o MatMulOptions) (Tensor, error) {
	f.record("MatMul")
	return fakeTensor{}, nil
}

func (f *fakeBackend) Linear(x, w Tensor, o LinearOptions) (Tensor, error) {
	f.record("Linear")
	return fakeTensor{}, nil
}

func (f *fakeBackend) Add(a, b Tensor) (Tensor, error) {
	f.record("Add")
	return fakeTensor{}, nil
}

func (f *fakeBackend) Sub(a, b Tensor) (Tensor, error) {
	f.record("Sub")
	return fakeTensor{}, nil
}

func (f *fakeBackend) Mul(a, b Tensor) (Tensor, error) {
	f.record("Mul")
	return fakeTensor{}, nil
}

func (f *fakeBackend) Affine(x Tensor, alpha, beta float32) (Tensor, error) {
	f.record("Affine")
	return fakeTensor{}, nil
}

func (f *fakeBackend) Activation(u Unary, x Tensor) (Tensor, error) {
	f.record("Activation")
	return fakeTensor{}, nil
}

func (f *fakeBackend) ActivationBackward(u Unary, x, dy Tensor) (Tensor, error) {
	f.record("ActivationBackward")
	return fakeTensor{}, nil
}

func (f *fakeBackend) SwiGLU(gate, up Tensor) (Tensor, error) {
	f.record("SwiGLU")
	return fakeTensor{}, nil
}

func (f *fakeBackend) SwiGLUBackward(gate, up, dy Tensor) (Tensor, Tensor, error) {
	f.record("SwiGLUBackward")
	return fakeTensor{}, fakeTensor{}, nil
}

func (f *fakeBackend) LayerNorm(x, gamma, beta Tensor, eps float32) (Tensor, error) {
	f.record("LayerNorm")
	return fakeTensor{}, nil
}

func (f *fakeBackend) LayerNormBackward(x, gamma, dy Tensor, eps float32) (Tensor, error) {
	f.record("LayerNormBackward")
	return fakeTensor{}, nil
}

func (f *fakeBackend) RMSNorm(x, w Tensor, eps float32) (Tensor, error) {
	f.record("RMSNorm")
	return fakeTensor{}, nil
}

func (f *fakeBackend) RMSNormBackward(x, w, dy Tensor, eps float32) (Tensor, error) {
	f.record("RMSNormBackward")
	return fakeTensor{}, nil
}

func (f *fakeBackend) AddNorm(a, b Tensor, o NormOptions) (Tensor, Tensor, error) {
	f.record("AddNorm")
	return fakeTensor{}, fakeTensor{}, nil
}

func (f *fakeBackend) NormBackwardAdd(x, dy, dres Tensor, o NormOptions) (Tensor, error) {
	f.record("NormBackwardAdd")
	return fakeTensor{}, nil
}

func (f *fakeBackend) MulSumRows(a, b Tensor) (Tensor, error) {
	f.record("MulSumRows")
	return fakeTensor{}, nil
}

func (f *fakeBackend) Softmax(scores Tensor, o SoftmaxOptions) (Tensor, error) {
	f.record("Softmax")
	return fakeTensor{}, nil
}

func (f *fakeBackend) SoftmaxBackward(y, dy Tensor, scale float32) (Tensor, error) {
	f.record("SoftmaxBackward")
	return fakeTensor{}, nil
}

func (f *fakeBackend) Rope(x Tensor, o RopeOptions) (Tensor, error) {
	f.record("Rope")
	return fakeTensor{}, nil
}

func (f *fakeBackend) CrossEntropy(logits, labels Tensor, ignoreIndex int32) (Tensor, Tensor, error) {
	f.record("CrossEntropy")
	return fakeTensor{}, fakeTensor{}, nil
}

func (f *fakeBackend) SumRows(x Tensor) (Tensor, error) {
	f.record("SumRows")
	return fakeTensor{}, nil
}

func (f *fakeBackend) SumSquares(x Tensor) (Tensor, error) {
	f.record("SumSquares")
	return fakeTensor{}, nil
}

func (f *fakeBackend) ScaleRows(w, v Tensor, invert bool) (Tensor, error) {
	f.record("ScaleRows")
	return fakeTensor{}, nil
}

func (f *fakeBackend) ScaleCols(w, v Tensor, invert bool) (Tensor, error) {
	f.record("ScaleCols")
	return fakeTensor{}, nil
}

func (f *fakeBackend) WeightedSum(xs []Tensor, weights []float32) (Tensor, error) {
	f.record("WeightedSum")
	return fakeTensor{}, nil
}

func (f *fakeBackend) AllFinite(t Tensor) (bool, error) {
	f.record("AllFinite")
	return true, nil
}

func (f *fakeBackend) AdamW(param, grad, m, v Tensor, o AdamWOptions) error {
	f.record("AdamW")
	return nil
}
