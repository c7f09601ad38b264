// Package modeltest holds test support shared by the packages that check
// models against the Hugging Face reference fixtures: finding the fixture
// directories beside the module and listing their cases for a test. The
// layout itself is read by package fixture, re-exported here for tests.
package modeltest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ia3/ia3/model/fixture"
)

// ModuleRoot returns the directory holding go.mod, found by walking up
// from the working directory.
func ModuleRoot() (string, bool) {
	dir, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

// SharedFixtures returns ../shared/fixtures beside the module root, or
// skips the test when it is not there.
func SharedFixtures(t testing.TB) string {
	t.Helper()
	root, ok := ModuleRoot()
	if !ok {
		t.Skip("no go.mod above the test directory")
	}
	fx := filepath.Join(filepath.Dir(root), "shared", "fixtures")
	if _, err := os.Stat(fx); err != nil {
		t.Skipf("shared fixtures not found at %s", fx)
	}
	return fx
}

// PEFTDirs returns the directories holding PEFT parity cases that exist:
// the shared fixtures' peft directory (../shared/fixtures/peft beside the
// module root) and the project's own testdata/fixtures/peft.
func PEFTDirs() []string {
	root, ok := ModuleRoot()
	if !ok {
		return nil
	}
	var out []string
	for _, d := range []string{
		filepath.Join(filepath.Dir(root), "shared", "fixtures", "peft"),
		filepath.Join(root, "testdata", "fixtures", "peft"),
	} {
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			out = append(out, d)
		}
	}
	return out
}

// Case, Meta, Layer and Tensor are package fixture's types.
type (
	Case   = fixture.Case
	Meta   = fixture.Meta
	Layer  = fixture.Layer
	Tensor = fixture.Tensor
)

// ListCases, ReadTensors, Tolerance and CompareLogits are package
// fixture's functions.
var (
	ListCases     = fixture.ListCases
	ReadTensors   = fixture.ReadTensors
	Tolerance     = fixture.Tolerance
	CompareLogits = fixture.CompareLogits
)

// Cases lists every case under PEFTDirs: each directory with a
// base/config.json, found by walking (tokenizers are skipped). The test is
// skipped when there are no fixtures.
func Cases(t testing.TB) []Case {
	t.Helper()
	var cases []Case
	for _, dir := range PEFTDirs() {
		cs, err := ListCases(dir)
		if err != nil {
			t.Fatalf("list fixture cases: %v", err)
		}
		cases = append(cases, cs...)
	}
	if len(cases) == 0 {
		t.Skip("no PEFT fixture cases (../shared/fixtures/peft, testdata/fixtures/peft)")
	}
	return cases
}
