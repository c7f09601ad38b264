package backend

// attentionArgs validates Attention's q [B, H, Tq, D], k and v
// [B, Hkv, Tk, D] (H a multiple of Hkv, 1 ≤ D ≤ MaxAttentionHeadDim) and
// its options against the scores [B, H, Tq, Tk] they imply, which it
// returns.
func attentionArgs(op string, q, k, v Tensor, o AttentionOptions) ([]int, error) {
	qs, err := rankArg(op, "q", q, onlyF32, 4)
	if err != nil {
		return nil, err
	}
	ks, err := rankArg(op, "k", k, onlyF32, 4)
	if err != nil {
		return nil, err
	}
	vs, err := rankArg(op, "v", v, onlyF32, 4)
	if err != nil {
		return nil, err
	}
	if err := sameShape(op, "k", ks, "v", vs); err != nil {
		return nil, err
	}
	if ks[0] != qs[0] || ks[3] != qs[3] {
		return nil, argErr(op, "q %v and k %v: want k [B, Hkv, Tk, D] with q's B = %d and D = %d", qs, ks, qs[0], qs[3])
	}
	if ks[1] == 0 || qs[1]%ks[1] != 0 {
		return nil, argErr(op, "q %v has %d heads, not a multiple of k %v's %d", qs, qs[1], ks, ks[1])
	}
	if ks[2] == 0 {
		return nil, argErr(op, "k %v has no keys", ks)
	}
	if qs[3] < 1 || qs[3] > MaxAttentionHeadDim {
		return nil, argErr(op, "q %v: head dimension %d outside [1, %d]", qs, qs[3], MaxAttentionHeadDim)
	}
	if err := checkFinite(op, "soft_cap", o.SoftCap); err != nil {
		return nil, err
	}
	if o.SoftCap < 0 {
		return nil, argErr(op, "soft_cap %v: want ≥ 0 (0: no cap)", o.SoftCap)
	}
	scores := []int{qs[0], qs[1], qs[2], ks[2]}
	if err := softmaxOptionArgs(op, scores, o.SoftmaxOptions); err != nil {
		return nil, err
	}
	return scores, nil
}

func (c *checked) Attention(q, k, v Tensor, o AttentionOptions) (Tensor, Tensor, error) {
	if _, err := attentionArgs("attention", q, k, v, o); err != nil {
		return nil, nil, err
	}
	return c.inner.Attention(q, k, v, o)
}

func (c *checked) AttentionBackward(q, k, v, out, lse, dout Tensor, o AttentionOptions) (Tensor, Tensor, Tensor, error) {
	const op = "attention_backward"
	s, err := attentionArgs(op, q, k, v, o)
	if err != nil {
		return nil, nil, nil, err
	}
	b, h, tq, d := s[0], s[1], s[2], q.Shape()[3]
	want := []int{b, tq, h * d}
	for _, a := range []struct {
		name string
		t    Tensor
	}{{"out", out}, {"dout", dout}} {
		as, err := tensorArg(op, a.name, a.t, onlyF32)
		if err != nil {
			return nil, nil, nil, err
		}
		if !equalInts(as, want) {
			return nil, nil, nil, argErr(op, "%s %v for q %v: want [B, Tq, H·D] = %v", a.name, as, q.Shape(), want)
		}
	}
	ls, err := tensorArg(op, "lse", lse, onlyF32)
	if err != nil {
		return nil, nil, nil, err
	}
	if !equalInts(ls, s[:3]) {
		return nil, nil, nil, argErr(op, "lse %v for q %v: want [B, H, Tq] = %v", ls, q.Shape(), s[:3])
	}
	return c.inner.AttentionBackward(q, k, v, out, lse, dout, o)
}
