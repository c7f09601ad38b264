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
// the turn's closing tokens (end of turn, EOS) are learnt too. Where a
// template renders earlier turns differently once the conversation goes
// on (Qwen3 drops the empty think block of past turns), the turn ends
// where its content ends, followed by the EOS token when the text has it
// there.

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
	text, spans, err := assistantSpans(tmpl, msgs)
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
func assistantSpans(tmpl *chat.Template, msgs []chat.Message) (string, []chat.Span, error) {
	full, err := tmpl.Render(msgs, chat.Options{})
	if err != nil {
		return "", nil, err
	}
	if tmpl.HasGeneration() {
		return full.Text, full.Generation, nil
	}
	eos, _ := tmpl.Token("eos_token")
	var spans []chat.Span
	for i, m := range msgs {
		if m.Role != "assistant" {
			continue
		}
		head, err := tmpl.Render(msgs[:i], chat.Options{AddGenerationPrompt: true})
		if err != nil {
			return "", nil, fmt.Errorf("messages[%d]: render the conversation before it: %w", i, err)
		}
		start := len(head.Text)
		if !strings.HasPrefix(full.Text, head.Text) {
			return "", nil, fmt.Errorf("messages[%d]: the chat template renders the turns before this assistant turn differently in the whole conversation, so the turn cannot be located; use a template with {%% generation %%} blocks", i)
		}
		turn, err := tmpl.Render(msgs[:i+1], chat.Options{})
		if err != nil {
			return "", nil, fmt.Errorf("messages[%d]: render the conversation up to it: %w", i, err)
		}
		if strings.HasPrefix(full.Text, turn.Text) && len(turn.Text) > start {
			spans = append(spans, chat.Span{Start: start, End: len(turn.Text)})
			continue
		}
		at := strings.Index(full.Text[start:], m.Content)
		if at < 0 || m.Content == "" {
			return "", nil, fmt.Errorf("messages[%d]: the chat template changes this assistant turn's content, so the turn cannot be located; use a template with {%% generation %%} blocks", i)
		}
		end := start + at + len(m.Content)
		if eos != "" && strings.HasPrefix(full.Text[end:], eos) {
			end += len(eos)
		}
		spans = append(spans, chat.Span{Start: start, End: end})
	}
	return full.Text, spans, nil
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
