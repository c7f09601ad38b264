package model

import (
	"fmt"
	"math"
)

// gptRef is a float64 transcription of the transformers forward passes of
// the GPT-style decoders, one row at a time, written with explicit index
// arithmetic (no reshapes) so that it checks the graph's splits, rotary
// layouts, masks and biases independently. It reads the case's raw
// config.json for the layout switches and cfg for plain sizes.
type gptRef struct {
	raw map[string]any
	cfg *Config
	w   map[string][]float64
}

type gptMat [][]float64 // [tokens][features]

func (r *gptRef) flag(key string, def bool) bool {
	if v, ok := r.raw[key].(bool); ok {
		return v
	}
	return def
}

func (r *gptRef) num(key string, def float64) float64 {
	switch v := r.raw[key].(type) {
	case float64:
		return v
	case int:
		return float64(v)
	}
	return def
}

// linear is y = x·Wᵀ + b for a torch Linear weight [out, in].
func (r *gptRef) linear(x gptMat, name string) gptMat {
	w := r.w[name+".weight"]
	in := len(x[0])
	out := len(w) / in
	b := r.w[name+".bias"]
	y := make(gptMat, len(x))
	for t := range x {
		y[t] = make([]float64, out)
		for o := 0; o < out; o++ {
			s := 0.0
			if b != nil {
				s = b[o]
			}
			for i := 0; i < in; i++ {
				s += x[t][i] * w[o*in+i]
			}
			y[t][o] = s
		}
	}
	return y
}

func (r *gptRef) layerNorm(x gptMat, name string) gptMat {
	w, b := r.w[name+".weight"], r.w[name+".bias"]
	eps := r.cfg.NormEps
	y := make(gptMat, len(x))
	for t, row := range x {
		mean, vr := 0.0, 0.0
		for _, v := range row {
			mean += v
		}
		mean /= float64(len(row))
		for _, v := range row {
			vr += (v - mean) * (v - mean)
		}
		vr /= float64(len(row))
		y[t] = make([]float64, len(row))
		for i, v := range row {
			y[t][i] = (v-mean)/math.Sqrt(vr+eps)*w[i] + b[i]
		}
	}
	return y
}

func (r *gptRef) embed(name string, ids []int) gptMat {
	w := r.w[name+".weight"]
	dim := len(w) / r.rows(name)
	y := make(gptMat, len(ids))
	for t, id := range ids {
		y[t] = append([]float64(nil), w[id*dim:(id+1)*dim]...)
	}
	return y
}

// rows is the number of rows of an embedding table, from the config.
func (r *gptRef) rows(name string) int {
	switch {
	case name == "model.decoder.embed_positions":
		return r.cfg.MaxPositions + 2
	case name == "transformer.wpe":
		return r.cfg.MaxPositions
	}
	return r.cfg.VocabSize
}

func gptAct(name string, x float64) float64 {
	switch name {
	case "relu":
		return math.Max(x, 0)
	case "gelu":
		return 0.5 * x * (1 + math.Erf(x/math.Sqrt2))
	}
	// gelu_new, gelu_pytorch_tanh, BloomGelu
	return 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x)))
}

func (r *gptRef) mlp(x gptMat, up, down, actName string) gptMat {
	h := r.linear(x, up)
	for _, row := range h {
		for i := range row {
			row[i] = gptAct(actName, row[i])
		}
	}
	return r.linear(h, down)
}

func gptAdd(xs ...gptMat) gptMat {
	y := make(gptMat, len(xs[0]))
	for t := range y {
		y[t] = make([]float64, len(xs[0][t]))
		for _, x := range xs {
			for i, v := range x[t] {
				y[t][i] += v
			}
		}
	}
	return y
}

// gptHeads holds q [H][T][D] and k, v [Hkv][T][D].
type gptHeads struct{ q, k, v [][][]float64 }

// gptSplit lays per-token feature offsets out as heads: qOff(h), kOff(g),
// vOff(g) give the first feature of query head h and key/value head g.
func gptSplit(x gptMat, h, hk, d int, qOff, kOff, vOff func(int) int) gptHeads {
	T := len(x)
	mk := func(n int, off func(int) int) [][][]float64 {
		out := make([][][]float64, n)
		for i := range out {
			out[i] = make([][]float64, T)
			for t := 0; t < T; t++ {
				out[i][t] = append([]float64(nil), x[t][off(i):off(i)+d]...)
			}
		}
		return out
	}
	return gptHeads{mk(h, qOff), mk(hk, kOff), mk(hk, vOff)}
}

