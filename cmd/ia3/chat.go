package main

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/spf13/pflag"

	"github.com/ia3/ia3/model/chat"
	"github.com/ia3/ia3/model/tokenizer"
)

// chatFlags are generate's conversation flags.
type chatFlags struct {
	file     string   // --chat: a JSON file of messages
	messages []string // --message ROLE=CONTENT, after the file's
}

// add registers the flags on fl.
func (c *chatFlags) add(fl *pflag.FlagSet) {
	fl.StringVar(&c.file, "chat", "", `JSON file with a conversation ({"messages": [...]} or a bare list of {"role", "content"}), rendered with the model's chat template`)
	fl.StringArrayVar(&c.messages, "message", nil, "a chat message ROLE=CONTENT, after those of --chat (repeatable)")
}

// set reports whether a conversation was given.
func (c *chatFlags) set() bool { return c.file != "" || len(c.messages) > 0 }

// conversation returns the messages of --chat and --message.
func (c *chatFlags) conversation() ([]chat.Message, error) {
	var msgs []chat.Message
	if c.file != "" {
		if err := mustBeFile(c.file, "chat file"); err != nil {
			return nil, err
		}
		data, err := os.ReadFile(c.file)
		if err != nil {
			return nil, fmt.Errorf("chat file: %w", err)
		}
		var obj map[string]json.RawMessage
		if json.Unmarshal(data, &obj) == nil {
			list, ok := obj["messages"]
			if !ok {
				return nil, fmt.Errorf("chat file %s: want {\"messages\": [...]} or a list of messages", c.file)
			}
			data = list
		}
		if msgs, err = chat.DecodeMessages(data); err != nil {
			return nil, fmt.Errorf("chat file %s: %w", c.file, err)
		}
	}
	for _, m := range c.messages {
		role, content, ok := strings.Cut(m, "=")
		if !ok || role == "" {
			return nil, usagef("--message %q: want ROLE=CONTENT, such as user=Hello", m)
		}
		msgs = append(msgs, chat.Message{Role: role, Content: content})
	}
	return msgs, nil
}

// chatPrompt renders the conversation with the chat template of the
// model directory dir and the generation prompt, and encodes it as
// transformers' apply_chat_template(add_generation_prompt=True) does:
// without added special tokens, since the template writes them. It also
// returns the template's EOS token id, where the vocabulary has it: chat
// models end a turn with it even when config.json names another EOS.
func chatPrompt(dir string, tok *tokenizer.Tokenizer, c *chatFlags) (text string, ids []int32, eos []int32, err error) {
	msgs, err := c.conversation()
	if err != nil {
		return "", nil, nil, err
	}
	tmpl, err := chat.LoadDir(dir)
	if err != nil {
		return "", nil, nil, fmt.Errorf("--chat: %w", err)
	}
	r, err := tmpl.Render(msgs, chat.Options{AddGenerationPrompt: true})
	if err != nil {
		return "", nil, nil, fmt.Errorf("--chat: %w", err)
	}
	enc, err := tok.EncodeNoSpecial(r.Text)
	if err != nil {
		return "", nil, nil, fmt.Errorf("tokenize the rendered chat: %w", err)
	}
	if len(enc.IDs) == 0 {
		return "", nil, nil, usagef("the conversation renders to no tokens")
	}
	ids = make([]int32, len(enc.IDs))
	for i, id := range enc.IDs {
		ids[i] = int32(id)
	}
	if s, ok := tmpl.Token("eos_token"); ok {
		if id, ok := tok.TokenToID(s); ok {
			eos = append(eos, int32(id))
		}
	}
	return r.Text, ids, eos, nil
}

// addEOS appends the ids of extra missing from eos.
func addEOS(eos, extra []int32) []int32 {
	for _, id := range extra {
		if !slices.Contains(eos, id) {
			eos = append(eos, id)
		}
	}
	return eos
}
