package bench

import (
	"time"

	"github.com/ia3/ia3/backend"
)

// Profile returns b behind a timing decorator and the profile it fills.
// Every compute operation calls b, then waits for the device (Sync), and
// adds the wall time to the operation's total, so the profile says where
// a step's time goes even on a device that queues work. Memory operations
// (uploads, downloads, Free, View) are timed as they are, without an extra
// Sync. The extra Syncs make the profiled steps slower than unprofiled
// ones; results pass through unchanged.
func Profile(b backend.Backend) (backend.Backend, *OpProfile) {
	p := &OpProfile{ops: map[string]*opTotal{}}
	return &profiled{inner: b, prof: p}, p
}

// profiled is the timing decorator Profile returns.
type profiled struct {
	inner backend.Backend
	prof  *OpProfile
}

// Unwrap returns the profiled backend, so MemoryReporter is found through
// the decorator.
func (p *profiled) Unwrap() backend.Backend { return p.inner }

// since records op as having run from start until now.
func (p *profiled) since(op string, start time.Time) { p.prof.add(op, time.Since(start)) }

// sync waits for the tensor-returning call that produced t and err. An
// error the device reports then is the call's error, and t is freed.
func (p *profiled) sync(t backend.Tensor, err error) (backend.Tensor, error) {
	if err != nil {
		return nil, err
	}
	if err := p.inner.Sync(); err != nil {
		p.inner.Free(t)
		return nil, err
	}
	return t, nil
}

// sync2 is sync for calls that return two tensors.
func (p *profiled) sync2(t, u backend.Tensor, err error) (backend.Tensor, backend.Tensor, error) {
	if err != nil {
		return nil, nil, err
	}
	if err := p.inner.Sync(); err != nil {
		p.inner.Free(t)
		p.inner.Free(u)
		return nil, nil, err
	}
	return t, u, nil
}

// syncErr is sync for in-place calls.
func (p *profiled) syncErr(err error) error {
	if err != nil {
		return err
	}
	return p.inner.Sync()
}

func (p *profiled) Info() backend.DeviceInfo { return p.inner.Info() }
func (p *profiled) Close() error             { return p.inner.Close() }

func (p *profiled) Sync() error {
	defer p.since("Sync", time.Now())
	return p.inner.Sync()
}

func (p *profiled) Zeros(shape ...int) (backend.Tensor, error) {
	defer p.since("Zeros", time.Now())
	return p.inner.Zeros(shape...)
}

func (p *profiled) FromFloat32(data []float32, shape ...int) (backend.Tensor, error) {
	defer p.since("FromFloat32", time.Now())
	return p.inner.FromFloat32(data, shape...)
}

func (p *profiled) FromInt32(data []int32, shape ...int) (backend.Tensor, error) {
	defer p.since("FromInt32", time.Now())
	return p.inner.FromInt32(data, shape...)
}

func (p *profiled) FromBytes(dtype backend.DType, data []byte, shape ...int) (backend.Tensor, error) {
	defer p.since("FromBytes", time.Now())
	return p.inner.FromBytes(dtype, data, shape...)
}

func (p *profiled) ToFloat32(t backend.Tensor) ([]float32, error) {
	defer p.since("ToFloat32", time.Now())
	return p.inner.ToFloat32(t)
}

func (p *profiled) ToInt32(t backend.Tensor) ([]int32, error) {
	defer p.since("ToInt32", time.Now())
	return p.inner.ToInt32(t)
}

func (p *profiled) Free(t backend.Tensor) {
	defer p.since("Free", time.Now())
	p.inner.Free(t)
}

func (p *profiled) View(t backend.Tensor, shape ...int) (backend.Tensor, error) {
	defer p.since("View", time.Now())
	return p.inner.View(t, shape...)
}

func (p *profiled) Copy(t backend.Tensor) (backend.Tensor, error) {
	defer p.since("Copy", time.Now())
	return p.sync(p.inner.Copy(t))
}

func (p *profiled) Permute(x backend.Tensor, perm ...int) (backend.Tensor, error) {
	defer p.since("Permute", time.Now())
	return p.sync(p.inner.Permute(x, perm...))
}

func (p *profiled) Narrow(x backend.Tensor, dim, start, length int) (backend.Tensor, error) {
	defer p.since("Narrow", time.Now())
	return p.sync(p.inner.Narrow(x, dim, start, length))
}

