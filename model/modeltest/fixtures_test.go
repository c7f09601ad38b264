package modeltest

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recorder is a testing.TB that records Skipf and Fatalf instead of
// stopping the test, so that Missing's choice can be checked.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper()                           {}
func (r *recorder) Skipf(format string, args ...any)  { r.skipped = fmt.Sprintf(format, args...) }
func (r *recorder) Fatalf(format string, args ...any) { r.failed = fmt.Sprintf(format, args...) }

func TestMissingSkipsUnlessFixturesAreRequired(t *testing.T) {
	for _, tc := range []struct {
		env           string
		skipped, fail string
	}{
		{env: "", skipped: "no case x"},
		{env: "0", skipped: "no case x"},
		{env: "1", fail: "no case x (IA3_REQUIRE_FIXTURES=1: fixtures are required)"},
	} {
		t.Run("IA3_REQUIRE_FIXTURES="+tc.env, func(t *testing.T) {
			t.Setenv(RequireFixturesEnv, tc.env)
			r := &recorder{TB: t}
			Missing(r, "no case %s", "x")
			assert.Equal(t, tc.skipped, r.skipped)
			assert.Equal(t, tc.fail, r.failed)
		})
	}
}

func TestLookupsFailWhenFixturesAreRequired(t *testing.T) {
	t.Setenv(RequireFixturesEnv, "1")
	r := &recorder{TB: t}
	assert.Empty(t, Path(r, "peft/no-such-case"))
	assert.Equal(t, "fixture peft/no-such-case not found under testdata/fixtures or ../shared/fixtures (IA3_REQUIRE_FIXTURES=1: fixtures are required)", r.failed)

	r = &recorder{TB: t}
	assert.Equal(t, Case{}, NamedCase(r, "no-such-case"))
	assert.Equal(t, `no PEFT fixture case "no-such-case" (IA3_REQUIRE_FIXTURES=1: fixtures are required)`, r.failed)
	assert.Empty(t, r.skipped)
}

// TestTestdataHoldsEveryFixture: a fresh clone, without ../shared, has
// every case and tokenizer the tests name, and they are found there first.
func TestTestdataHoldsEveryFixture(t *testing.T) {
	root, ok := ModuleRoot()
	require.True(t, ok)
	testdata := filepath.Join(root, "testdata", "fixtures")
	require.Equal(t, testdata, Roots()[0])

	cases, err := ListCases(filepath.Join(testdata, "peft"))
	require.NoError(t, err)
	var names []string
	for _, c := range cases {
		names = append(names, c.Name)
	}
	assert.Equal(t, []string{"bert", "gpt2", "llama", "mistral", "qwen2", "roberta", "t5", "t5_gated"}, names)
	for _, kind := range []string{"bytelevel_bpe", "sentencepiece_bpe", "sentencepiece_unigram"} {
		for _, f := range []string{"tokenizer.json", "expected.json"} {
			assert.FileExists(t, filepath.Join(testdata, "peft", "tokenizers", kind, f))
		}
	}
	assert.FileExists(t, filepath.Join(testdata, "make_fixtures.py"))

	assert.Equal(t, filepath.Join(testdata, "peft", "gpt2"), NamedCase(t, "gpt2").Dir)
	assert.Equal(t, filepath.Join(testdata, "peft", "tokenizers"), Path(t, "peft/tokenizers"))
	for _, c := range Cases(t) {
		if _, err := os.Stat(filepath.Join(testdata, "peft", c.Name)); err == nil {
			assert.Equal(t, filepath.Join(testdata, "peft", c.Name), c.Dir, "case %s", c.Name)
		}
	}
}
