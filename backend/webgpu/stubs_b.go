package webgpu

import (
	"errors"

	"github.com/ia3/ia3/backend"
)

// Placeholders for the operations implemented in norm.go, softmax.go,
// rope.go, kv.go, gather.go and cross_entropy.go; each is removed as its
// real implementation lands.

var errNotImplemented = errors.New("webgpu: not implemented")

// LayerNorm is not implemented yet.
func (b *Backend) LayerNorm(x, gamma, beta backend.Tensor, eps float32) (backend.Tensor, error) {
	return nil, errNotImplemented
}

// LayerNormBackward is not implemented yet.
func (b *Backend) LayerNormBackward(x, gamma, dy backend.Tensor, eps float32) (backend.Tensor, error) {
	return nil, errNotImplemented
}

// RMSNorm is not implemented yet.
func (b *Backend) RMSNorm(x, w backend.Tensor, eps float32) (backend.Tensor, error) {
	return nil, errNotImplemented
}

// RMSNormBackward is not implemented yet.
func (b *Backend) RMSNormBackward(x, w, dy backend.Tensor, eps float32) (backend.Tensor, error) {
	return nil, errNotImplemented
}

// Softmax is not implemented yet.
func (b *Backend) Softmax(scores backend.Tensor, o backend.SoftmaxOptions) (backend.Tensor, error) {
	return nil, errNotImplemented
}

// SoftmaxBackward is not implemented yet.
func (b *Backend) SoftmaxBackward(y, dy backend.Tensor, scale float32) (backend.Tensor, error) {
	return nil, errNotImplemented
}

// Rope is not implemented yet.
func (b *Backend) Rope(x backend.Tensor, o backend.RopeOptions) (backend.Tensor, error) {
	return nil, errNotImplemented
}

// RepeatKV is not implemented yet.
func (b *Backend) RepeatKV(x backend.Tensor, n int) (backend.Tensor, error) {
	return nil, errNotImplemented
}

// SumKV is not implemented yet.
func (b *Backend) SumKV(x backend.Tensor, n int) (backend.Tensor, error) {
	return nil, errNotImplemented
}

// Gather is not implemented yet.
func (b *Backend) Gather(table, ids backend.Tensor) (backend.Tensor, error) {
	return nil, errNotImplemented
}

// ScatterAddRows is not implemented yet.
func (b *Backend) ScatterAddRows(rows int, ids, src backend.Tensor) (backend.Tensor, error) {
	return nil, errNotImplemented
}

// CrossEntropy is not implemented yet.
func (b *Backend) CrossEntropy(logits, labels backend.Tensor, ignoreIndex int32) (loss, dlogits backend.Tensor, err error) {
	return nil, nil, errNotImplemented
}