func (p *profiled) NarrowAssign(dst backend.Tensor, dim, start int, src backend.Tensor) error {
	defer p.since("NarrowAssign", time.Now())
	return p.syncErr(p.inner.NarrowAssign(dst, dim, start, src))
}

func (p *profiled) Concat(dim int, xs ...backend.Tensor) (backend.Tensor, error) {
	defer p.since("Concat", time.Now())
	return p.sync(p.inner.Concat(dim, xs...))
}

func (p *profiled) Gather(table, ids backend.Tensor) (backend.Tensor, error) {
	defer p.since("Gather", time.Now())
	return p.sync(p.inner.Gather(table, ids))
}

func (p *profiled) ScatterAddRows(rows int, ids, src backend.Tensor) (backend.Tensor, error) {
	defer p.since("ScatterAddRows", time.Now())
	return p.sync(p.inner.ScatterAddRows(rows, ids, src))
}

func (p *profiled) TopK(x backend.Tensor, k int) (backend.Tensor, error) {
	defer p.since("TopK", time.Now())
	return p.sync(p.inner.TopK(x, k))
}

func (p *profiled) ExpertLinear(x backend.Tensor, ws []backend.Tensor, ids backend.Tensor, o backend.ExpertOptions) (backend.Tensor, error) {
	defer p.since("ExpertLinear", time.Now())
	return p.sync(p.inner.ExpertLinear(x, ws, ids, o))
}

func (p *profiled) RepeatKV(x backend.Tensor, n int) (backend.Tensor, error) {
	defer p.since("RepeatKV", time.Now())
	return p.sync(p.inner.RepeatKV(x, n))
}

func (p *profiled) SumKV(x backend.Tensor, n int) (backend.Tensor, error) {
	defer p.since("SumKV", time.Now())
	return p.sync(p.inner.SumKV(x, n))
}

// MatMul is recorded under its shape class (see matMulClass).
func (p *profiled) MatMul(a, b backend.Tensor, o backend.MatMulOptions) (backend.Tensor, error) {
	start := time.Now()
	y, err := p.sync(p.inner.MatMul(a, b, o))
	d := time.Since(start)
	op := "MatMul"
	if err == nil {
		op = matMulClass(a, y, o)
	}
	p.prof.add(op, d)
	return y, err
}

// Linear is recorded under its shape class (see linearClass).
func (p *profiled) Linear(x, w backend.Tensor, o backend.LinearOptions) (backend.Tensor, error) {
	start := time.Now()
	y, err := p.sync(p.inner.Linear(x, w, o))
	d := time.Since(start)
	op := "Linear"
	if err == nil {
		op = linearClass(x, w, y)
	}
	p.prof.add(op, d)
	return y, err
}

func (p *profiled) Add(a, b backend.Tensor) (backend.Tensor, error) {
	defer p.since("Add", time.Now())
	return p.sync(p.inner.Add(a, b))
}

func (p *profiled) Sub(a, b backend.Tensor) (backend.Tensor, error) {
	defer p.since("Sub", time.Now())
	return p.sync(p.inner.Sub(a, b))
}

func (p *profiled) Mul(a, b backend.Tensor) (backend.Tensor, error) {
	defer p.since("Mul", time.Now())
	return p.sync(p.inner.Mul(a, b))
}

func (p *profiled) Affine(x backend.Tensor, alpha, beta float32) (backend.Tensor, error) {
	defer p.since("Affine", time.Now())
	return p.sync(p.inner.Affine(x, alpha, beta))
}

func (p *profiled) Activation(f backend.Unary, x backend.Tensor) (backend.Tensor, error) {
	defer p.since("Activation "+f.String(), time.Now())
	return p.sync(p.inner.Activation(f, x))
}

func (p *profiled) ActivationBackward(f backend.Unary, x, dy backend.Tensor) (backend.Tensor, error) {
	defer p.since("ActivationBackward "+f.String(), time.Now())
	return p.sync(p.inner.ActivationBackward(f, x, dy))
}

func (p *profiled) SwiGLU(gate, up backend.Tensor) (backend.Tensor, error) {
	defer p.since("SwiGLU", time.Now())
	return p.sync(p.inner.SwiGLU(gate, up))
}

func (p *profiled) SwiGLUBackward(gate, up, dy backend.Tensor) (backend.Tensor, backend.Tensor, error) {
	defer p.since("SwiGLUBackward", time.Now())
	return p.sync2(p.inner.SwiGLUBackward(gate, up, dy))
}

