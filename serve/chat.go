package serve

import (
	"fmt"
	"strings"
)

// PlainChat renders chat messages without a model-specific template: one
// "role: content" line per message and "assistant:" to answer. It suits
// base models and tests; a model with a chat template should pass its own
// renderer as Options.RenderChat.
func PlainChat(messages []ChatMessage) (string, error) {
	var b strings.Builder
	for i, m := range messages {
		switch m.Role {
		case "system", "user", "assistant", "developer":
		default:
			return "", fmt.Errorf("message %d: role %q: want system, developer, user or assistant", i, m.Role)
		}
		fmt.Fprintf(&b, "%s: %s\n", m.Role, m.Content)
	}
	b.WriteString("assistant:")
	return b.String(), nil
}
