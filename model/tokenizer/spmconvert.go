package tokenizer

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// SentencePiece layouts: the slow tokenizer classes of transformers whose
// converters (convert_slow_tokenizer.py) ConvertSentencePiece follows.
const (
	LayoutDebertaV2 = "deberta-v2" // DebertaV2Tokenizer (DeBERTa-v2, -v3)
	LayoutT5        = "t5"         // T5Tokenizer (T5, FLAN-T5, mT5, umT5)
	LayoutAlbert    = "albert"     // AlbertTokenizer
	LayoutLlama     = "llama"      // LlamaTokenizer (Llama 1/2, Mistral, ...)
)

// layoutByClass maps tokenizer_config.json's tokenizer_class (without a
// "Fast" suffix) to a layout.
var layoutByClass = map[string]string{
	"DebertaV2Tokenizer": LayoutDebertaV2,
	"T5Tokenizer":        LayoutT5,
	"MT5Tokenizer":       LayoutT5,
	"AlbertTokenizer":    LayoutAlbert,
	"LlamaTokenizer":     LayoutLlama,
}

// layoutByModelType maps config.json's model_type to a layout, for
// directories whose tokenizer_config.json names no class (transformers'
// TOKENIZER_MAPPING_NAMES).
var layoutByModelType = map[string]string{
	"deberta-v2": LayoutDebertaV2,
	"t5":         LayoutT5,
	"mt5":        LayoutT5,
	"umt5":       LayoutT5,
	"albert":     LayoutAlbert,
	"llama":      LayoutLlama,
	"mistral":    LayoutLlama,
}

// spmFileByLayout is the .model file name each class saves (its
// VOCAB_FILES_NAMES).
var spmFileByLayout = map[string]string{
	LayoutDebertaV2: "spm.model",
	LayoutT5:        "spiece.model",
	LayoutAlbert:    "spiece.model",
	LayoutLlama:     "tokenizer.model",
}

// SentencePieceLayout returns the layout of a tokenizer class name (as
// tokenizer_config.json's tokenizer_class spells it, "Fast" suffix
// allowed) or, when class is empty, of a config.json model_type.
func SentencePieceLayout(class, modelType string) (string, error) {
	if class != "" {
		if l, ok := layoutByClass[strings.TrimSuffix(class, "Fast")]; ok {
			return l, nil
		}
		return "", fmt.Errorf("tokenizer_class %q has no SentencePiece conversion (DebertaV2Tokenizer, T5Tokenizer, MT5Tokenizer, AlbertTokenizer and LlamaTokenizer have)", class)
	}
	if l, ok := layoutByModelType[modelType]; ok {
		return l, nil
	}
	return "", fmt.Errorf("model_type %q has no SentencePiece conversion (deberta-v2, t5, mt5, umt5, albert, llama and mistral have)", modelType)
}

// spmConfig is what the converters read of tokenizer_config.json (with
// special_tokens_map.json's entries), with the slow classes' defaults.
type spmConfig struct {
	raw map[string]json.RawMessage
}

// flag reads a boolean key, def when absent or null.
func (c spmConfig) flag(key string, def bool) (bool, error) {
	v, ok := c.raw[key]
	if !ok || isNull(v) {
		return def, nil
	}
	var b bool
	if err := json.Unmarshal(v, &b); err != nil {
		return false, fmt.Errorf("%s: want true or false, got %s", key, v)
	}
	return b, nil
}

// token reads a special-token key: its AddedToken (normalized false,
// special true unless the entry says otherwise) and whether it is set.
// def is the class's default content ("" for none).
func (c spmConfig) token(key string, def AddedToken) (AddedToken, bool, error) {
	v, ok := c.raw[key]
	if !ok {
		return def, def.Content != "", nil
	}
	return parseConfigAddedToken(key, v)
}

