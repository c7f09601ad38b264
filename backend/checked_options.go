package backend

// Validation of the operations that take an options struct: the rules for
// how the optional tensors fit the main arguments.

// linearArgs validates Linear: x [..., in], w [out, in] (or [in, out] with
// FanInFanOut), Bias [out], OutScale [out] or [A, out], InScale [in] or
// [A, in], and ScaleIndex I32 [rows] exactly when a scale is stacked.
func linearArgs(x, w Tensor, o LinearOptions) error {
	const op = "linear"
	xs, err := minRankArg(op, "x", x, onlyF32, 1)
	if err != nil {
		return err
	}
	ws, err := weightArg(op, "w", w, 2, true)
	if err != nil {
		return err
	}
	if d := w.DType(); d.IsQuantized() && o.FanInFanOut {
		return argErr(op, "w %v is %v: fan_in_fan_out is refused for a quantized weight (store it (out, in))", ws, d)
	}
	in, out, layout := ws[1], ws[0], "(out, in)"
	if o.FanInFanOut {
		in, out, layout = ws[0], ws[1], "(in, out)"
	}
	if xs[len(xs)-1] != in {
		return argErr(op, "x %v and w %v %s: in features %d and %d differ", xs, ws, layout, xs[len(xs)-1], in)
	}
	rows := product(xs[:len(xs)-1])
	if err := resultShape(op, append(append([]int(nil), xs[:len(xs)-1]...), out)); err != nil {
		return err
	}
	if err := optionalVector(op, "bias", o.Bias, out, "out features of w "+layout); err != nil {
		return err
	}
	outA, err := scaleVector(op, "out_scale", o.OutScale, out, "out")
	if err != nil {
		return err
	}
	inA, err := scaleVector(op, "in_scale", o.InScale, in, "in")
	if err != nil {
		return err
	}
	if outA > 0 && inA > 0 && outA != inA {
		return argErr(op, "out_scale stacks %d vectors but in_scale stacks %d", outA, inA)
	}
	stacked := max(outA, inA)
	if isNil(o.ScaleIndex) {
		if stacked > 0 {
			return argErr(op, "scales stack %d vectors [A, n] but scale_index is nil", stacked)
		}
		return nil
	}
	is, err := rankArg(op, "scale_index", o.ScaleIndex, onlyI32, 1)
	if err != nil {
		return err
	}
	if stacked == 0 {
		return argErr(op, "scale_index %v given but no scale is stacked [A, n]", is)
	}
	if is[0] != rows {
		return argErr(op, "scale_index %v for x %v: want one entry per row (%d)", is, xs, rows)
	}
	return nil
}

// scaleVector validates an optional (IA)³ scale of n features: [n] or
// [A, n]. It returns A for a stacked scale and 0 otherwise.
func scaleVector(op, name string, t Tensor, n int, side string) (int, error) {
	if isNil(t) {
		return 0, nil
	}
	s, err := tensorArg(op, name, t, onlyF32)
	if err != nil {
		return 0, err
	}
	switch {
	case len(s) == 1 && s[0] == n:
		return 0, nil
	case len(s) == 2 && s[1] == n:
		return s[0], nil
	}
	return 0, argErr(op, "%s %v: want [%d] or [A, %d] (%s features)", name, s, n, n, side)
}

// softmaxArgs validates Softmax: scores [B, H, Tq, Tk], KeyMask [B, Tk],
// Bias [H, Tq, Tk] or [B, H, Tq, Tk], and a finite Scale.
func softmaxArgs(scores Tensor, o SoftmaxOptions) error {
	const op = "softmax"
	s, err := rankArg(op, "scores", scores, onlyF32, 4)
	if err != nil {
		return err
	}
	if err := checkFinite(op, "scale", o.Scale); err != nil {
		return err
	}
	if o.Window < 0 {
		return argErr(op, "window %d: want ≥ 0 (0: no sliding window)", o.Window)
	}
	if !isNil(o.KeyMask) {
		ms, err := tensorArg(op, "key_mask", o.KeyMask, onlyF32)
		if err != nil {
			return err
		}
		if !equalInts(ms, []int{s[0], s[3]}) {
			return argErr(op, "key_mask %v for scores %v: want [B, Tk] = [%d %d]", ms, s, s[0], s[3])
		}
	}
	if !isNil(o.Bias) {
		bs, err := tensorArg(op, "bias", o.Bias, onlyF32)
		if err != nil {
			return err
		}
		if !equalInts(bs, s) && !equalInts(bs, s[1:]) {
			return argErr(op, "bias %v for scores %v: want [H, Tq, Tk] or [B, H, Tq, Tk]", bs, s)
		}
	}
	return nil
}

// ropeArgs validates Rope: x [B, H, T, D], InvFreq [R/2] with R ≤ D, and
// Positions I32 [T] or [B, T].
func ropeArgs(x Tensor, o RopeOptions) error {
	const op = "rope"
	s, err := rankArg(op, "x", x, onlyF32, 4)
	if err != nil {
		return err
	}
	if isNil(o.InvFreq) {
		return argErr(op, "inv_freq is nil")
	}
	fs, err := rankArg(op, "inv_freq", o.InvFreq, onlyF32, 1)
	if err != nil {
		return err
	}
	if 2*fs[0] > s[3] {
		return argErr(op, "inv_freq %v rotates %d features but x %v has only %d", fs, 2*fs[0], s, s[3])
	}
	if isNil(o.Positions) {
		return argErr(op, "positions is nil")
	}
	ps, err := tensorArg(op, "positions", o.Positions, onlyI32)
	if err != nil {
		return err
	}
	if !equalInts(ps, []int{s[2]}) && !equalInts(ps, []int{s[0], s[2]}) {
		return argErr(op, "positions %v for x %v: want [T] = [%d] or [B, T] = [%d %d]", ps, s, s[2], s[0], s[2])
	}
	return nil
}

// adamWArgs validates AdamW: four F32 tensors of one shape and torch's
// hyper-parameter ranges (lr, eps, weight decay ≥ 0; betas in [0, 1);
// step ≥ 1).
func adamWArgs(param, grad, m, v Tensor, o AdamWOptions) error {
	const op = "adamw"
	if _, err := sameShapeArgs(op, []string{"param", "grad", "m", "v"}, param, grad, m, v); err != nil {
		return err
	}
	for _, h := range []struct {
		name string
		v    float32
	}{{"lr", o.LR}, {"beta1", o.Beta1}, {"beta2", o.Beta2}, {"eps", o.Eps}, {"weight_decay", o.WeightDecay}} {
		if err := checkFinite(op, h.name, h.v); err != nil {
			return err
		}
		if h.v < 0 {
			return argErr(op, "%s %v is negative", h.name, h.v)
		}
	}
	if o.Beta1 >= 1 || o.Beta2 >= 1 {
		return argErr(op, "betas (%v, %v) must lie in [0, 1)", o.Beta1, o.Beta2)
	}
	if o.Step < 1 {
		return argErr(op, "step %d: want 1 for the first step", o.Step)
	}
	return nil
}
