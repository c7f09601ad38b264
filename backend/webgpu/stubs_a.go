package webgpu

import "github.com/ia3/ia3/backend"

// Temporary placeholders for helper A's kernels; removed as each lands.

func (b *Backend) Permute(x backend.Tensor, perm ...int) (backend.Tensor, error) {
	return nil, errNotImplemented
}
func (b *Backend) Narrow(x backend.Tensor, dim, start, length int) (backend.Tensor, error) {
	return nil, errNotImplemented
}
func (b *Backend) NarrowAssign(dst backend.Tensor, dim, start int, src backend.Tensor) error {
	return errNotImplemented
}
func (b *Backend) Concat(dim int, xs ...backend.Tensor) (backend.Tensor, error) {
	return nil, errNotImplemented
}
func (b *Backend) MatMul(a, bb backend.Tensor, o backend.MatMulOptions) (backend.Tensor, error) {
	return nil, errNotImplemented
}
func (b *Backend) Linear(x, w backend.Tensor, o backend.LinearOptions) (backend.Tensor, error) {
	return nil, errNotImplemented
}
func (b *Backend) Add(a, bb backend.Tensor) (backend.Tensor, error) { return nil, errNotImplemented }
func (b *Backend) Sub(a, bb backend.Tensor) (backend.Tensor, error) { return nil, errNotImplemented }
func (b *Backend) Mul(a, bb backend.Tensor) (backend.Tensor, error) { return nil, errNotImplemented }
func (b *Backend) Affine(x backend.Tensor, alpha, beta float32) (backend.Tensor, error) {
	return nil, errNotImplemented
}
func (b *Backend) Activation(f backend.Unary, x backend.Tensor) (backend.Tensor, error) {
	return nil, errNotImplemented
}
func (b *Backend) ActivationBackward(f backend.Unary, x, dy backend.Tensor) (backend.Tensor, error) {
	return nil, errNotImplemented
}
func (b *Backend) SwiGLU(gate, up backend.Tensor) (backend.Tensor, error) {
	return nil, errNotImplemented
}
func (b *Backend) SwiGLUBackward(gate, up, dy backend.Tensor) (backend.Tensor, backend.Tensor, error) {
	return nil, nil, errNotImplemented
}
func (b *Backend) SumRows(x backend.Tensor) (backend.Tensor, error)    { return nil, errNotImplemented }
func (b *Backend) SumSquares(x backend.Tensor) (backend.Tensor, error) { return nil, errNotImplemented }
func (b *Backend) ScaleRows(w, v backend.Tensor, invert bool) (backend.Tensor, error) {
	return nil, errNotImplemented
}
func (b *Backend) ScaleCols(w, v backend.Tensor, invert bool) (backend.Tensor, error) {
	return nil, errNotImplemented
}
func (b *Backend) WeightedSum(xs []backend.Tensor, weights []float32) (backend.Tensor, error) {
	return nil, errNotImplemented
}
func (b *Backend) AllFinite(t backend.Tensor) (bool, error) { return false, errNotImplemented }
func (b *Backend) AdamW(param, grad, m, v backend.Tensor, o backend.AdamWOptions) error {
	return errNotImplemented
}