func (p *profiled) MulSumRows(a, b backend.Tensor) (backend.Tensor, error) {
	defer p.since("MulSumRows", time.Now())
	return p.sync(p.inner.MulSumRows(a, b))
}

func (p *profiled) AddNorm(a, b backend.Tensor, o backend.NormOptions) (backend.Tensor, backend.Tensor, error) {
	defer p.since("AddNorm", time.Now())
	return p.sync2(p.inner.AddNorm(a, b, o))
}

func (p *profiled) NormBackwardAdd(x, dy, dres backend.Tensor, o backend.NormOptions) (backend.Tensor, error) {
	defer p.since("NormBackwardAdd", time.Now())
	return p.sync(p.inner.NormBackwardAdd(x, dy, dres, o))
}

func (p *profiled) LayerNorm(x, gamma, beta backend.Tensor, eps float32) (backend.Tensor, error) {
	defer p.since("LayerNorm", time.Now())
	return p.sync(p.inner.LayerNorm(x, gamma, beta, eps))
}

func (p *profiled) LayerNormBackward(x, gamma, dy backend.Tensor, eps float32) (backend.Tensor, error) {
	defer p.since("LayerNormBackward", time.Now())
	return p.sync(p.inner.LayerNormBackward(x, gamma, dy, eps))
}

func (p *profiled) RMSNorm(x, w backend.Tensor, eps float32) (backend.Tensor, error) {
	defer p.since("RMSNorm", time.Now())
	return p.sync(p.inner.RMSNorm(x, w, eps))
}

func (p *profiled) RMSNormBackward(x, w, dy backend.Tensor, eps float32) (backend.Tensor, error) {
	defer p.since("RMSNormBackward", time.Now())
	return p.sync(p.inner.RMSNormBackward(x, w, dy, eps))
}

func (p *profiled) Softmax(scores backend.Tensor, o backend.SoftmaxOptions) (backend.Tensor, error) {
	defer p.since("Softmax", time.Now())
	return p.sync(p.inner.Softmax(scores, o))
}

func (p *profiled) SoftmaxBackward(y, dy backend.Tensor, scale float32) (backend.Tensor, error) {
	defer p.since("SoftmaxBackward", time.Now())
	return p.sync(p.inner.SoftmaxBackward(y, dy, scale))
}

func (p *profiled) Rope(x backend.Tensor, o backend.RopeOptions) (backend.Tensor, error) {
	defer p.since("Rope", time.Now())
	return p.sync(p.inner.Rope(x, o))
}

func (p *profiled) CrossEntropy(logits, labels backend.Tensor, ignoreIndex int32) (backend.Tensor, backend.Tensor, error) {
	defer p.since("CrossEntropy", time.Now())
	return p.sync2(p.inner.CrossEntropy(logits, labels, ignoreIndex))
}

func (p *profiled) SumRows(x backend.Tensor) (backend.Tensor, error) {
	defer p.since("SumRows", time.Now())
	return p.sync(p.inner.SumRows(x))
}

func (p *profiled) SumSquares(x backend.Tensor) (backend.Tensor, error) {
	defer p.since("SumSquares", time.Now())
	return p.sync(p.inner.SumSquares(x))
}

func (p *profiled) ScaleRows(w, v backend.Tensor, invert bool) (backend.Tensor, error) {
	defer p.since("ScaleRows", time.Now())
	return p.sync(p.inner.ScaleRows(w, v, invert))
}

func (p *profiled) ScaleCols(w, v backend.Tensor, invert bool) (backend.Tensor, error) {
	defer p.since("ScaleCols", time.Now())
	return p.sync(p.inner.ScaleCols(w, v, invert))
}

func (p *profiled) WeightedSum(xs []backend.Tensor, weights []float32) (backend.Tensor, error) {
	defer p.since("WeightedSum", time.Now())
	return p.sync(p.inner.WeightedSum(xs, weights))
}

// AllFinite downloads its answer, which already waits for the device.
func (p *profiled) AllFinite(t backend.Tensor) (bool, error) {
	defer p.since("AllFinite", time.Now())
	return p.inner.AllFinite(t)
}

func (p *profiled) AdamW(param, grad, m, v backend.Tensor, o backend.AdamWOptions) error {
	defer p.since("AdamW", time.Now())
	return p.syncErr(p.inner.AdamW(param, grad, m, v, o))
}
