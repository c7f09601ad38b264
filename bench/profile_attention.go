package bench

import (
	"time"

	"github.com/ia3/ia3/backend"
)

func (p *profiled) Attention(q, k, v backend.Tensor, o backend.AttentionOptions) (backend.Tensor, backend.Tensor, error) {
	defer p.since("Attention", time.Now())
	return p.sync2(p.inner.Attention(q, k, v, o))
}

func (p *profiled) AttentionBackward(q, k, v, out, lse, dout backend.Tensor, o backend.AttentionOptions) (backend.Tensor, backend.Tensor, backend.Tensor, error) {
	defer p.since("AttentionBackward", time.Now())
	dq, dk, dv, err := p.inner.AttentionBackward(q, k, v, out, lse, dout, o)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := p.inner.Sync(); err != nil {
		p.inner.Free(dq)
		p.inner.Free(dk)
		p.inner.Free(dv)
		return nil, nil, nil, err
	}
	return dq, dk, dv, nil
}