// parseConfigAddedToken reads a string or an AddedToken object
// ({"content", "lstrip", "rstrip", "normalized", "single_word",
// "special"}) as transformers saves them; null is unset.
func parseConfigAddedToken(key string, v json.RawMessage) (AddedToken, bool, error) {
	if isNull(v) {
		return AddedToken{}, false, nil
	}
	t := AddedToken{Special: true}
	var s string
	if err := json.Unmarshal(v, &s); err == nil {
		t.Content = s
		return t, s != "", nil
	}
	var obj struct {
		Content    *string `json:"content"`
		LStrip     bool    `json:"lstrip"`
		RStrip     bool    `json:"rstrip"`
		Normalized *bool   `json:"normalized"`
		SingleWord bool    `json:"single_word"`
		Special    *bool   `json:"special"`
	}
	if err := json.Unmarshal(v, &obj); err != nil || obj.Content == nil {
		return t, false, fmt.Errorf("%s: want a string or an object with \"content\", got %s", key, v)
	}
	t.Content, t.LStrip, t.RStrip, t.SingleWord = *obj.Content, obj.LStrip, obj.RStrip, obj.SingleWord
	if obj.Special != nil {
		t.Special = *obj.Special
	}
	t.Normalized = !t.Special
	if obj.Normalized != nil {
		t.Normalized = *obj.Normalized
	}
	return t, t.Content != "", nil
}

// SentencePieceOptions say how to convert a SentencePiece model.
type SentencePieceOptions struct {
	// Layout is LayoutDebertaV2, LayoutT5, LayoutAlbert or LayoutLlama
	// (see SentencePieceLayout).
	Layout string
	// TokenizerConfig is tokenizer_config.json's content (nil: the
	// class's defaults); SpecialTokensMap is special_tokens_map.json's,
	// whose entries count where tokenizer_config.json lacks the key.
	TokenizerConfig, SpecialTokensMap []byte
}

// ConvertSentencePiece returns the tokenizer.json transformers' converter
// for o.Layout builds from m (convert_slow_tokenizer.py: DebertaV2Converter,
// T5Converter, AlbertConverter, LlamaConverter), with the added tokens a
// fast tokenizer adds on load: the model's control and user-defined
// pieces, tokenizer_config.json's added_tokens_decoder, then the special
// tokens (bos_token ... mask_token, additional_special_tokens) it or the
// class's defaults name. name identifies the model in errors.
func ConvertSentencePiece(name string, m *SentencePieceModel, o SentencePieceOptions) ([]byte, error) {
	fail := func(err error) ([]byte, error) { return nil, fmt.Errorf("tokenizer: %s: %w", name, err) }
	cfg := spmConfig{raw: map[string]json.RawMessage{}}
	if len(o.SpecialTokensMap) > 0 {
		if err := json.Unmarshal(o.SpecialTokensMap, &cfg.raw); err != nil {
			return fail(fmt.Errorf("special_tokens_map.json: bad JSON: %w", err))
		}
	}
	if len(o.TokenizerConfig) > 0 {
		var tc map[string]json.RawMessage
		if err := json.Unmarshal(o.TokenizerConfig, &tc); err != nil {
			return fail(fmt.Errorf("tokenizer_config.json: bad JSON: %w", err))
		}
		for k, v := range tc {
			cfg.raw[k] = v
		}
	}
	c := &spmConverter{m: m, cfg: cfg, layout: o.Layout}
	out, err := c.convert()
	if err != nil {
		return fail(err)
	}
	return out, nil
}

// spmConverter builds one tokenizer.json.
type spmConverter struct {
	m      *SentencePieceModel
	cfg    spmConfig
	layout string

	vocab  []spmEntry      // the model's vocabulary, by id
	ids    map[string]int  // piece → id (last wins, as HF's dicts)
	added  []AddedToken    // in the order added; by id once done
	byText map[string]int  // content → index in added
	nextID int             // past the largest added id
	tmpl   map[string]bool // tokens the template uses
}

type spmEntry struct {
	piece string
	score float64
}

