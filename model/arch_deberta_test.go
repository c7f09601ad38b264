package model

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/model/nn"
	"github.com/ia3/ia3/model/safetensors"
)

// debertaSizes are the sizes every DeBERTa case shares: 2 layers of 4
// heads of 4 features.
func debertaSizes(typ string, extra map[string]any) map[string]any {
	raw := map[string]any{"model_type": typ, "vocab_size": 40, "hidden_size": 16, "num_hidden_layers": 2,
		"num_attention_heads": 4, "intermediate_size": 24, "max_position_embeddings": 32, "initializer_range": 0.3}
	for k, v := range extra {
		raw[k] = v
	}
	return raw
}

// debertaLayerNames lists a layer's tensors besides the attention's own
// projections, under prefix p ("deberta." or "").
func debertaLayerNames(p string, attn ...string) []string {
	l := p + "encoder.layer.%d."
	var out []string
	for _, a := range attn {
		out = append(out, l+"attention.self."+a)
	}
	return append(out, lw(l+"attention.output.dense", l+"attention.output.LayerNorm", l+"intermediate.dense",
		l+"output.dense", l+"output.LayerNorm")...)
}

// debertaCases are small random DeBERTa models: a DeBERTa-v3-like
// classifier (log buckets, shared keys, c2p and p2c, norm_rel_ebd, no
// absolute positions), a v2 one with its own position projections, a
// span shorter than the sequence, embed_proj and token types, the bare v2
// model, and two v1 classifiers (fused in_proj, q_bias/v_bias, a span
// shorter and one longer than the sequence).
func debertaCases() []gptCase {
	cls := []any{"DebertaV2ForSequenceClassification"}
	v3 := debertaSizes("deberta-v2", map[string]any{"architectures": cls, "num_labels": 3,
		"relative_attention": true, "position_buckets": 8, "max_relative_positions": 16, "share_att_key": true,
		"pos_att_type": "p2c|c2p", "norm_rel_ebd": "layer_norm", "position_biased_input": false, "hidden_act": "gelu",
		"pooler_hidden_act": "gelu", "layer_norm_eps": 1e-7})
	v3Names := append(lw("deberta.embeddings.LayerNorm", "deberta.encoder.LayerNorm", "pooler.dense", "classifier"),
		"deberta.embeddings.word_embeddings.weight", "deberta.encoder.rel_embeddings.weight")
	v3Layer := debertaLayerNames("deberta.", lw("query_proj", "key_proj", "value_proj")...)

	v2 := debertaSizes("deberta-v2", map[string]any{"architectures": cls, "num_labels": 2,
		"relative_attention": true, "max_relative_positions": 3, "pos_att_type": []any{"c2p", "p2c"},
		"type_vocab_size": 2, "embedding_size": 12, "hidden_act": "relu", "pooler_hidden_act": "tanh"})
	v2Names := append(lw("deberta.embeddings.LayerNorm", "pooler.dense", "classifier"),
		"deberta.embeddings.word_embeddings.weight", "deberta.embeddings.position_embeddings.weight",
		"deberta.embeddings.token_type_embeddings.weight", "deberta.embeddings.embed_proj.weight",
		"deberta.encoder.rel_embeddings.weight")
	v2Layer := debertaLayerNames("deberta.", lw("query_proj", "key_proj", "value_proj", "pos_key_proj", "pos_query_proj")...)

	bare := debertaSizes("deberta-v2", map[string]any{"architectures": []any{"DebertaV2Model"},
		"relative_attention": true, "position_buckets": 8, "max_relative_positions": 16, "pos_att_type": []any{"c2p"},
		"position_biased_input": false})
	bareNames := append(lw("embeddings.LayerNorm"), "embeddings.word_embeddings.weight", "encoder.rel_embeddings.weight")
	bareLayer := debertaLayerNames("", lw("query_proj", "key_proj", "value_proj", "pos_key_proj")...)

	v1 := func(maxRel int) map[string]any {
		return debertaSizes("deberta", map[string]any{"architectures": []any{"DebertaForSequenceClassification"},
			"num_labels": 3, "relative_attention": true, "max_relative_positions": maxRel,
			"pos_att_type": "c2p|p2c", "type_vocab_size": 2})
	}
	v1Names := append(lw("deberta.embeddings.LayerNorm", "pooler.dense", "classifier"),
		"deberta.embeddings.word_embeddings.weight", "deberta.embeddings.position_embeddings.weight",
		"deberta.embeddings.token_type_embeddings.weight", "deberta.encoder.rel_embeddings.weight")
	v1Layer := debertaLayerNames("deberta.", "q_bias", "v_bias", "in_proj.weight", "pos_proj.weight",
		"pos_q_proj.weight", "pos_q_proj.bias")
	// deberta-v2-xlarge's layout: v3's plus a ConvLayer of kernel 3.
	xl := debertaSizes("deberta-v2", map[string]any{})
	for k, v := range v3 {
		xl[k] = v
	}
	xl["conv_kernel_size"], xl["conv_act"] = 3, "gelu"
	xlNames := append(lw("deberta.encoder.conv.conv", "deberta.encoder.conv.LayerNorm"), v3Names...)
	talking := v1(5)
	talking["talking_head"] = true
	talkingLayer := append(debertaLayerNames("deberta.", "q_bias", "v_bias", "in_proj.weight", "pos_proj.weight",
		"pos_q_proj.weight", "pos_q_proj.bias"), "deberta.encoder.layer.%d.attention.self.head_logits_proj.weight",
		"deberta.encoder.layer.%d.attention.self.head_weights_proj.weight")
	return []gptCase{
		{"deberta-v3 like", v3, v3Names, v3Layer},
		{"deberta-v2 xlarge like", xl, xlNames, v3Layer},
		{"deberta-v2 own projections", v2, v2Names, v2Layer},
		{"deberta-v2 bare model", bare, bareNames, bareLayer},
		{"deberta span 5", v1(5), v1Names, v1Layer},
		{"deberta span 32", v1(-1), v1Names, v1Layer},
		{"deberta talking heads", talking, v1Names, talkingLayer},
	}
}

