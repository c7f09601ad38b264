// Package textlist renders lists of names for messages, bounded so that a
// hostile file with a million keys cannot make a megabyte-long error.
package textlist

import (
	"fmt"
	"strings"
)

// MaxNames is how many names Join prints before summarising the rest.
const MaxNames = 10

// Join returns the first MaxNames names joined with sep, followed by
// "and K more" when there are more. Callers sort the names first so that
// the message is the same on every run.
func Join(names []string, sep string) string {
	if len(names) <= MaxNames {
		return strings.Join(names, sep)
	}
	return fmt.Sprintf("%s%sand %d more", strings.Join(names[:MaxNames], sep), sep, len(names)-MaxNames)
}
