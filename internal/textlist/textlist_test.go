package textlist

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestJoin prints short lists whole and long ones as the first ten and a
// count.
func TestJoin(t *testing.T) {
	assert.Equal(t, "", Join(nil, ", "))
	assert.Equal(t, "a; b", Join([]string{"a", "b"}, "; "))
	many := make([]string, 1_000_000)
	for i := range many {
		many[i] = fmt.Sprintf("k%07d", i)
	}
	assert.Equal(t, "k0000000, k0000001, k0000002, k0000003, k0000004, k0000005, k0000006, k0000007, k0000008, k0000009, and 999990 more",
		Join(many, ", "))
	assert.Equal(t, Join(many[:10], ", "), "k0000000, k0000001, k0000002, k0000003, k0000004, k0000005, k0000006, k0000007, k0000008, k0000009")
}
