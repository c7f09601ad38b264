package torchbin

import (
	"archive/zip"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// seedFiles are torch.save files whose pickles and archives seed the
// fuzz targets.
var seedFiles = []string{
	filepath.Join("views", "views.bin"),
	filepath.Join("views", "renamed.bin"),
	filepath.Join("views", "protocol4.bin"),
	filepath.Join("llama_adapter_a", "adapter_model.bin"),
	filepath.Join("qwen2_bf16_sharded", "pytorch_model-00002-of-00002.bin"),
}

// dataPickle extracts <dir>/data.pkl from a torch.save archive.
func dataPickle(t testing.TB, raw []byte) []byte {
	t.Helper()
	b, err := tryDataPickle(raw)
	require.NoError(t, err)
	return b
}

// classified reports whether err wraps one of the package's sentinels.
func classified(err error) bool {
	return errors.Is(err, ErrCorrupt) || errors.Is(err, ErrForbidden) || errors.Is(err, ErrUnsupported) || errors.Is(err, ErrLegacy)
}

// FuzzUnpickle feeds arbitrary pickles to the restricted unpickler: it
// must never panic, every error must be classified, and every tensor it
// accepts must be a view inside its storage. The seeds (real torch.save
// pickles and the hostile table's) run under plain go test.
func FuzzUnpickle(f *testing.F) {
	for _, name := range seedFiles {
		raw, err := os.ReadFile(filepath.Join(testdata, name))
		require.NoError(f, err)
		f.Add(dataPickle(f, raw))
	}
	for _, tc := range hostileCases(f) {
		if pkl, err := tryDataPickle(tc.file); err == nil {
			f.Add(pkl)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := unpickle(data)
		if err != nil {
			if !classified(err) {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		for _, e := range entries {
			if err := e.t.check(); err != nil {
				t.Fatalf("accepted tensor %q fails its check: %v", e.name, err)
			}
			if n := e.t.numel(); n < 0 || (n > 0 && n > e.t.st.numel) {
				t.Fatalf("accepted tensor %q of %d elements on a storage of %d", e.name, n, e.t.st.numel)
			}
		}
	})
}

// tryDataPickle extracts data.pkl, reporting archives that lack one.
func tryDataPickle(raw []byte) ([]byte, error) {
	zr, err := zip.NewReader(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		return nil, err
	}
	for _, zf := range zr.File {
		if strings.HasSuffix(zf.Name, "/data.pkl") {
			rc, err := zf.Open()
			if err != nil {
				return nil, err
			}
			defer rc.Close()
			return io.ReadAll(rc)
		}
	}
	return nil, os.ErrNotExist
}

// FuzzOpen feeds whole archives to the reader and reads every tensor it
// accepts: no panic, classified errors (or read errors naming the file).
func FuzzOpen(f *testing.F) {
	for _, name := range seedFiles[:3] {
		raw, err := os.ReadFile(filepath.Join(testdata, name))
		require.NoError(f, err)
		f.Add(raw)
	}
	for _, tc := range hostileCases(f) {
		f.Add(tc.file)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tf, err := openReader("fuzz.bin", bytes.NewReader(data), int64(len(data)))
		if err != nil {
			if !classified(err) && !strings.Contains(err.Error(), "fuzz.bin") {
				t.Fatalf("unclassified error not naming the file: %v", err)
			}
			return
		}
		defer tf.Close()
		for _, name := range tf.Names() {
			info, _ := tf.Info(name)
			b, err := tf.Bytes(name)
			if err != nil {
				if !strings.Contains(err.Error(), name) {
					t.Fatalf("error does not name tensor %q: %v", name, err)
				}
				continue
			}
			if int64(len(b)) != info.Size {
				t.Fatalf("tensor %q: %d bytes, Info says %d", name, len(b), info.Size)
			}
		}
	})
}
