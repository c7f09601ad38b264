package train

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestProgressBar checks the bar shows the step count, loss, learning
// rate and throughput, and that a file that is not a terminal gets none.
func TestProgressBar(t *testing.T) {
	var buf bytes.Buffer
	_, err := Run(context.Background(), Options{ModelDir: modelDir(t, "gpt2"), TrainFile: writeJSONL(t, textLines(8)...),
		OutDir: t.TempDir(), Backend: openCPU(t), BatchSize: 4, MaxSteps: 3, NoPlot: true, Progress: &buf})
	require.NoError(t, err)
	out := buf.String()
	for _, want := range []string{"3/3", "loss ", "lr 3.00e-03", "tok/s"} {
		assert.Contains(t, out, want)
	}

	f, err := os.Create(filepath.Join(t.TempDir(), "log.txt"))
	require.NoError(t, err)
	defer f.Close()
	assert.Nil(t, newProgress(f, "train", 0, 10), "a plain file is not a terminal")
	assert.Nil(t, newProgress(nil, "train", 0, 10))
	var p *progress
	p.update(1, 1, 1, 1) // a nil bar is a no-op
	p.finish()
}