// rotate applies rotary embeddings to the first rot features at the given
// positions; interleaved pairs (2i, 2i+1) as GPT-J's rotate_every_two,
// otherwise (i, i+rot/2) as rotate_half.
func gptRotate(x [][][]float64, pos []int, rot int, theta float64, interleaved bool) {
	for _, hd := range x {
		for t, v := range hd {
			for i := 0; i < rot/2; i++ {
				freq := 1 / math.Pow(theta, float64(2*i)/float64(rot))
				a := float64(pos[t]) * freq
				c, s := math.Cos(a), math.Sin(a)
				i1, i2 := i, i+rot/2
				if interleaved {
					i1, i2 = 2*i, 2*i+1
				}
				x1, x2 := v[i1], v[i2]
				v[i1], v[i2] = x1*c-x2*s, x2*c+x1*s
			}
		}
	}
}

// attend is masked causal attention: softmax(q·k·scale + bias(h, i, j))
// over keys j ≤ i that the mask keeps and visible(i, j) allows.
func gptAttend(hs gptHeads, mask []int32, scale float64, bias func(h, i, j int) float64, visible func(i, j int) bool) gptMat {
	H, T, D := len(hs.q), len(hs.q[0]), len(hs.q[0][0])
	group := H / len(hs.k)
	out := make(gptMat, T)
	for t := range out {
		out[t] = make([]float64, H*D)
	}
	for h := 0; h < H; h++ {
		k, v := hs.k[h/group], hs.v[h/group]
		for i := 0; i < T; i++ {
			sc := make([]float64, T)
			mx := math.Inf(-1)
			for j := 0; j <= i; j++ {
				if mask[j] == 0 || (visible != nil && !visible(i, j)) {
					sc[j] = math.Inf(-1)
					continue
				}
				s := 0.0
				for d := 0; d < D; d++ {
					s += hs.q[h][i][d] * k[j][d]
				}
				s *= scale
				if bias != nil {
					s += bias(h, i, j)
				}
				sc[j] = s
				mx = math.Max(mx, s)
			}
			if math.IsInf(mx, -1) {
				continue // a padded query sees no key: its output is unused
			}
			sum := 0.0
			for j := 0; j <= i; j++ {
				sc[j] = math.Exp(sc[j] - mx)
				sum += sc[j]
			}
			for j := 0; j <= i; j++ {
				if sc[j] == 0 {
					continue
				}
				for d := 0; d < D; d++ {
					out[i][h*D+d] += sc[j] / sum * v[j][d]
				}
			}
		}
	}
	return out
}

