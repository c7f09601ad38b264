package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/ia3/ia3/model"
	"github.com/ia3/ia3/model/chat"
)

// Chat data: a JSONL line {"messages": [{"role": ..., "content": ...},
// ...]}, the conversational format of TRL's SFTTrainer. The conversation
// is rendered with the model's chat template, tokenised as transformers'
// apply_chat_template(tokenize=True) does (the rendered text encoded with
// add_special_tokens=False, since the template writes the special tokens
// itself), and the loss counts the assistant turns only.
//
// Which tokens are the assistant's: a template with {% generation %}
// blocks marks them, and the mask is transformers' assistant mask (every
// token from the one holding a block's first character to the one holding
// its last). Other templates are rendered on prefixes of the conversation:
// assistant turn i spans from the end of messages[:i] rendered with the
// generation prompt to the end of messages[:i+1] rendered without it, so
// the turn's closing tokens (end of turn, EOS) are learnt too. Where the
// latter is not a prefix of the whole conversation's text, because the
// template appends a footer (Phi-3's EOS) or rewrites past turns (Qwen3
// drops their empty think block), turnEnd finds the end.

// chatFormat names the chat line format, for messages.
const chatFormat = `{"messages": [{"role": "user", "content": "..."}, {"role": "assistant", "content": "..."}]}`

// parseChat reads the "messages" field of a chat line.
func parseChat(raw map[string]json.RawMessage) (record, error) {
	var rec record
	for k := range raw {
		if k != "messages" {
			return rec, fmt.Errorf("field %q beside \"messages\": a chat line holds only %s (have %s)", k, chatFormat, fieldList(raw))
		}
	}
	msgs, err := chat.DecodeMessages(raw["messages"])
	if err != nil {
		return rec, fmt.Errorf("field \"messages\": %w", err)
	}
	if !slices.ContainsFunc(msgs, func(m chat.Message) bool { return m.Role == "assistant" }) {
		return rec, errors.New("no assistant turn in \"messages\": the loss counts only the assistant's tokens")
	}
	rec.messages = msgs
	return rec, nil
}

// chatEncoder is an encoder that can tokenise chat lines: it knows the
// model's chat template and reports token offsets.
type chatEncoder interface {
	encoder
	// chatTemplate returns the model's chat template, or why there is none.
	chatTemplate() (*chat.Template, error)
	// addedTokens lists the contents of the tokenizer's added tokens.
	addedTokens() []string
	// encodeOffsets encodes text without added special tokens and
	// returns each id's [start, end) byte span of text.
	encodeOffsets(text string) ([]int32, [][2]int, error)
}

// hfChatEncoder is an hfEncoder with the chat template of its model
// directory's tokenizer_config.json.
type hfChatEncoder struct {
	*hfEncoder
	tmpl    *chat.Template
	tmplErr error
}

// withChat adds the chat template of dir to e. A directory without one
// still trains plain data; chat lines then fail with the reason.
func withChat(e *hfEncoder, dir string) *hfChatEncoder {
	tmpl, err := chat.LoadDir(dir)
	return &hfChatEncoder{hfEncoder: e, tmpl: tmpl, tmplErr: err}
}

func (e *hfChatEncoder) chatTemplate() (*chat.Template, error) { return e.tmpl, e.tmplErr }

func (e *hfChatEncoder) addedTokens() []string {
	var out []string
	for _, a := range e.tok.AddedTokens() {
		out = append(out, a.Content)
	}
	return out
}

func (e *hfChatEncoder) encodeOffsets(text string) ([]int32, [][2]int, error) {
	enc, err := e.tok.EncodeNoSpecial(text)
	if err != nil {
		return nil, nil, err
	}
	ids := make([]int32, len(enc.IDs))
	for i, id := range enc.IDs {
		ids[i] = int32(id)
	}
	return ids, enc.ByteOffsets, nil
}

// tokenizeChat renders and tokenises a conversation and labels its
// assistant tokens, truncated to maxLen ids.
func tokenizeChat(msgs []chat.Message, enc encoder, maxLen int) (example, error) {
	var ex example
	ce, ok := enc.(chatEncoder)
	if !ok {
		return ex, errors.New("chat lines need a tokenizer with a chat template (the model directory's tokenizer.json and tokenizer_config.json)")
	}
	tmpl, err := ce.chatTemplate()
	if err != nil {
		return ex, fmt.Errorf("chat line: %w", err)
	}
	text, spans, err := assistantSpans(tmpl, msgs, ce.addedTokens())
	if err != nil {
		return ex, err
	}
	ids, offsets, err := ce.encodeOffsets(text)
	if err != nil {
		return ex, err
	}
	mask := tokenMask(text, spans, offsets)
	ids = truncate(ids, 0, maxLen)
	labels := make([]int32, len(ids))
	for i := range ids {
		labels[i] = model.IgnoreIndex
		if mask[i] {
			labels[i] = ids[i]
		}
	}
	ex.ids, ex.labels = ids, labels
	if countCausal(labels) == 0 {
		return ex, noTargetError{fmt.Errorf("no assistant token to predict after truncation to %d tokens (the conversation renders to %d tokens)", maxLen, len(mask))}
	}
	return ex, nil
}