func (c *spmConverter) convert() (_ []byte, err error) {
	cfg := c.cfg
	// legacy and add_prefix_space are attributes of the T5 and Llama
	// classes only; the converters take the others as legacy, with a
	// prefix space.
	legacy, addPrefix := true, true
	if c.layout == LayoutT5 || c.layout == LayoutLlama {
		if legacy, err = cfg.flag("legacy", true); err != nil {
			return nil, err
		}
		if addPrefix, err = cfg.flag("add_prefix_space", true); err != nil {
			return nil, err
		}
	}
	// Metaspace's prepend scheme (_get_prepend_scheme).
	scheme := "never"
	if addPrefix {
		scheme = "always"
		if !legacy {
			scheme = "first"
		}
	}
	c.buildVocab()
	if c.layout == LayoutT5 {
		n := 100
		if v, ok := cfg.raw["extra_ids"]; ok && !isNull(v) {
			if err := json.Unmarshal(v, &n); err != nil || n < 0 || n > 1<<20 {
				return nil, fmt.Errorf("tokenizer_config.json: extra_ids: want a count, got %s", v)
			}
		}
		for i := n - 1; i >= 0; i-- {
			c.appendVocab(fmt.Sprintf("<extra_id_%d>", i), 0)
		}
	}
	byteFallback := c.layout == LayoutLlama
	var model map[string]any
	switch c.m.ModelType {
	case SPMUnigram:
		unkID := c.m.UnkID
		if c.layout == LayoutLlama {
			unkID = 0
		}
		vocab := make([][2]any, len(c.vocab))
		for i, e := range c.vocab {
			vocab[i] = [2]any{e.piece, e.score}
		}
		model = map[string]any{"type": "Unigram", "unk_id": unkID, "vocab": vocab, "byte_fallback": byteFallback}
	case SPMBPE:
		vocab := make(map[string]int, len(c.vocab))
		for i, e := range c.vocab {
			vocab[e.piece] = i
		}
		model = map[string]any{"type": "BPE", "dropout": nil, "unk_token": c.m.UnkPiece, "continuing_subword_prefix": nil,
			"end_of_word_suffix": nil, "fuse_unk": true, "byte_fallback": byteFallback, "ignore_merges": false,
			"vocab": vocab, "merges": c.merges()}
	default:
		return nil, fmt.Errorf("trainer_spec.model_type %d (%s) has no tokenizers model (unigram and bpe have)", c.m.ModelType, spmTypeName(c.m.ModelType))
	}

	// The model's control (special) and user-defined pieces are added
	// tokens, then the fast tokenizer's own.
	c.byText = map[string]int{}
	for id, p := range c.m.Pieces {
		if p.Type == PieceControl || p.Type == PieceUserDefined {
			c.add(AddedToken{ID: id, Content: p.Piece, Special: p.Type == PieceControl}, false)
		}
	}
	if err := c.configTokens(); err != nil {
		return nil, err
	}

	charsmap := c.m.Normalizer.PrecompiledCharsmap
	precompiled := func() []any {
		if len(charsmap) == 0 {
			return nil
		}
		return []any{map[string]any{"type": "Precompiled", "precompiled_charsmap": charsmap}}
	}
	replace := func(pattern map[string]any, content string) map[string]any {
		return map[string]any{"type": "Replace", "pattern": pattern, "content": content}
	}
	spaces := map[string]any{"Regex": " {2,}"}
	metaspace := map[string]any{"type": "Metaspace", "replacement": "▁", "prepend_scheme": scheme, "split": true}
	tok := map[string]any{"version": "1.0", "truncation": nil, "padding": nil, "model": model}
	var norm []any
	var post any
	switch c.layout {
	case LayoutDebertaV2:
		lower, err := cfg.flag("do_lower_case", false)
		if err != nil {
			return nil, err
		}
		punct, err := cfg.flag("split_by_punct", false)
		if err != nil {
			return nil, err
		}
		if lower {
			norm = append(norm, map[string]any{"type": "Lowercase"})
		}
		norm = append(norm, map[string]any{"type": "Strip", "strip_left": true, "strip_right": true})
		norm = append(norm, precompiled()...)
		norm = append(norm, replace(spaces, " "))
		pre := []any{}
		if punct {
			pre = append(pre, map[string]any{"type": "Punctuation", "behavior": "Isolated"})
		}
		tok["pre_tokenizer"] = map[string]any{"type": "Sequence", "pretokenizers": append(pre, metaspace)}
		tok["decoder"] = metaspace
		post, err = c.clsSep()
		if err != nil {
			return nil, err
		}
	case LayoutAlbert:
		lower, err := cfg.flag("do_lower_case", true)
		if err != nil {
			return nil, err
		}
		keep, err := cfg.flag("keep_accents", false)
		if err != nil {
			return nil, err
		}
		norm = []any{replace(map[string]any{"String": "``"}, `"`), replace(map[string]any{"String": "''"}, `"`)}
		if !keep {
			norm = append(norm, map[string]any{"type": "NFKD"}, map[string]any{"type": "StripAccents"})
		}
		if lower {
			norm = append(norm, map[string]any{"type": "Lowercase"})
		}
		norm = append(norm, precompiled()...)
		norm = append(norm, replace(spaces, " "))
		tok["pre_tokenizer"] = metaspace
		tok["decoder"] = metaspace
		if post, err = c.clsSep(); err != nil {
			return nil, err
		}
	case LayoutT5:
		norm = append(precompiled(), map[string]any{"type": "Strip", "strip_left": false, "strip_right": true}, replace(spaces, "▁"))
		tok["pre_tokenizer"] = metaspace
		tok["decoder"] = metaspace
		eos, err := c.templateToken("</s>")
		if err != nil {
			return nil, err
		}
		post = c.template([]any{seqPiece("A", 0), eos(0)}, []any{seqPiece("A", 0), eos(0), seqPiece("B", 0), eos(0)})
	case LayoutLlama:
		if legacy {
			if addPrefix {
				norm = append(norm, map[string]any{"type": "Prepend", "prepend": "▁"})
			}
			norm = append(norm, replace(map[string]any{"String": " "}, "▁"))
			tok["pre_tokenizer"] = nil
		} else {
			tok["pre_tokenizer"] = map[string]any{"type": "Metaspace", "replacement": "▁", "prepend_scheme": scheme, "split": false}
		}
		dec := []any{replace(map[string]any{"String": "▁"}, " "), map[string]any{"type": "ByteFallback"}, map[string]any{"type": "Fuse"}}
		if addPrefix {
			dec = append(dec, map[string]any{"type": "Strip", "content": " ", "start": 1, "stop": 0})
		}
		tok["decoder"] = map[string]any{"type": "Sequence", "decoders": dec}
		if post, err = c.llamaTemplate(); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("unknown SentencePiece layout %q (%s, %s, %s or %s)", c.layout, LayoutDebertaV2, LayoutT5, LayoutAlbert, LayoutLlama)
	}
	tok["normalizer"] = nil
	if len(norm) > 0 {
		tok["normalizer"] = map[string]any{"type": "Sequence", "normalizers": norm}
	}
	tok["post_processor"] = post
	slices.SortStableFunc(c.added, func(a, b AddedToken) int { return cmp.Compare(a.ID, b.ID) })
	tok["added_tokens"] = c.added
	return json.Marshal(tok)
}