// debertaInputs is a batch of three rows of 9 tokens: whole, right-padded
// by three, and left-padded by two (so the pooled token 0 is padding).
func debertaInputs() *Inputs {
	return &Inputs{Batch: 3, Seq: 9,
		InputIDs: []int32{1, 5, 17, 3, 39, 8, 22, 9, 2, 1, 22, 9, 30, 14, 2, 0, 0, 0,
			0, 0, 1, 7, 7, 12, 25, 4, 2},
		AttentionMask: []int32{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0,
			0, 0, 1, 1, 1, 1, 1, 1, 1},
		TokenTypeIDs: []int32{0, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 0,
			0, 0, 0, 0, 0, 0, 1, 1, 1}}
}

// debertaRef is a float64 transcription of transformers 5's
// modeling_deberta_v2.py and modeling_deberta.py for one row, with
// explicit loops: relative positions and log buckets computed as
// build_relative_position and make_log_bucket_position do, the rel
// embedding slices and clamps of disentangled_attention_bias, and the
// boolean mask m_i·m_j with masked_fill(finfo.min) then softmax.
type debertaRef struct {
	gptRef
	v2 bool
}

func (r *debertaRef) prefix() string {
	if r.cfg.TaskType == TaskSeqCls {
		return "deberta."
	}
	return ""
}

func (r *debertaRef) row(name string, id, dim int) []float64 {
	return append([]float64(nil), r.w[name+".weight"][id*dim:(id+1)*dim]...)
}

// bucket is make_log_bucket_position for one position, in float64. ok is
// false where float32 (torch) could round the ceiling's argument across
// an integer.
func debertaBucket(rel, bucketSize, maxPosition int) (int, bool) {
	mid := bucketSize / 2
	abs := math.Abs(float64(rel))
	if rel < mid && rel > -mid {
		abs = float64(mid - 1)
	}
	if abs <= float64(mid) {
		return rel, true
	}
	x := math.Log(abs/float64(mid)) / math.Log(float64(maxPosition-1)/float64(mid)) * float64(mid-1)
	ok := x == math.Trunc(x) || math.Abs(x-math.Round(x)) > 1e-4
	pos := int(math.Ceil(x)) + mid
	if rel < 0 {
		pos = -pos
	}
	return pos, ok
}

