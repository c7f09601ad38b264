package train

import (
	"context"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/ia3"
	"github.com/ia3/ia3/model"
)

// BenchmarkDemoStep times one optimiser step of the demo (batch 8 × 64
// bytes, 2-layer GPT-2 of width 128, vectors plus lm_head trained) on the
// CPU backend.
func BenchmarkDemoStep(b *testing.B) {
	ctx := context.Background()
	be, err := backend.Open(ctx, "cpu")
	require.NoError(b, err)
	defer be.Close()
	cfg, err := DemoModelConfig()
	require.NoError(b, err)
	base, err := model.NewRandom(cfg, be, demoModelSeed)
	require.NoError(b, err)
	defer base.Free()
	acfg := ia3.NewConfig()
	acfg.ModulesToSave = []string{"lm_head"}
	pm, err := ia3.New(base, acfg, ia3.DefaultAdapter)
	require.NoError(b, err)
	opts := Options{MaxSteps: b.N, BatchSize: demoBatch, GradAccum: 1, LR: demoLR, Schedule: ScheduleConstant,
		Optim: DefaultAdamW(), MaxGradNorm: 1, Logger: slog.New(slog.DiscardHandler)}
	s, err := newSession(opts, be, base, pm, demoDataset(demoStride), nil)
	require.NoError(b, err)
	defer s.close()
	b.ResetTimer()
	for i := range b.N {
		if _, _, err := s.trainStep(i, demoLR); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*demoBatch*demoSeq)/b.Elapsed().Seconds(), "tok/s")
}