// buildVocab lists the model's pieces with the class's score changes.
func (c *spmConverter) buildVocab() {
	c.ids = make(map[string]int, len(c.m.Pieces))
	for i, p := range c.m.Pieces {
		score := float64(p.Score)
		switch {
		case c.layout == LayoutLlama && i < 3:
			score = 0 // the slow tokenizer's first three tokens, scored 0
		case c.layout == LayoutAlbert && numberComma(p.Piece):
			score -= 100
		}
		c.appendVocab(p.Piece, score)
	}
}

func (c *spmConverter) appendVocab(piece string, score float64) {
	c.ids[piece] = len(c.vocab)
	c.vocab = append(c.vocab, spmEntry{piece, score})
}

// numberComma reports a piece ending in a digit and a comma, which
// ALBERT's converter scores 100 lower (check_number_comma). Digits are
// Unicode's decimal digits (Python's isdigit also takes superscripts and
// circled digits, which no real vocabulary we know ends a piece with).
func numberComma(p string) bool {
	last, n := utf8.DecodeLastRuneInString(p)
	if last != ',' {
		return false
	}
	prev, m := utf8.DecodeLastRuneInString(p[:len(p)-n])
	return m > 0 && unicode.IsDigit(prev)
}

// merges derives BPE merges from the pieces as transformers'
// generate_merges does with scores: every split of a piece into two
// pieces of the (unmodified) model vocabulary, ordered by the piece's
// score, then the left and the right part's length in code points, all
// descending; a piece's own splits first in (left id, right id) order.
func (c *spmConverter) merges() [][2]string {
	spmIDs := make(map[string]int, len(c.m.Pieces))
	for i, p := range c.m.Pieces {
		spmIDs[p.Piece] = i
	}
	type merge struct {
		l, r         string
		score        float64
		lLen, rLen   int
		lID, rID, at int
	}
	var all []merge
	// generate_merges walks dict(vocab_scores): each piece once, at its
	// first position, with its last score.
	scores := map[string]float64{}
	var order []string
	for _, e := range c.vocab {
		if _, seen := scores[e.piece]; !seen {
			order = append(order, e.piece)
		}
		scores[e.piece] = e.score
	}
	for _, piece := range order {
		var local []merge
		n := utf8.RuneCountInString(piece)
		k := 0
		for j := range piece {
			if j == 0 {
				k++
				continue
			}
			l, r := piece[:j], piece[j:]
			lID, okL := spmIDs[l]
			rID, okR := spmIDs[r]
			if okL && okR {
				local = append(local, merge{l: l, r: r, score: scores[piece], lLen: k, rLen: n - k, lID: lID, rID: rID})
			}
			k++
		}
		slices.SortStableFunc(local, func(a, b merge) int { return cmp.Or(cmp.Compare(a.lID, b.lID), cmp.Compare(a.rID, b.rID)) })
		all = append(all, local...)
	}
	slices.SortStableFunc(all, func(a, b merge) int {
		return cmp.Or(cmp.Compare(b.score, a.score), cmp.Compare(b.lLen, a.lLen), cmp.Compare(b.rLen, a.rLen))
	})
	out := make([][2]string, len(all))
	for i, m := range all {
		out[i] = [2]string{m.l, m.r}
	}
	return out
}