// forward returns the last hidden states [T][hidden], or the class logits
// [1][labels] of a classifier, for one row.
func (r *debertaRef) forward(t *testing.T, ids, mask, types []int32) gptMat {
	c := r.cfg
	pre := r.prefix()
	T, hid := len(ids), c.Hidden
	E := int(r.num("embedding_size", float64(hid)))
	x := make(gptMat, T)
	for i, id := range ids {
		x[i] = r.row(pre+"embeddings.word_embeddings", int(id), E)
		if r.flag("position_biased_input", true) {
			p := r.row(pre+"embeddings.position_embeddings", i, E)
			for k := range x[i] {
				x[i][k] += p[k]
			}
		}
		if r.num("type_vocab_size", 0) > 0 {
			p := r.row(pre+"embeddings.token_type_embeddings", int(types[i]), E)
			for k := range x[i] {
				x[i][k] += p[k]
			}
		}
	}
	if E != hid {
		x = r.linear(x, pre+"embeddings.embed_proj")
	}
	x = r.layerNorm(x, pre+"embeddings.LayerNorm")
	for i := range x {
		for k := range x[i] {
			x[i][k] *= float64(mask[i])
		}
	}
	emb := x
	relAtt := r.flag("relative_attention", false)
	maxRel := int(r.num("max_relative_positions", -1))
	if maxRel < 1 {
		maxRel = c.MaxPositions
	}
	buckets := -1
	if r.v2 {
		buckets = int(r.num("position_buckets", -1))
	}
	relPos := func(i, j int) int {
		if buckets > 0 && maxRel > 0 {
			b, ok := debertaBucket(i-j, buckets, maxRel)
			require.True(t, ok, "bucket of %d is too close to a rounding boundary", i-j)
			return b
		}
		return i - j
	}
	kinds := fmt.Sprint(r.raw["pos_att_type"])
	c2pOn, p2cOn := strings.Contains(kinds, "c2p"), strings.Contains(kinds, "p2c")
	sf := 1.0
	if c2pOn {
		sf++
	}
	if p2cOn {
		sf++
	}
	H, D := c.Heads, c.HeadDim
	scale := math.Sqrt(float64(D) * sf)
	var rel gptMat // the slice of rel_embeddings disentangled_attention_bias keeps
	span := 0
	if relAtt {
		table := make(gptMat, len(r.w[pre+"encoder.rel_embeddings.weight"])/hid)
		for i := range table {
			table[i] = r.row(pre+"encoder.rel_embeddings", i, hid)
		}
		if r.v2 && strings.Contains(fmt.Sprint(r.raw["norm_rel_ebd"]), "layer_norm") {
			table = r.layerNorm(table, pre+"encoder.LayerNorm")
		}
		if r.v2 {
			span = maxRel
			if buckets > 0 {
				span = buckets
			}
			rel = table[0 : 2*span]
		} else {
			span = min(T, maxRel)
			rel = table[maxRel-span : maxRel+span]
		}
	}
	clamp := func(v int) int { return max(0, min(v, 2*span-1)) }
	for l := 0; l < c.Layers; l++ {
		p := fmt.Sprintf("%sencoder.layer.%d.", pre, l)
		s := p + "attention.self."
		var q, k, v, posK, posQ gptMat
		if r.v2 {
			q, k, v = r.linear(x, s+"query_proj"), r.linear(x, s+"key_proj"), r.linear(x, s+"value_proj")
			if relAtt {
				if r.flag("share_att_key", false) {
					posK, posQ = r.linear(rel, s+"key_proj"), r.linear(rel, s+"query_proj")
				} else {
					if c2pOn {
						posK = r.linear(rel, s+"pos_key_proj")
					}
					if p2cOn {
						posQ = r.linear(rel, s+"pos_query_proj")
					}
				}
			}
		} else {
			qp := r.linear(x, s+"in_proj")
			q, k, v = make(gptMat, T), make(gptMat, T), make(gptMat, T)
			for i := 0; i < T; i++ {
				q[i], k[i], v[i] = make([]float64, H*D), make([]float64, H*D), make([]float64, H*D)
				for h := 0; h < H; h++ {
					for d := 0; d < D; d++ {
						q[i][h*D+d] = qp[i][h*3*D+d] + r.w[s+"q_bias"][h*D+d]
						k[i][h*D+d] = qp[i][h*3*D+D+d]
						v[i][h*D+d] = qp[i][h*3*D+2*D+d] + r.w[s+"v_bias"][h*D+d]
					}
				}
			}
			if relAtt && c2pOn {
				posK = r.linear(rel, s+"pos_proj")
			}
			if relAtt && p2cOn {
				posQ = r.linear(rel, s+"pos_q_proj")
			}
		}
		dot := func(a, b []float64, h int) float64 {
			s := 0.0
			for d := 0; d < D; d++ {
				s += a[h*D+d] * b[h*D+d]
			}
			return s
		}
		talk := !r.v2 && r.flag("talking_head", false)
		// mix is a talking-head projection over the heads: y[h] = Σ_g W[h][g]·x[g].
		mix := func(x [][]float64, name string) [][]float64 {
			w := r.w[name+".weight"]
			y := make([][]float64, H)
			for h := range y {
				y[h] = make([]float64, T)
				for gh := 0; gh < H; gh++ {
					for j := range y[h] {
						y[h][j] += w[h*H+gh] * x[gh][j]
					}
				}
			}
			return y
		}
		ctx := make(gptMat, T)
		for i := range ctx {
			ctx[i] = make([]float64, H*D)
		}
		for i := 0; i < T; i++ {
			sc := make([][]float64, H) // [head][key]
			for h := 0; h < H; h++ {
				sc[h] = make([]float64, T)
				for j := 0; j < T; j++ {
					sc[h][j] = dot(q[i], k[j], h) / scale
					if relAtt && c2pOn {
						sc[h][j] += dot(q[i], posK[clamp(relPos(i, j)+span)], h) / scale
					}
					if relAtt && p2cOn {
						// gather at [j][i] with −r(j, i), then transpose.
						sc[h][j] += dot(k[j], posQ[clamp(-relPos(j, i)+span)], h) / scale
					}
				}
			}
			if talk {
				sc = mix(sc, s+"head_logits_proj")
			}
			for h := 0; h < H; h++ {
				for j := 0; j < T; j++ {
					if mask[i] == 0 || mask[j] == 0 {
						sc[h][j] = -math.MaxFloat32
					}
				}
				mx := math.Inf(-1)
				for _, v := range sc[h] {
					mx = math.Max(mx, v)
				}
				sum := 0.0
				for j := range sc[h] {
					sc[h][j] = math.Exp(sc[h][j] - mx)
					sum += sc[h][j]
				}
				for j := range sc[h] {
					sc[h][j] /= sum
				}
			}
			if talk {
				sc = mix(sc, s+"head_weights_proj")
			}
			for h := 0; h < H; h++ {
				for j := 0; j < T; j++ {
					for d := 0; d < D; d++ {
						ctx[i][h*D+d] += sc[h][j] * v[j][h*D+d]
					}
				}
			}
		}
		x = r.layerNorm(gptAdd(r.linear(ctx, p+"attention.output.dense"), x), p+"attention.output.LayerNorm")
		x = r.layerNorm(gptAdd(r.mlp(x, p+"intermediate.dense", p+"output.dense", c.Act), x), p+"output.LayerNorm")
		if k := int(r.num("conv_kernel_size", 0)); l == 0 && k > 0 {
			x = r.conv(emb, x, mask, k)
		}
	}
	if c.TaskType != TaskSeqCls {
		return x
	}
	pooled := r.linear(gptMat{x[0]}, "pooler.dense")
	for i, v := range pooled[0] {
		switch act := fmt.Sprint(r.raw["pooler_hidden_act"]); act {
		case "tanh":
			pooled[0][i] = math.Tanh(v)
		default:
			pooled[0][i] = gptAct("gelu", v)
		}
	}
	return r.linear(pooled, "classifier")
}

