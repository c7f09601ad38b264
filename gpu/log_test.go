//go:build cgo && !nowebgpu

package gpu

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"testing"

	"github.com/rajveermalviya/go-webgpu/wgpu"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSlogLevel(t *testing.T) {
	tests := []struct {
		level wgpu.LogLevel
		text  string
		want  slog.Level
	}{
		{wgpu.LogLevel_Error, "Device lost", slog.LevelError},
		{wgpu.LogLevel_Warn, "No config found!", slog.LevelDebug},
		{wgpu.LogLevel_Warn, "Error in destroy_context: NotInitialized", slog.LevelWarn},
		{wgpu.LogLevel_Info, "Instance version: 0x4030ef", slog.LevelDebug},
		{wgpu.LogLevel_Trace, "anything", slog.LevelDebug},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, slogLevel(tc.level, tc.text), "%s %q", tc.level, tc.text)
	}
}

// recorder is a slog handler keeping every record.
type recorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *recorder) WithGroup(string) slog.Handler            { return r }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.records = append(r.records, rec)
	return nil
}

// TestWgpuLogsThroughSlog creates an instance with slog at debug level:
// wgpu's messages arrive as slog records marked from=wgpu, its headless
// OpenGL noise below warning level, and XDG_RUNTIME_DIR is left as it was.
func TestWgpuLogsThroughSlog(t *testing.T) {
	rec := &recorder{}
	defer slog.SetDefault(slog.Default())
	slog.SetDefault(slog.New(rec))
	t.Setenv("XDG_RUNTIME_DIR", "")
	require.NoError(t, os.Unsetenv("XDG_RUNTIME_DIR"))

	in, err := NewInstance() // the first live handle: wgpu creates its instance
	require.NoError(t, err)
	adapters := len(in.Adapters())
	in.Release()
	if adapters == 0 && os.Getenv("IA3_REQUIRE_GPU") != "1" {
		t.Skip("no WebGPU adapter")
	}

	_, set := os.LookupEnv("XDG_RUNTIME_DIR")
	assert.False(t, set, "XDG_RUNTIME_DIR restored (unset)")
	rec.mu.Lock()
	defer rec.mu.Unlock()
	require.NotEmpty(t, rec.records, "wgpu logs its instance creation at info level")
	for _, r := range rec.records {
		var from string
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "from" {
				from = a.Value.String()
			}
			return true
		})
		assert.Equal(t, "wgpu", from, "record %q", r.Message)
		if r.Message == "No config found!" {
			assert.Equal(t, slog.LevelDebug, r.Level)
		}
	}
}