// add adds or (override) redefines an added token, giving it the
// vocabulary's id or the next free one, as the tokenizers library does.
func (c *spmConverter) add(t AddedToken, override bool) {
	if i, ok := c.byText[t.Content]; ok {
		if override {
			t.ID = c.added[i].ID
			c.added[i] = t
		}
		return
	}
	if id, ok := c.ids[t.Content]; ok {
		t.ID = id
	} else {
		t.ID = max(len(c.vocab), c.nextID)
	}
	c.nextID = max(c.nextID, t.ID+1)
	c.byText[t.Content] = len(c.added)
	c.added = append(c.added, t)
}

// classDefaults are the special tokens each slow class declares.
func (c *spmConverter) classDefaults() map[string]AddedToken {
	sp := func(s string) AddedToken { return AddedToken{Content: s, Special: true} }
	switch c.layout {
	case LayoutDebertaV2:
		return map[string]AddedToken{"bos_token": sp("[CLS]"), "eos_token": sp("[SEP]"), "unk_token": sp("[UNK]"),
			"sep_token": sp("[SEP]"), "pad_token": sp("[PAD]"), "cls_token": sp("[CLS]"), "mask_token": sp("[MASK]")}
	case LayoutAlbert:
		mask := sp("[MASK]")
		mask.LStrip = true
		return map[string]AddedToken{"bos_token": sp("[CLS]"), "eos_token": sp("[SEP]"), "unk_token": sp("<unk>"),
			"sep_token": sp("[SEP]"), "pad_token": sp("<pad>"), "cls_token": sp("[CLS]"), "mask_token": mask}
	case LayoutT5:
		return map[string]AddedToken{"eos_token": sp("</s>"), "unk_token": sp("<unk>"), "pad_token": sp("<pad>")}
	default:
		return map[string]AddedToken{"bos_token": sp("<s>"), "eos_token": sp("</s>"), "unk_token": sp("<unk>")}
	}
}