// conv is ConvLayer: Conv1d(emb) with padding (k−1)/2, zeroed on padding,
// conv_act, plus the first layer's output x, LayerNorm, times the mask.
func (r *debertaRef) conv(emb, x gptMat, mask []int32, k int) gptMat {
	pre := r.prefix() + "encoder.conv."
	w, b := r.w[pre+"conv.weight"], r.w[pre+"conv.bias"]
	T, H, pad := len(emb), r.cfg.Hidden, (k-1)/2
	sum := make(gptMat, T)
	for t := 0; t < T; t++ {
		sum[t] = make([]float64, H)
		for o := 0; o < H; o++ {
			v := b[o]
			for s := 0; s < k; s++ {
				src := t + s - pad
				if src < 0 || src >= T {
					continue
				}
				for i := 0; i < H; i++ {
					v += w[(o*H+i)*k+s] * emb[src][i]
				}
			}
			if mask[t] == 0 {
				v = 0
			}
			sum[t][o] = x[t][o] + gptAct(fmt.Sprint(r.raw["conv_act"]), v)
		}
	}
	y := r.layerNorm(sum, pre+"LayerNorm")
	for t := range y {
		for o := range y[t] {
			y[t][o] *= float64(mask[t])
		}
	}
	return y
}

// TestDeBERTaParamNames checks that each variant's parameters are named as
// transformers' state dict names them.
func TestDeBERTaParamNames(t *testing.T) {
	for _, c := range debertaCases() {
		t.Run(c.name, func(t *testing.T) {
			m, err := New(c.config(t), nil)
			require.NoError(t, err)
			var got []string
			for _, p := range m.Params() {
				got = append(got, p.Name)
			}
			assert.ElementsMatch(t, c.names(), got)
		})
	}
}

