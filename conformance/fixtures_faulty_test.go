package conformance

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
)

// faultyProvider opens the CPU backend with one wrong operation, to show
// that the fixture suite catches an op bug through whole-model parity. It
// lists its device as unable to compute, so runs over every device (and
// the other tests of this package) leave it out.
type faultyProvider struct{}

const faultySpec = "faultycpu"

func (faultyProvider) Name() string { return faultySpec }

func (faultyProvider) Devices(context.Context) ([]backend.DeviceInfo, error) {
	return []backend.DeviceInfo{{Spec: faultySpec, Name: "CPU with a wrong Softmax", API: "Go", Reason: "test double"}}, nil
}

func (faultyProvider) Open(ctx context.Context, _ string) (backend.Backend, error) {
	b, err := backend.Open(ctx, "cpu")
	if err != nil {
		return nil, err
	}
	return wrongSoftmax{b}, nil
}

// wrongSoftmax scales attention scores by 1.1 more than asked.
type wrongSoftmax struct{ backend.Backend }

func (w wrongSoftmax) Softmax(x backend.Tensor, o backend.SoftmaxOptions) (backend.Tensor, error) {
	if o.Scale == 0 {
		o.Scale = 1
	}
	o.Scale *= 1.1
	return w.Backend.Softmax(x, o)
}

// TestRunFixturesCatchesAWrongOp runs one case on a backend whose Softmax
// is slightly wrong: every logits and training check fails, while the
// structure checks, which run no attention, still pass.
func TestRunFixturesCatchesAWrongOp(t *testing.T) {
	src := sourceCase(t)
	backend.Register(faultyProvider{})
	rep, err := RunFixtures(context.Background(), filepath.Dir(src.Dir), []string{faultySpec},
		FixtureOptions{Filter: "^" + src.Name + "$"})
	require.NoError(t, err)
	byCheck := map[string]FixtureResult{}
	for _, r := range rep.Results {
		byCheck[r.Check] = r
	}
	for _, check := range []string{"logits_base", "logits_a", "train losses"} {
		require.Contains(t, byCheck, check)
		assert.False(t, byCheck[check].Pass, "%s passed on a wrong Softmax", check)
		assert.Contains(t, byCheck[check].Err, "exceeds", check)
	}
	for _, check := range []string{"layers_default", "matching[0]", "load adapter a"} {
		require.Contains(t, byCheck, check)
		assert.True(t, byCheck[check].Pass, "%s: %s", check, byCheck[check].Err)
	}
}
