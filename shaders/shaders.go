// Package shaders holds the WGSL compute kernels of the WebGPU backend,
// embedded in the binary so the library needs no files at run time.
//
// Every kernel file is served with common.wgsl prepended, so helpers such as
// the F16/BF16 unpacking functions are written once and shared.
package shaders

import (
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strings"
)

//go:embed *.wgsl
var files embed.FS

// commonFile is the prelude prepended to every kernel file.
const commonFile = "common.wgsl"

// Source returns the WGSL source of the kernel file name (for example
// "matmul.wgsl") with common.wgsl prepended. An unknown name is an error that
// lists the files that exist.
func Source(name string) (string, error) {
	body, err := files.ReadFile(name)
	if err != nil || name == commonFile {
		return "", fmt.Errorf("shaders: unknown shader file %q (have %s)", name, strings.Join(Names(), ", "))
	}
	common, err := files.ReadFile(commonFile)
	if err != nil {
		return "", fmt.Errorf("shaders: reading %s: %w", commonFile, err)
	}
	return string(common) + "\n// ---- " + name + " ----\n" + string(body), nil
}

// Names lists the kernel files, sorted, without common.wgsl.
func Names() []string {
	entries, err := fs.ReadDir(files, ".")
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range entries {
		if e.Name() != commonFile {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names
}