// TestDeBERTaModuleOrder checks named_modules() of a layer and the head,
// as DebertaV2Layer, DisentangledSelfAttention and
// DebertaV2ForSequenceClassification register them, and v1's classes.
func TestDeBERTaModuleOrder(t *testing.T) {
	cases := debertaCases()
	v2, err := New(cases[2].config(t), nil)
	require.NoError(t, err)
	var got, classes []string
	for _, nm := range v2.Modules() {
		if rest, ok := strings.CutPrefix(nm.Name, "deberta.encoder.layer.1."); ok {
			got = append(got, rest)
		}
	}
	assert.Equal(t, []string{"attention", "attention.self", "attention.self.query_proj", "attention.self.key_proj",
		"attention.self.value_proj", "attention.self.pos_dropout", "attention.self.pos_key_proj",
		"attention.self.pos_query_proj", "attention.self.dropout", "attention.output", "attention.output.dense",
		"attention.output.LayerNorm", "attention.output.dropout", "intermediate", "intermediate.dense",
		"intermediate.intermediate_act_fn", "output", "output.dense", "output.LayerNorm", "output.dropout"}, got)
	mods := v2.Modules()
	got = nil
	for _, nm := range mods[len(mods)-6:] {
		got = append(got, nm.Name)
		classes = append(classes, nm.Module.Type())
	}
	assert.Equal(t, []string{"deberta.encoder.rel_embeddings", "pooler", "pooler.dense", "pooler.dropout",
		"classifier", "dropout"}, got)
	assert.Equal(t, []string{"Embedding", "ContextPooler", "Linear", "Dropout", "Linear", "Dropout"}, classes)
	assert.Equal(t, "classifier", v2.OutputLayer())

	v1, err := New(cases[4].config(t), nil)
	require.NoError(t, err)
	got, classes = nil, nil
	for _, nm := range v1.Modules() {
		if rest, ok := strings.CutPrefix(nm.Name, "deberta.encoder.layer.0.attention."); ok {
			got = append(got, rest)
			classes = append(classes, nm.Module.Type())
		}
	}
	assert.Equal(t, []string{"self", "self.in_proj", "self.pos_dropout", "self.pos_proj", "self.pos_q_proj",
		"self.dropout", "output", "output.dense", "output.LayerNorm", "output.dropout"}, got)
	assert.Equal(t, []string{"DisentangledSelfAttention", "Linear", "Dropout", "Linear", "Linear", "Dropout",
		"DebertaSelfOutput", "Linear", "DebertaLayerNorm", "Dropout"}, classes)
	var params []string
	for _, p := range v1.Params()[:12] {
		params = append(params, p.Name)
	}
	assert.Contains(t, strings.Join(params, " "),
		"deberta.encoder.layer.0.attention.self.q_bias deberta.encoder.layer.0.attention.self.v_bias deberta.encoder.layer.0.attention.self.in_proj.weight")

	bare, err := New(cases[3].config(t), nil)
	require.NoError(t, err)
	assert.Equal(t, "", bare.OutputLayer())
	assert.Equal(t, "DebertaV2Model", bare.Modules()[0].Module.Type())
}