// configTokens adds tokenizer_config.json's added_tokens_decoder (whose
// flags win, as a saved tokenizer reloads them) and then every special
// token not yet added.
func (c *spmConverter) configTokens() error {
	declared := map[string]bool{} // contents added_tokens_decoder names
	if raw, ok := c.cfg.raw["added_tokens_decoder"]; ok && !isNull(raw) {
		var dec map[string]json.RawMessage
		if err := json.Unmarshal(raw, &dec); err != nil {
			return fmt.Errorf("tokenizer_config.json: added_tokens_decoder: %w", err)
		}
		type entry struct {
			id int
			t  AddedToken
		}
		var entries []entry
		for k, v := range dec {
			var id int
			if _, err := fmt.Sscanf(k, "%d", &id); err != nil || fmt.Sprint(id) != k || id < 0 {
				return fmt.Errorf("tokenizer_config.json: added_tokens_decoder: key %q is not an id", k)
			}
			t, ok, err := parseConfigAddedToken("added_tokens_decoder["+k+"]", v)
			if err != nil {
				return fmt.Errorf("tokenizer_config.json: %w", err)
			}
			if ok {
				entries = append(entries, entry{id, t})
			}
		}
		slices.SortFunc(entries, func(a, b entry) int { return cmp.Compare(a.id, b.id) })
		for _, e := range entries {
			c.add(e.t, true)
			declared[e.t.Content] = true
		}
	}
	defaults := c.classDefaults()
	for _, key := range []string{"bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"} {
		t, ok, err := c.cfg.token(key, defaults[key])
		if err != nil {
			return fmt.Errorf("tokenizer_config.json: %w", err)
		}
		if !ok {
			continue
		}
		if c.layout == LayoutAlbert && key == "mask_token" {
			t.LStrip = true // AlbertTokenizer makes its mask token lstrip whatever the config says
		}
		t.Special = true
		// A special token's own flags (ALBERT's lstrip [MASK]) replace the
		// plain ones its control piece was added with, unless
		// added_tokens_decoder declared it, as albert-base-v2's
		// tokenizer.json has them.
		c.add(t, !declared[t.Content] && (t.LStrip || t.RStrip || t.SingleWord || t.Normalized))
	}
	extra := []AddedToken{}
	if raw, ok := c.cfg.raw["additional_special_tokens"]; ok && !isNull(raw) {
		var list []json.RawMessage
		if err := json.Unmarshal(raw, &list); err != nil {
			return fmt.Errorf("tokenizer_config.json: additional_special_tokens: want a list, got %s", raw)
		}
		for i, v := range list {
			t, ok, err := parseConfigAddedToken(fmt.Sprintf("additional_special_tokens[%d]", i), v)
			if err != nil {
				return fmt.Errorf("tokenizer_config.json: %w", err)
			}
			if ok {
				extra = append(extra, t)
			}
		}
	} else if c.layout == LayoutT5 {
		for _, e := range c.vocab[len(c.m.Pieces):] {
			extra = append(extra, AddedToken{Content: e.piece, Special: true})
		}
	}
	for _, t := range extra {
		t.Special = true
		c.add(t, false)
	}
	return nil
}

