package model

import (
	"fmt"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/model/nn"
)

// splitHeads turns x [B, T, H·D] into [B, H, T, D].
func splitHeads(g *nn.Graph, x *nn.Value, heads, dim int) *nn.Value {
	if g.Err() != nil {
		return nil
	}
	s := x.Shape()
	return g.Permute(g.Reshape(x, s[0], s[1], heads, dim), 0, 2, 1, 3)
}

// mergeHeads turns x [B, H, T, D] into [B, T, H·D].
func mergeHeads(g *nn.Graph, x *nn.Value) *nn.Value {
	if g.Err() != nil {
		return nil
	}
	s := x.Shape()
	return g.Reshape(g.Permute(x, 0, 2, 1, 3), s[0], s[2], s[1]*s[3])
}

// attend is eager scaled-dot-product attention as transformers computes
// it: softmax(q·kᵀ·scale + bias, masked)·v for q [B, H, Tq, D] and k, v
// [B, Hkv, Tk, D] (grouped-query heads repeated), giving [B, Tq, H·D].
func attend(g *nn.Graph, q, k, v *nn.Value, o backend.SoftmaxOptions) *nn.Value {
	return attendCapped(g, q, k, v, o, 0)
}

// attendCapped is attend with Gemma 2's attention soft-capping when capAt
// > 0: the scaled logits become capAt·tanh(logits/capAt) before the bias,
// the masks and the softmax.
func attendCapped(g *nn.Graph, q, k, v *nn.Value, o backend.SoftmaxOptions, capAt float32) *nn.Value {
	if g.Err() != nil {
		return nil
	}
	heads, kvHeads := q.Shape()[1], k.Shape()[1]
	if heads != kvHeads {
		k = g.RepeatKV(k, heads/kvHeads)
		v = g.RepeatKV(v, heads/kvHeads)
	}
	scores := g.MatMul(q, k, backend.MatMulOptions{TransB: true})
	if capAt > 0 {
		scale := o.Scale
		if scale == 0 {
			scale = 1
		}
		scores = softcap(g, g.Affine(scores, scale, 0), capAt)
		o.Scale = 1
	}
	probs := g.Softmax(scores, o)
	return mergeHeads(g, g.MatMul(probs, v, backend.MatMulOptions{}))
}

// cached appends a layer's new keys and values to the cache, when there is
// one, and returns the values attention should use.
func cached(g *nn.Graph, c *KVCache, layer int, k, v *nn.Value) (*nn.Value, *nn.Value) {
	if c == nil || g.Err() != nil {
		return k, v
	}
	fk, fv, err := c.appendKV(layer, k.T, v.T)
	if err != nil {
		g.Fail("model.Forward", err)
		return nil, nil
	}
	return g.Constant(fk), g.Constant(fv)
}

// floats uploads host data as an F32 tensor the graph frees on Release.
func floats(g *nn.Graph, data []float32, shape ...int) backend.Tensor {
	if g.Err() != nil {
		return nil
	}
	t, err := g.B.FromFloat32(data, shape...)
	if err != nil {
		g.Fail(fmt.Sprintf("upload %v", shape), err)
		return nil
	}
	return g.Own(t)
}

// ints uploads host data as an I32 tensor the graph frees on Release.
func ints(g *nn.Graph, data []int32, shape ...int) backend.Tensor {
	if g.Err() != nil {
		return nil
	}
	t, err := g.B.FromInt32(data, shape...)
	if err != nil {
		g.Fail(fmt.Sprintf("upload %v", shape), err)
		return nil
	}
	return g.Own(t)
}

// activation maps a transformers activation name to the backend's.
func activation(name string) (backend.Unary, error) {
	switch name {
	case "gelu_new", "gelu_pytorch_tanh", "gelu_fast":
		return backend.GELUTanh, nil
	case "gelu":
		return backend.GELUErf, nil
	case "relu":
		return backend.ReLU, nil
	case "silu", "swish":
		return backend.SiLU, nil
	case "tanh":
		return backend.Tanh, nil
	case "sigmoid":
		return backend.Sigmoid, nil
	}
	return 0, fmt.Errorf("activation %q is not supported (gelu, gelu_new, gelu_pytorch_tanh, relu, silu, tanh, sigmoid)", name)
}

// positions returns position ids [B·T]: in.PositionIDs, or past, past+1, …
// for every row.
func positions(in *Inputs, past int) []int32 {
	if in.PositionIDs != nil {
		return in.PositionIDs
	}
	out := make([]int32, in.Batch*in.Seq)
	for b := 0; b < in.Batch; b++ {
		for t := 0; t < in.Seq; t++ {
			out[b*in.Seq+t] = int32(past + t)
		}
	}
	return out
}

// firstTokens gathers hidden state x [B, T, D] at token 0 of each row,
// giving [B, D] (BERT's pooler, RoBERTa's classification head).
func firstTokens(g *nn.Graph, x *nn.Value) *nn.Value {
	if g.Err() != nil {
		return nil
	}
	s := x.Shape()
	ids := make([]int32, s[0])
	for b := range ids {
		ids[b] = int32(b * s[1])
	}
	return g.Gather(g.Reshape(x, s[0]*s[1], s[2]), ints(g, ids, s[0]))
}

// softcap returns capAt·tanh(x/capAt), Gemma 2's logit soft-capping, or x
// itself when capAt ≤ 0.
func softcap(g *nn.Graph, x *nn.Value, capAt float32) *nn.Value {
	if capAt <= 0 || g.Err() != nil {
		return x
	}
	return g.Affine(g.Act(backend.Tanh, g.Affine(x, 1/capAt, 0)), capAt, 0)
}

// lastOnly narrows hidden states [B, T, D] to the last position when
// in.LastOnly asks for the last logits only.
func lastOnly(g *nn.Graph, x *nn.Value, in *Inputs) *nn.Value {
	if !in.LastOnly || in.Seq <= 1 {
		return x
	}
	return g.Narrow(x, 1, in.Seq-1, 1)
}