// TestDeBERTaBuckets checks make_log_bucket_position at position_buckets
// 256 and max_relative_positions 512 (DeBERTa-v3's) against values worked
// out by hand, and the forward pass's float32 buckets against the test's
// float64 ones wherever float64 is not near a rounding boundary.
func TestDeBERTaBuckets(t *testing.T) {
	// mid 128: |r| ≤ 128 keeps r; past it ceil(log(|r|/128)/log(511/128)·127) + 128.
	for _, tc := range []struct{ rel, want int }{{0, 0}, {5, 5}, {-128, -128}, {128, 128}, {129, 129},
		{-129, -129}, {200, 169}, {511, 255}, {-511, -255}, {1000, 189 + 128}} {
		assert.Equal(t, tc.want, logBucket(tc.rel, 256, 512), "rel %d", tc.rel)
	}
	for _, cfg := range [][2]int{{256, 512}, {8, 16}, {32, 64}} {
		for rel := -2000; rel <= 2000; rel++ {
			want, ok := debertaBucket(rel, cfg[0], cfg[1])
			if ok {
				require.Equal(t, want, logBucket(rel, cfg[0], cfg[1]), "rel %d buckets %v", rel, cfg)
			}
		}
	}
}

// TestDeBERTaForwardMatchesReference loads each variant from a random
// checkpoint with transformers' names and compares its outputs with the
// float64 reference, every row of a padded batch, on the CPU and WebGPU.
func TestDeBERTaForwardMatchesReference(t *testing.T) {
	for _, d := range archBackends() {
		t.Run(d.name, func(t *testing.T) {
			b := d.open(t)
			for i, c := range debertaCases() {
				t.Run(c.name, func(t *testing.T) {
					dir, values := writeRandomCheckpoint(t, c, uint64(i+80))
					m, err := Load(context.Background(), dir, b)
					require.NoError(t, err)
					defer m.Free()
					in := debertaInputs()
					if m.Config().TypeVocabSize == 0 {
						in.TokenTypeIDs = nil
					}
					got, shape := logitsOf(t, m, in)
					ref := &debertaRef{gptRef{raw: c.raw, cfg: m.Config(), w: values}, m.Config().ModelType == "deberta-v2"}
					T := in.Seq
					for r := 0; r < in.Batch; r++ {
						var types []int32
						if in.TokenTypeIDs != nil {
							types = in.TokenTypeIDs[r*T : (r+1)*T]
						}
						want := ref.forward(t, in.InputIDs[r*T:(r+1)*T], in.AttentionMask[r*T:(r+1)*T], types)
						if m.Config().TaskType == TaskSeqCls {
							n := m.Config().NumLabels
							require.Equal(t, []int{3, n}, shape)
							require.InDeltaSlice(t, want[0], f64(got[r*n:(r+1)*n]), 1e-4, "row %d", r)
							continue
						}
						require.Equal(t, []int{3, T, 16}, shape)
						for p := range want {
							require.InDeltaSlice(t, want[p], f64(got[(r*T+p)*16:(r*T+p+1)*16]), 1e-4, "row %d position %d", r, p)
						}
					}
				})
			}
		})
	}
}

// TestDeBERTaPaddingInvariance checks that right padding leaves a row's
// logits as the row alone gives them, for every classifier variant, on
// the CPU.
func TestDeBERTaPaddingInvariance(t *testing.T) {
	b := testBackend(t)
	for i, c := range debertaCases() {
		cfg := c.config(t)
		if cfg.TaskType != TaskSeqCls {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			m, err := NewRandom(cfg, b, uint64(i+90))
			require.NoError(t, err)
			defer m.Free()
			in := debertaInputs()
			if cfg.TypeVocabSize == 0 {
				in.TokenTypeIDs = nil
			}
			batch, _ := logitsOf(t, m, in)
			n := cfg.NumLabels
			alone := &Inputs{Batch: 1, Seq: 6, InputIDs: in.InputIDs[9:15]}
			if in.TokenTypeIDs != nil {
				alone.TokenTypeIDs = in.TokenTypeIDs[9:15]
			}
			got, _ := logitsOf(t, m, alone)
			assert.InDeltaSlice(t, batch[n:2*n], got, 1e-5)
		})
	}
}