// forward returns the logits [T][V] of one row of ids with its mask.
func (r *gptRef) forward(ids32, mask []int32) gptMat {
	c := r.cfg
	ids := make([]int, len(ids32))
	arange := make([]int, len(ids32))
	counted := make([]int, len(ids32)) // (cumsum(mask) − 1)·mask
	n := 0
	for t, id := range ids32 {
		ids[t] = int(id)
		arange[t] = t
		n += int(mask[t])
		counted[t] = (n - 1) * int(mask[t])
	}
	H, D := c.Heads, c.HeadDim
	sdpa := 1 / math.Sqrt(float64(D))
	perHead := func(h int) int { return h * 3 * D }
	interleaved := func(x gptMat) gptHeads {
		return gptSplit(x, H, H, D, perHead, func(g int) int { return perHead(g) + D }, func(g int) int { return perHead(g) + 2*D })
	}
	separate := func(h gptMat, p string) gptHeads {
		q, k, v := r.linear(h, p+"q_proj"), r.linear(h, p+"k_proj"), r.linear(h, p+"v_proj")
		x := make(gptMat, len(h))
		for t := range x {
			x[t] = append(append(append([]float64(nil), q[t]...), k[t]...), v[t]...)
		}
		return gptSplit(x, H, H, D, func(i int) int { return i * D }, func(i int) int { return H*D + i*D }, func(i int) int { return 2*H*D + i*D })
	}
	L := fmt.Sprintf
	var x gptMat
	switch c.ModelType {
	case "gpt_neox":
		x = r.embed("gpt_neox.embed_in", ids)
		rot := int(float64(D) * r.num("rotary_pct", 0.25))
		for l := 0; l < c.Layers; l++ {
			p := L("gpt_neox.layers.%d.", l)
			hs := interleaved(r.linear(r.layerNorm(x, p+"input_layernorm"), p+"attention.query_key_value"))
			gptRotate(hs.q, arange, rot, 10000, false)
			gptRotate(hs.k, arange, rot, 10000, false)
			a := r.linear(gptAttend(hs, mask, sdpa, nil, nil), p+"attention.dense")
			actName := c.Act
			if r.flag("use_parallel_residual", true) {
				x = gptAdd(x, a, r.mlp(r.layerNorm(x, p+"post_attention_layernorm"), p+"mlp.dense_h_to_4h", p+"mlp.dense_4h_to_h", actName))
			} else {
				x = gptAdd(x, a)
				x = gptAdd(x, r.mlp(r.layerNorm(x, p+"post_attention_layernorm"), p+"mlp.dense_h_to_4h", p+"mlp.dense_4h_to_h", actName))
			}
		}
		x = r.layerNorm(x, "gpt_neox.final_layer_norm")
		if r.flag("tie_word_embeddings", false) {
			return r.tied(x, "gpt_neox.embed_in")
		}
		return r.head(x, "embed_out")
	case "opt":
		x = r.embed("model.decoder.embed_tokens", ids)
		if _, ok := r.w["model.decoder.project_in.weight"]; ok {
			x = r.linear(x, "model.decoder.project_in")
		}
		pos := make([]int, len(counted))
		for t := range pos {
			pos[t] = counted[t] + 2
			if mask[t] == 0 {
				pos[t] = 1 // −1 + 2
			}
		}
		x = gptAdd(x, r.embed("model.decoder.embed_positions", pos))
		before := r.flag("do_layer_norm_before", true)
		for l := 0; l < c.Layers; l++ {
			p := L("model.decoder.layers.%d.", l)
			h := x
			if before {
				h = r.layerNorm(h, p+"self_attn_layer_norm")
			}
			x = gptAdd(x, r.linear(gptAttend(separate(h, p+"self_attn."), mask, sdpa, nil, nil), p+"self_attn.out_proj"))
			if !before {
				x = r.layerNorm(x, p+"self_attn_layer_norm")
			}
			h = x
			if before {
				h = r.layerNorm(h, p+"final_layer_norm")
			}
			x = gptAdd(x, r.mlp(h, p+"fc1", p+"fc2", "relu"))
			if !before {
				x = r.layerNorm(x, p+"final_layer_norm")
			}
		}
		if before {
			x = r.layerNorm(x, "model.decoder.final_layer_norm")
		}
		if _, ok := r.w["model.decoder.project_out.weight"]; ok {
			x = r.linear(x, "model.decoder.project_out")
		}
		return r.tied(x, "model.decoder.embed_tokens")
	case "bloom":
		x = r.layerNorm(r.embed("transformer.word_embeddings", ids), "transformer.word_embeddings_layernorm")
		slopes := gptALiBiSlopes(H)
		bias := func(h, i, j int) float64 { return slopes[h] * float64(counted[j]) }
		post := r.flag("apply_residual_connection_post_layernorm", false)
		for l := 0; l < c.Layers; l++ {
			p := L("transformer.h.%d.", l)
			h := r.layerNorm(x, p+"input_layernorm")
			res := x
			if post {
				res = h
			}
			x = gptAdd(res, r.linear(gptAttend(interleaved(r.linear(h, p+"self_attention.query_key_value")), mask, sdpa, bias, nil), p+"self_attention.dense"))
			h = r.layerNorm(x, p+"post_attention_layernorm")
			res = x
			if post {
				res = h
			}
			x = gptAdd(res, r.mlp(h, p+"mlp.dense_h_to_4h", p+"mlp.dense_4h_to_h", "bloom_gelu"))
		}
		return r.tied(r.layerNorm(x, "transformer.ln_f"), "transformer.word_embeddings")
	case "falcon":
		x = r.embed("transformer.word_embeddings", ids)
		newArch, mq := r.flag("new_decoder_architecture", false), r.flag("multi_query", true)
		parallel := r.flag("parallel_attn", true)
		for l := 0; l < c.Layers; l++ {
			p := L("transformer.h.%d.", l)
			var hIn gptMat
			if newArch {
				hIn = r.layerNorm(x, p+"ln_attn")
			} else {
				hIn = r.layerNorm(x, p+"input_layernorm")
			}
			qkv := r.linear(hIn, p+"self_attention.query_key_value")
			var hs gptHeads
			switch {
			case newArch:
				g := int(r.num("num_kv_heads", float64(H)))
				per := H / g
				hs = gptSplit(qkv, H, g, D, func(h int) int { return ((h/per)*(per+2) + h%per) * D },
					func(k int) int { return (k*(per+2) + per) * D }, func(k int) int { return (k*(per+2) + per + 1) * D })
			case mq:
				hs = gptSplit(qkv, H, 1, D, func(h int) int { return h * D }, func(int) int { return H * D }, func(int) int { return (H + 1) * D })
			default:
				hs = interleaved(qkv)
			}
			gptRotate(hs.q, arange, D, 10000, false)
			gptRotate(hs.k, arange, D, 10000, false)
			a := r.linear(gptAttend(hs, mask, sdpa, nil, nil), p+"self_attention.dense")
			up, down := p+"mlp.dense_h_to_4h", p+"mlp.dense_4h_to_h"
			switch {
			case newArch:
				x = gptAdd(x, a, r.mlp(r.layerNorm(x, p+"ln_mlp"), up, down, "gelu"))
			case parallel:
				x = gptAdd(x, a, r.mlp(hIn, up, down, "gelu"))
			default:
				x = gptAdd(x, a)
				x = gptAdd(x, r.mlp(r.layerNorm(x, p+"post_attention_layernorm"), up, down, "gelu"))
			}
		}
		x = r.layerNorm(x, "transformer.ln_f")
		if r.flag("tie_word_embeddings", true) {
			return r.tied(x, "transformer.word_embeddings")
		}
		return r.head(x, "lm_head")
	case "gpt_bigcode", "gpt_neo":
		x = gptAdd(r.embed("transformer.wte", ids), r.embed("transformer.wpe", arange))
		for l := 0; l < c.Layers; l++ {
			p := L("transformer.h.%d.", l)
			h := r.layerNorm(x, p+"ln_1")
			var a gptMat
			if c.ModelType == "gpt_bigcode" {
				qkv := r.linear(h, p+"attn.c_attn")
				var hs gptHeads
				if r.flag("multi_query", true) {
					hs = gptSplit(qkv, H, 1, D, func(h int) int { return h * D }, func(int) int { return H * D }, func(int) int { return (H + 1) * D })
				} else {
					hs = interleaved(qkv)
				}
				a = r.linear(gptAttend(hs, mask, sdpa, nil, nil), p+"attn.c_proj")
			} else {
				var visible func(i, j int) bool
				if l%2 == 1 { // attention_types [["global", "local"], 1]
					w := int(r.num("window_size", 256))
					visible = func(i, j int) bool { return i-j < w }
				}
				a = r.linear(gptAttend(separate(h, p+"attn.attention."), mask, 1, nil, visible), p+"attn.attention.out_proj")
			}
			x = gptAdd(x, a)
			x = gptAdd(x, r.mlp(r.layerNorm(x, p+"ln_2"), p+"mlp.c_fc", p+"mlp.c_proj", c.Act))
		}
		return r.tied(r.layerNorm(x, "transformer.ln_f"), "transformer.wte")
	case "gptj":
		x = r.embed("transformer.wte", ids)
		rot := int(r.num("rotary_dim", float64(D)))
		for l := 0; l < c.Layers; l++ {
			p := L("transformer.h.%d.", l)
			h := r.layerNorm(x, p+"ln_1")
			hs := separate(h, p+"attn.")
			gptRotate(hs.q, arange, rot, 10000, true)
			gptRotate(hs.k, arange, rot, 10000, true)
			a := r.linear(gptAttend(hs, mask, sdpa, nil, nil), p+"attn.out_proj")
			x = gptAdd(x, a, r.mlp(h, p+"mlp.fc_in", p+"mlp.fc_out", "gelu_new"))
		}
		return r.head(r.layerNorm(x, "transformer.ln_f"), "lm_head")
	case "gpt2":
		// GPT2Model: Conv1D weights [in, out]; c_attn's output holds all
		// queries, then all keys, then all values.
		x = gptAdd(r.embed("transformer.wte", ids), r.embed("transformer.wpe", arange))
		for l := 0; l < c.Layers; l++ {
			p := L("transformer.h.%d.", l)
			qkv := r.conv1d(r.layerNorm(x, p+"ln_1"), p+"attn.c_attn")
			hs := gptSplit(qkv, H, H, D, func(h int) int { return h * D }, func(h int) int { return H*D + h*D },
				func(h int) int { return 2*H*D + h*D })
			x = gptAdd(x, r.conv1d(gptAttend(hs, mask, sdpa, nil, nil), p+"attn.c_proj"))
			f := r.conv1d(r.layerNorm(x, p+"ln_2"), p+"mlp.c_fc")
			for _, row := range f {
				for i := range row {
					row[i] = gptAct("gelu_new", row[i])
				}
			}
			x = gptAdd(x, r.conv1d(f, p+"mlp.c_proj"))
		}
		return r.tied(r.layerNorm(x, "transformer.ln_f"), "transformer.wte")
	case "phi":
		// PhiModel: one LayerNorm feeds attention (biased q/k/v, rotary
		// on the first half of each head) and the MLP, both added at once.
		x = r.embed("model.embed_tokens", ids)
		rot := int(float64(D) * r.num("partial_rotary_factor", 0.5))
		for l := 0; l < c.Layers; l++ {
			p := L("model.layers.%d.", l)
			h := r.layerNorm(x, p+"input_layernorm")
			hs := separate(h, p+"self_attn.")
			gptRotate(hs.q, arange, rot, 10000, false)
			gptRotate(hs.k, arange, rot, 10000, false)
			a := r.linear(gptAttend(hs, mask, sdpa, nil, nil), p+"self_attn.dense")
			x = gptAdd(x, a, r.mlp(h, p+"mlp.fc1", p+"mlp.fc2", "gelu_new"))
		}
		return r.head(r.layerNorm(x, "model.final_layernorm"), "lm_head")
	}
	panic("gptRef: unknown model type " + c.ModelType)
}