// assistantSpans renders msgs and returns the text with the byte spans
// of the assistant's turns (see the comment at the top of this file).
// added lists the tokenizer's added tokens (special or not), so that a
// turn never ends inside one.
func assistantSpans(tmpl *chat.Template, msgs []chat.Message, added []string) (string, []chat.Span, error) {
	full, err := tmpl.Render(msgs, chat.Options{})
	if err != nil {
		return "", nil, err
	}
	if tmpl.HasGeneration() {
		return full.Text, full.Generation, nil
	}
	text := full.Text
	// Each assistant turn starts where the conversation before it ends
	// with the generation prompt.
	var turns, starts []int
	for i, m := range msgs {
		if m.Role != "assistant" {
			continue
		}
		head, err := tmpl.Render(msgs[:i], chat.Options{AddGenerationPrompt: true})
		if err != nil {
			return "", nil, fmt.Errorf("messages[%d]: render the conversation before it: %w", i, err)
		}
		if !strings.HasPrefix(text, head.Text) {
			return "", nil, fmt.Errorf("messages[%d]: the chat template renders the turns before this assistant turn differently in the whole conversation, so the turn cannot be located; use a template with {%% generation %%} blocks", i)
		}
		turns, starts = append(turns, i), append(starts, len(head.Text))
	}
	eos, _ := tmpl.Token("eos_token")
	spans := make([]chat.Span, 0, len(turns))
	for k, i := range turns {
		start := starts[k]
		turn, err := tmpl.Render(msgs[:i+1], chat.Options{})
		if err != nil {
			return "", nil, fmt.Errorf("messages[%d]: render the conversation up to it: %w", i, err)
		}
		if strings.HasPrefix(text, turn.Text) && len(turn.Text) > start {
			spans = append(spans, chat.Span{Start: start, End: len(turn.Text)})
			continue
		}
		limit := len(text)
		if k+1 < len(turns) {
			limit = starts[k+1]
		}
		end, err := turnEnd(text, turn.Text, start, limit, msgs, i, eos, added)
		if err != nil {
			return "", nil, fmt.Errorf("messages[%d]: %w; use a template with {%% generation %%} blocks", i, err)
		}
		spans = append(spans, chat.Span{Start: start, End: end})
	}
	return text, spans, nil
}

// turnEnd finds where assistant turn msgs[i], starting at start, ends in
// text when the template renders it otherwise at the end of a
// conversation (turn is that render): the template appends a footer
// (Phi-3's EOS, Llama-3's assistant header) or rewrites past turns
// (Qwen3's think block). The turn ends at the first EOS after its content
// and before the next message's content and limit (the next assistant
// turn); else where the two renders part, if they agree on its whole
// content; else at the end of its content.
func turnEnd(text, turn string, start, limit int, msgs []chat.Message, i int, eos string, added []string) (int, error) {
	from := start
	if c := msgs[i].Content; c != "" {
		at := strings.Index(text[start:limit], c)
		if at < 0 {
			return 0, errors.New("the chat template changes this assistant turn's content, so the turn cannot be located")
		}
		from = start + at + len(c)
	}
	if i+1 < len(msgs) && msgs[i+1].Content != "" {
		if at := strings.Index(text[from:limit], msgs[i+1].Content); at >= 0 {
			limit = from + at
		}
	}
	if at := strings.Index(text[from:limit], eos); eos != "" && at >= 0 {
		return from + at + len(eos), nil
	}
	if common := backToToken(text, commonPrefix(text, turn), added); common >= from && common > start {
		return common, nil
	}
	if from > start {
		return from, nil
	}
	return 0, fmt.Errorf("the chat template renders this assistant turn differently once the conversation goes on, and neither its content nor the EOS token %q marks where it ends", eos)
}

// commonPrefix returns the length of the longest common prefix of a and b.
func commonPrefix(a, b string) int {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// backToToken moves cut back to the start of any added token of text
// that it falls inside, so that a span never takes part of one.
func backToToken(text string, cut int, added []string) int {
	for moved := true; moved; {
		moved = false
		for _, tok := range added {
			if len(tok) < 2 {
				continue
			}
			// An occurrence holding cut inside starts in (cut-len, cut).
			lo, hi := max(0, cut-len(tok)+1), min(len(text), cut+len(tok)-1)
			if at := strings.Index(text[lo:hi], tok); at >= 0 && lo+at < cut {
				cut, moved = lo+at, true
			}
		}
	}
	return cut
}

// tokenMask marks the tokens the spans cover, as transformers builds its
// assistant mask: for each span, from the token holding its first
// character to the token holding its last one (to the end of the text
// when that one has no token, or is token 0); a span whose first
// character has no token ends the marking.
func tokenMask(text string, spans []chat.Span, offsets [][2]int) []bool {
	mask := make([]bool, len(offsets))
	charToToken := func(b int) (int, bool) {
		// The first token whose span holds byte b, as char_to_token does.
		i := slices.IndexFunc(offsets, func(o [2]int) bool { return o[0] <= b && b < o[1] })
		return i, i >= 0
	}
	for _, s := range spans {
		if s.End <= s.Start {
			continue
		}
		first, ok := charToToken(s.Start)
		if !ok {
			break
		}
		_, size := utf8.DecodeLastRuneInString(text[:s.End])
		last, ok := charToToken(s.End - size)
		stop := last + 1
		if !ok || last == 0 {
			stop = len(mask)
		}
		for i := first; i < stop; i++ {
			mask[i] = true
		}
	}
	return mask
}