// templateToken returns a template piece for token, which must have an id.
func (c *spmConverter) templateToken(token string) (func(typeID int) any, error) {
	_, ok := c.ids[token]
	if _, added := c.byText[token]; added {
		ok = true
	}
	if !ok {
		return nil, fmt.Errorf("the %s template's token %q is neither a piece nor an added token", c.layout, token)
	}
	if c.tmpl == nil {
		c.tmpl = map[string]bool{}
	}
	c.tmpl[token] = true
	return func(typeID int) any {
		return map[string]any{"SpecialToken": map[string]any{"id": token, "type_id": typeID}}
	}, nil
}

func seqPiece(name string, typeID int) any {
	return map[string]any{"Sequence": map[string]any{"id": name, "type_id": typeID}}
}

// template is a TemplateProcessing with the special tokens templateToken
// recorded.
func (c *spmConverter) template(single, pair []any) any {
	specials := map[string]any{}
	for t := range c.tmpl {
		id := c.ids[t]
		if i, ok := c.byText[t]; ok {
			id = c.added[i].ID
		}
		specials[t] = map[string]any{"id": t, "ids": []int{id}, "tokens": []string{t}}
	}
	return map[string]any{"type": "TemplateProcessing", "single": single, "pair": pair, "special_tokens": specials}
}

// clsSep is DeBERTa-v2's and ALBERT's [CLS] $A [SEP] ($B:1 [SEP]:1).
func (c *spmConverter) clsSep() (any, error) {
	cls, err := c.templateToken("[CLS]")
	if err != nil {
		return nil, err
	}
	sep, err := c.templateToken("[SEP]")
	if err != nil {
		return nil, err
	}
	return c.template([]any{cls(0), seqPiece("A", 0), sep(0)},
		[]any{cls(0), seqPiece("A", 0), sep(0), seqPiece("B", 1), sep(1)}), nil
}

// llamaTemplate is LlamaTokenizerFast's post-processor: BOS before and
// EOS after each sequence as add_bos_token (default true) and
// add_eos_token (default false) say; nil when neither.
func (c *spmConverter) llamaTemplate() (any, error) {
	addBOS, err := c.cfg.flag("add_bos_token", true)
	if err != nil {
		return nil, err
	}
	addEOS, err := c.cfg.flag("add_eos_token", false)
	if err != nil {
		return nil, err
	}
	defaults := c.classDefaults()
	var bos, eos func(int) any
	for _, s := range []struct {
		on  bool
		key string
		dst *func(int) any
	}{{addBOS, "bos_token", &bos}, {addEOS, "eos_token", &eos}} {
		if !s.on {
			continue
		}
		t, ok, err := c.cfg.token(s.key, defaults[s.key])
		if err != nil {
			return nil, fmt.Errorf("tokenizer_config.json: %w", err)
		}
		if !ok {
			return nil, fmt.Errorf("tokenizer_config.json: add_%s is set but %s is null", s.key, s.key)
		}
		if *s.dst, err = c.templateToken(t.Content); err != nil {
			return nil, err
		}
	}
	if bos == nil && eos == nil {
		return nil, nil
	}
	seq := func(name string, typeID int) []any {
		var out []any
		if bos != nil {
			out = append(out, bos(typeID))
		}
		out = append(out, seqPiece(name, typeID))
		if eos != nil {
			out = append(out, eos(typeID))
		}
		return out
	}
	return c.template(seq("A", 0), append(seq("A", 0), seq("B", 1)...)), nil
}

// spmTypeName names a trainer_spec.model_type.
func spmTypeName(t int) string {
	switch t {
	case SPMUnigram:
		return "unigram"
	case SPMBPE:
		return "bpe"
	case SPMWord:
		return "word"
	case SPMChar:
		return "char"
	}
	return "unknown"
}