// TestDeBERTaConfig checks DebertaConfig's and DebertaV2Config's defaults,
// the published microsoft/deberta-v3-base and deberta-base configs, and
// errors naming the field.
func TestDeBERTaConfig(t *testing.T) {
	v2 := mustConfig(t, `{"model_type":"deberta-v2"}`)
	assert.Equal(t, "DebertaV2ForSequenceClassification", v2.Architecture)
	assert.Equal(t, TaskSeqCls, v2.TaskType)
	assert.Equal(t, []int{128100, 1536, 24, 24, 64, 6144, 512, 0, 0, 2},
		[]int{v2.VocabSize, v2.Hidden, v2.Layers, v2.Heads, v2.HeadDim, v2.Intermediate, v2.MaxPositions,
			v2.TypeVocabSize, v2.PadTokenID, v2.NumLabels})
	assert.InDelta(t, 1e-7, v2.NormEps, 0)
	assert.Equal(t, &DeBERTaConfig{EmbeddingSize: 1536, PositionBiasedInput: true, MaxRelativePositions: 512,
		PositionBuckets: -1, PoolerAct: "gelu"}, v2.DeBERTa)
	v1 := mustConfig(t, `{"model_type":"deberta","architectures":["DebertaModel"]}`)
	assert.Equal(t, TaskFeatureExtraction, v1.TaskType)
	assert.Equal(t, []int{50265, 768, 12, 12, 3072}, []int{v1.VocabSize, v1.Hidden, v1.Layers, v1.Heads, v1.Intermediate})

	v3 := mustConfig(t, `{"model_type":"deberta-v2","attention_probs_dropout_prob":0.1,"hidden_act":"gelu",
		"hidden_dropout_prob":0.1,"hidden_size":768,"initializer_range":0.02,"intermediate_size":3072,
		"max_position_embeddings":512,"relative_attention":true,"position_buckets":256,"norm_rel_ebd":"layer_norm",
		"share_att_key":true,"pos_att_type":"p2c|c2p","layer_norm_eps":1e-7,"max_relative_positions":-1,
		"position_biased_input":false,"num_attention_heads":12,"num_hidden_layers":12,"type_vocab_size":0,
		"vocab_size":128100}`)
	assert.Equal(t, &DeBERTaConfig{EmbeddingSize: 768, RelativeAttention: true, MaxRelativePositions: 512,
		PositionBuckets: 256, C2P: true, P2C: true, ShareAttKey: true, NormRelEmbed: true, PoolerAct: "gelu"}, v3.DeBERTa)
	m, err := New(v3, nil)
	require.NoError(t, err)
	s, _ := m.ParamShape("deberta.encoder.rel_embeddings.weight")
	assert.Equal(t, []int{512, 768}, s)
	_, ok := m.ParamShape("deberta.embeddings.position_embeddings.weight")
	assert.False(t, ok)

	base := mustConfig(t, `{"model_type":"deberta","hidden_size":768,"intermediate_size":3072,
		"max_position_embeddings":512,"relative_attention":true,"pos_att_type":"c2p|p2c","layer_norm_eps":1e-7,
		"max_relative_positions":-1,"position_biased_input":false,"num_attention_heads":12,"num_hidden_layers":12,
		"type_vocab_size":0,"vocab_size":50265}`)
	m, err = New(base, nil)
	require.NoError(t, err)
	s, _ = m.ParamShape("deberta.encoder.rel_embeddings.weight")
	assert.Equal(t, []int{1024, 768}, s)
	s, _ = m.ParamShape("deberta.encoder.layer.3.attention.self.in_proj.weight")
	assert.Equal(t, []int{3 * 768, 768}, s)

	for _, tc := range []struct{ js, field string }{
		{`{"model_type":"deberta-v2","conv_kernel_size":2}`, "conv_kernel_size"},
		{`{"model_type":"deberta-v2","conv_kernel_size":3,"conv_groups":2}`, "conv_groups"},
		{`{"model_type":"deberta-v2","conv_kernel_size":3,"conv_act":"mish"}`, "conv_act"},
		{`{"model_type":"deberta","talking_head":1}`, "talking_head"},
		{`{"model_type":"deberta-v2","pos_att_type":"c2p|p2p"}`, "pos_att_type"},
		{`{"model_type":"deberta-v2","pos_att_type":["c2p","c2p"]}`, "pos_att_type"},
		{`{"model_type":"deberta-v2","pos_att_type":3}`, "pos_att_type"},
		{`{"model_type":"deberta-v2","norm_rel_ebd":"batch_norm"}`, "norm_rel_ebd"},
		{`{"model_type":"deberta-v2","pooler_hidden_size":8}`, "pooler_hidden_size"},
		{`{"model_type":"deberta-v2","pooler_hidden_act":"mish"}`, "pooler_hidden_act"},
		{`{"model_type":"deberta","hidden_act":"mish"}`, "hidden_act"},
		{`{"model_type":"deberta-v2","attention_head_size":32}`, "attention_head_size"},
		{`{"model_type":"deberta-v2","hidden_size":30,"num_attention_heads":4}`, "num_attention_heads"},
		{`{"model_type":"deberta-v2","relative_attention":true,"position_buckets":8,"max_relative_positions":4}`, "position_buckets"},
		{`{"model_type":"deberta-v2","embedding_size":0}`, "embedding_size"},
		{`{"model_type":"deberta-v2","type_vocab_size":-1}`, "type_vocab_size"},
		{`{"model_type":"deberta","num_labels":0}`, "num_labels"},
		{`{"model_type":"deberta","relative_attention":true,"hidden_size":16777216,"num_attention_heads":1,"max_relative_positions":16777216}`, "max_relative_positions"},
		{`{"model_type":"deberta","architectures":["DebertaForMaskedLM"]}`, "DebertaForMaskedLM"},
	} {
		_, err := ParseConfig([]byte(tc.js))
		require.Error(t, err, tc.js)
		assert.Contains(t, err.Error(), tc.field, tc.js)
	}
}

