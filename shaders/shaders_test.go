package shaders

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSource(t *testing.T) {
	src, err := Source("matmul.wgsl")
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(src, "// common.wgsl"), "common.wgsl comes first")
	assert.Contains(t, src, "fn unpack_f16")
	assert.Contains(t, src, "fn matmul(")
}

func TestSourceUnknown(t *testing.T) {
	for _, name := range []string{"nope.wgsl", "common.wgsl", "../shaders.go"} {
		_, err := Source(name)
		require.Error(t, err, name)
		assert.Contains(t, err.Error(), name)
		assert.Contains(t, err.Error(), "matmul.wgsl", "the error lists the files that exist")
	}
}

func TestNames(t *testing.T) {
	names := Names()
	assert.Contains(t, names, "layout.wgsl")
	assert.NotContains(t, names, "common.wgsl")
}
