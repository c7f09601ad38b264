package gguf

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
)

// splitName matches the file names llama-gguf-split and gguf-py give the
// parts of a split model: NAME-00001-of-00003.gguf.
var splitName = regexp.MustCompile(`^(.*)-(\d{5})-of-(\d{5})\.gguf$`)

// joinSplit opens every part of the split model f (opened from path) is
// one of, and returns the first part holding all parts' tensors. Each part
// must carry its split.no and the same split.count; tensor names are unique
// across parts and, when split.tensors.count is given, add up to it.
func joinSplit(f *File, path string, n int) (*File, error) {
	files := make([]*File, n)
	fail := func(err error) (*File, error) {
		for _, g := range files {
			if g != nil {
				g.Close()
			}
		}
		return nil, err
	}
	m := splitName.FindStringSubmatch(filepath.Base(path))
	files[0] = f // closed on failure until placed
	if m == nil {
		return fail(fmt.Errorf("gguf: %s: split.count is %d but the name is not NAME-00001-of-%05d.gguf", path, n, n))
	}
	if count, _ := strconv.Atoi(m[3]); count != n {
		return fail(fmt.Errorf("gguf: %s: split.count is %d but the name says %d parts", path, n, count))
	}
	no, err := f.uintKey("split.no", -1)
	if err != nil {
		return fail(err)
	}
	if no >= int64(n) {
		return fail(fmt.Errorf("gguf: %s: split.no %d is not below split.count %d", path, no, n))
	}
	files[0] = nil
	files[no] = f
	for i := range files {
		if files[i] != nil {
			continue
		}
		p := filepath.Join(filepath.Dir(path), fmt.Sprintf("%s-%05d-of-%05d.gguf", m[1], i+1, n))
		g, err := openOne(p)
		if err != nil {
			return fail(fmt.Errorf("gguf: part %d of %d of %s: %w", i+1, n, path, err))
		}
		files[i] = g
		gno, err := g.uintKey("split.no", -1)
		if err != nil {
			return fail(err)
		}
		gn, err := g.uintKey("split.count", -1)
		if err != nil {
			return fail(err)
		}
		if gno != int64(i) || gn != int64(n) {
			return fail(fmt.Errorf("gguf: %s: split.no %d of split.count %d, want %d of %d", p, gno, gn, i, n))
		}
	}
	first := files[0]
	for i, g := range files[1:] {
		for _, t := range g.tensors {
			if _, dup := first.byName[t.Name]; dup {
				return fail(fmt.Errorf("gguf: %s: tensor %q is also in another part", g.path, t.Name))
			}
			t.part = i + 1
			first.byName[t.Name] = len(first.tensors)
			first.tensors = append(first.tensors, t)
		}
		first.parts = append(first.parts, g)
	}
	if _, ok := first.kv["split.tensors.count"]; ok {
		total, err := first.uintKey("split.tensors.count", 0)
		if err != nil {
			return fail(err)
		}
		if total != int64(len(first.tensors)) {
			return fail(fmt.Errorf("gguf: %s: split.tensors.count is %d, the parts hold %d tensors", first.path, total, len(first.tensors)))
		}
	}
	return first, nil
}

// Parts returns the number of files the model is read from (1 unless it
// is split).
func (f *File) Parts() int { return 1 + len(f.parts) }
