// Package modeltest holds test support shared by the packages that check
// models against the Hugging Face reference fixtures: finding the fixture
// directories and listing their cases for a test. The layout itself is
// read by package fixture, re-exported here for tests.
//
// Fixtures are looked up in the module's testdata/fixtures first, then in
// ../shared/fixtures beside the module root when that exists (an extra
// place for cases not copied into the repository, never required). A test
// whose fixture is missing is skipped, or fails when IA3_REQUIRE_FIXTURES=1.
package modeltest

import (
	"cmp"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ia3/ia3/model/fixture"
)

// RequireFixturesEnv names the environment variable that, set to 1, turns
// a missing fixture from a skip into a failure (CI sets it).
const RequireFixturesEnv = "IA3_REQUIRE_FIXTURES"

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

// Missing reports that a fixture the test needs is not there: it skips
// the test, or fails it when IA3_REQUIRE_FIXTURES=1.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv(RequireFixturesEnv) == "1" {
		t.Fatalf(format+" (%s=1: fixtures are required)", append(args, RequireFixturesEnv)...)
		return
	}
	t.Skipf(format, args...)
}

// Roots returns the fixture directories that exist, in lookup order: the
// module's testdata/fixtures, then ../shared/fixtures beside the module
// root.
func Roots() []string {
	root, ok := ModuleRoot()
	if !ok {
		return nil
	}
	var out []string
	for _, d := range []string{
		filepath.Join(root, "testdata", "fixtures"),
		filepath.Join(filepath.Dir(root), "shared", "fixtures"),
	} {
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			out = append(out, d)
		}
	}
	return out
}

// Path returns rel (a slash-separated path such as "peft/tokenizers")
// under the first root of Roots that holds it; without one it calls
// Missing and returns "".
func Path(t testing.TB, rel string) string {
	t.Helper()
	for _, r := range Roots() {
		p := filepath.Join(r, filepath.FromSlash(rel))
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	Missing(t, "fixture %s not found under testdata/fixtures or ../shared/fixtures", rel)
	return ""
}

// PEFTDirs returns the peft directory of each fixture root that has one,
// in lookup order.
func PEFTDirs() []string {
	var out []string
	for _, r := range Roots() {
		d := filepath.Join(r, "peft")
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

// Cases lists every case under PEFTDirs, sorted by name: each directory
// with a base/config.json, found by walking (tokenizers are skipped). A
// case found in an earlier directory hides one of the same name in a
// later one. Without any case it calls Missing.
func Cases(t testing.TB) []Case {
	t.Helper()
	var cases []Case
	for _, dir := range PEFTDirs() {
		cs, err := ListCases(dir)
		if err != nil {
			t.Fatalf("list fixture cases: %v", err)
		}
		for _, c := range cs {
			if !slices.ContainsFunc(cases, func(o Case) bool { return o.Name == c.Name }) {
				cases = append(cases, c)
			}
		}
	}
	if len(cases) == 0 {
		Missing(t, "no PEFT fixture cases (testdata/fixtures/peft, ../shared/fixtures/peft)")
	}
	slices.SortFunc(cases, func(a, b Case) int { return cmp.Compare(a.Name, b.Name) })
	return cases
}

// NamedCase returns the case called name from Cases; without it it calls
// Missing.
func NamedCase(t testing.TB, name string) Case {
	t.Helper()
	for _, c := range Cases(t) {
		if c.Name == name {
			return c
		}
	}
	Missing(t, "no PEFT fixture case %q", name)
	return Case{}
}

// AddSeeds adds every fixture file matching pattern (a filepath.Match
// pattern relative to a fixture root, such as
// "peft/*/base/config.json") to f's seed corpus, from every root of
// Roots: real files are the best start for a fuzzer.
func AddSeeds(f *testing.F, pattern string) {
	for _, r := range Roots() {
		paths, _ := filepath.Glob(filepath.Join(r, filepath.FromSlash(pattern)))
		for _, p := range paths {
			if data, err := os.ReadFile(p); err == nil {
				f.Add(data)
			}
		}
	}
}
