//go:build cgo && !nowebgpu

package webgpu

import (
	"fmt"

	"github.com/ia3/ia3/backend"
)

// ceParams mirrors CEParams in shaders/cross_entropy.wgsl.
type ceParams struct {
	N           uint32
	V           uint32
	IgnoreIndex int32
	NaNBits     uint32
	Bit         uint32
	Row0        uint32
	Total       uint32
	Pad2        uint32
}

// ceLabelMsg is the message of CrossEntropy's device error flag bit.
const ceLabelMsg = "a label is outside [0, V) and not the ignore index; the loss is NaN"

// quietNaN is the bit pattern of a float32 quiet NaN.
const quietNaN = 0x7fc00000

// CrossEntropy returns the mean cross-entropy of logits [N, V] against I32
// labels [N] over the rows whose label is not ignoreIndex, as a [1] tensor,
// and its gradient (softmax − onehot)/count, zero on ignored rows. With no
// counted row the loss is NaN and the gradient zero. A label outside
// [0, V) that is not ignoreIndex makes the loss NaN and is reported as an
// error by the next Sync or download.
//
// Three dispatches and no readback: the count of counted rows, one
// workgroup per row (log-sum-exp with the maximum subtracted, the
// gradient and the row's loss), then one workgroup that sums the row
// losses in a fixed order, so the loss is deterministic.
func (b *Backend) CrossEntropy(logits, labels backend.Tensor, ignoreIndex int32) (loss, dlogits backend.Tensor, err error) {
	const op = "CrossEntropy"
	lt, err := b.anyTensorOf(op, logits)
	if err != nil {
		return nil, nil, err
	}
	yt, err := b.tensorOf(op, labels)
	if err != nil {
		return nil, nil, err
	}
	if len(lt.shape) != 2 || lt.dtype != backend.F32 {
		return nil, nil, fmt.Errorf("webgpu: %s: logits %v %s: want F32 [N, V]", op, lt.shape, lt.dtype)
	}
	if len(yt.shape) != 1 || yt.dtype != backend.I32 || yt.n != lt.shape[0] {
		return nil, nil, fmt.Errorf("webgpu: %s: labels %v %s for logits %v: want I32 [N]", op, yt.shape, yt.dtype, lt.shape)
	}
	out, err := b.alloc(op, backend.F32, 1)
	if err != nil {
		return nil, nil, err
	}
	grad, err := b.allocLike(op, lt)
	if err != nil {
		b.Free(out)
		return nil, nil, err
	}
	if err := b.crossEntropy(lt, yt, out, grad, ignoreIndex); err != nil {
		b.Free(out)
		b.Free(grad)
		return nil, nil, fmt.Errorf("webgpu: %s logits %v labels %v: %w", op, lt.shape, yt.shape, err)
	}
	return out, grad, nil
}

// crossEntropy queues the three dispatches of cross_entropy.wgsl writing
// loss and grad.
func (b *Backend) crossEntropy(logits, labels, loss, grad *tensor, ignoreIndex int32) error {
	n, v := logits.shape[0], logits.shape[1]
	flag, bit, err := b.errorFlag("CrossEntropy", ceLabelMsg)
	if err != nil {
		return err
	}
	p := ceParams{N: uint32(n), V: uint32(v), IgnoreIndex: ignoreIndex, NaNBits: quietNaN, Bit: bit, Total: uint32(n)}
	// scratch holds the row losses and, at index n, the count. Freeing it
	// once the work is queued is safe: the pool reuses a buffer only after
	// the batch that reads it has been submitted.
	scratch, err := b.alloc("CrossEntropy", backend.F32, n+1)
	if err != nil {
		return err
	}
	defer b.Free(scratch)
	one := [3]uint32{1, 1, 1}
	if err := b.dispatch("cross_entropy.wgsl", "ce_count", &p, one, scratch, labels, flag); err != nil {
		return err
	}
	lparts, gparts := spans(logits, 0, n), spans(grad, 0, n)
	at := 0
	for i, s := range lparts {
		if s.count > 0 && v > 0 {
			pr := p
			pr.N, pr.Row0 = uint32(s.count), uint32(at)
			if err := b.dispatch("cross_entropy.wgsl", "ce_rows", &pr, b.rowGroups(s.count), scratch, labels, flag, s.t, gparts[i].t); err != nil {
				return err
			}
		}
		at += s.count
	}
	return b.dispatch("cross_entropy.wgsl", "ce_reduce", &p, one, scratch, labels, flag, lparts[0].t, gparts[0].t, loss)
}