// TestDeBERTaLoad checks loading as transformers does: a checkpoint of the
// bare DebertaV2Model (names without "deberta.", and the
// position_embeddings that _keys_to_ignore_on_load_unexpected skips)
// becomes a classifier with a new pooler and classifier, and an unused
// position table in a classifier's checkpoint is skipped.
func TestDeBERTaLoad(t *testing.T) {
	b := testBackend(t)
	c := debertaCases()[3] // the bare model, position_biased_input false
	dir, _ := writeRandomCheckpoint(t, c, 5)
	// add appends a zero tensor to the checkpoint.
	add := func(name string, shape ...int) {
		path := filepath.Join(dir, safetensors.SingleFileName)
		f, err := safetensors.Open(path)
		require.NoError(t, err)
		var ts []safetensors.Tensor
		for _, n := range f.Names() {
			v, err := f.Float32(n)
			require.NoError(t, err)
			info, _ := f.Info(n)
			ts = append(ts, safetensors.F32Tensor(n, info.Shape, v))
		}
		require.NoError(t, f.Close())
		ts = append(ts, safetensors.F32Tensor(name, shape, make([]float32, shape[0]*shape[1])))
		require.NoError(t, safetensors.Write(path, ts, safetensors.DefaultMetadata()))
	}
	// The table DeBERTa-v3 checkpoints carry though the model has none.
	add("embeddings.position_embeddings.weight", 32, 16)
	m, err := Load(context.Background(), dir, b)
	require.NoError(t, err)
	in := debertaInputs()
	in.TokenTypeIDs = nil
	bare, _ := logitsOf(t, m, in)
	m.Free()
	// A pretraining head the classifier does not use is skipped (logged).
	add("lm_predictions.lm_head.dense.weight", 16, 16)
	_, err = Load(context.Background(), dir, b)
	require.Error(t, err, "strict loading refuses the unused head")
	assert.Contains(t, err.Error(), "lm_predictions.lm_head.dense.weight")
	m, err = LoadWith(context.Background(), dir, b, LoadOptions{Architecture: "DebertaV2ForSequenceClassification", NumLabels: 4})
	require.NoError(t, err)
	defer m.Free()
	assert.Equal(t, TaskSeqCls, m.Config().TaskType)
	got, shape := logitsOf(t, m, in)
	assert.Equal(t, []int{3, 4}, shape)
	assert.Len(t, got, 12)
	assert.Len(t, bare, 3*9*16)
}

// TestDeBERTaIndexLimit checks that a batch whose relative-attention
// gathers would need more products than I32 ids address is refused with a
// clear error before anything that large is allocated.
func TestDeBERTaIndexLimit(t *testing.T) {
	b := testBackend(t)
	m, err := NewRandom(debertaCases()[0].config(t), b, 1)
	require.NoError(t, err)
	defer m.Free()
	const T = 16400 // 2·4 heads·T² > 2³¹ − 1
	in := &Inputs{Batch: 1, Seq: T, InputIDs: make([]int32, T)}
	g := nn.NewGraph(b, false)
	defer g.Release()
	m.Forward(g, in)
	require.Error(t, g.Err())
	assert.Contains(t, g.Err().Error(), "I32 indices")
}