// tied is the output head sharing the embedding table name, or a
// sequence classifier's score (see head).
func (r *gptRef) tied(x gptMat, name string) gptMat {
	if _, ok := r.w["score.weight"]; ok {
		return r.linear(x, "score")
	}
	w := map[string][]float64{"head.weight": r.w[name+".weight"]}
	return (&gptRef{w: w}).linear(x, "head")
}

// head is the untied output head name, or, when the weights hold
// score.weight, a sequence classifier's score, applied to every position
// as transformers applies it before pooling.
func (r *gptRef) head(x gptMat, name string) gptMat {
	if _, ok := r.w["score.weight"]; ok {
		return r.linear(x, "score")
	}
	return r.linear(x, name)
}

// conv1d is GPT-2's Conv1D: y = x·W + b with W [in, out].
func (r *gptRef) conv1d(x gptMat, name string) gptMat {
	w, b := r.w[name+".weight"], r.w[name+".bias"]
	in := len(x[0])
	out := len(w) / in
	y := make(gptMat, len(x))
	for t := range x {
		y[t] = make([]float64, out)
		for o := 0; o < out; o++ {
			s := b[o]
			for i := 0; i < in; i++ {
				s += x[t][i] * w[i*out+o]
			}
			y[t][o] = s
		}
	}
	return y
}

// gptALiBiSlopes is the ALiBi slope formula in float64: 2^(−8i/n) for a
// power of two n, else those of the largest power of two p < n followed
// by every other slope of 2p.
func gptALiBiSlopes(n int) []float64 {
	p := 1
	for p*2 <= n {
		p *= 2
	}
	var out []float64
	for i := 1; i <= p; i++ {
		out = append(out, math.Pow(2, -8*float64(i)/float64(p)))
	}
	for i := 1; len(out) < n; i += 2 {
		out = append(out, math.Pow(2, -8*float64(i)/float64(2*p)))
	}
	return out
}
