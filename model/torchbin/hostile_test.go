package torchbin

import (
	"archive/zip"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hostileCase is one file that must be refused with a clear error.
type hostileCase struct {
	name string
	file []byte
	kind error  // the sentinel the error wraps
	want string // a fragment of the message
}

// pickleCase wraps a pickle in an otherwise valid archive whose storages
// hold the given byte counts.
func pickleCase(t testing.TB, name string, pkl []byte, storages map[string]int, kind error, want string) hostileCase {
	return hostileCase{name: name, file: archive(t, pkl, storages), kind: kind, want: want}
}

// callGlobal is a pickle {"w": module.name("ls")}: what a malicious
// checkpoint does to run a command on load.
func callGlobal(module, name string) []byte {
	p := &pk{}
	p.op(opProto, 2, opEmptyDict).str("w").global(module, name).str("ls").op(opTuple1, opReduce, opSetItem, opStop)
	return p.b
}

// hostileCases returns the table: forbidden globals, malformed pickles,
// views that do not fit their storage and broken archives.
func hostileCases(t testing.TB) []hostileCase {
	ok := map[string]int{"0": 16}
	w := f32("w", "0", 4)
	withView := func(mod func(*view)) []byte {
		v := w
		mod(&v)
		return stateDict(v)
	}
	nested := &pk{}
	nested.op(opProto, 2, opEmptyDict).str("w").op(opEmptyTuple)
	for range maxDepth + 1 {
		nested.op(opTuple1)
	}
	nested.op(opSetItem, opStop)
	marks := &pk{}
	marks.op(opProto, 2)
	for range maxMarks + 1 {
		marks.op(opMark)
	}
	stackGlobal := &pk{}
	stackGlobal.op(opProto, 4).op(opShortBinUni, 10).op([]byte("subprocess")...).op(opShortBinUni, 5).op([]byte("Popen")...).op(opStackGlobal, opStop)
	valid := stateDict(w)
	realFile, err := os.ReadFile(filepath.Join(testdata, "views", "views.bin"))
	require.NoError(t, err)

	cases := []hostileCase{
		// Globals that would run code.
		pickleCase(t, "os.system", callGlobal("os", "system"), nil, ErrForbidden, "global os.system is not allowed"),
		pickleCase(t, "builtins.eval", callGlobal("builtins", "eval"), nil, ErrForbidden, "global builtins.eval is not allowed"),
		pickleCase(t, "posix.system", callGlobal("posix", "system"), nil, ErrForbidden, "global posix.system is not allowed"),
		pickleCase(t, "__builtin__.getattr", callGlobal("__builtin__", "getattr"), nil, ErrForbidden, "__builtin__.getattr"),
		pickleCase(t, "subprocess.Popen via STACK_GLOBAL", stackGlobal.b, nil, ErrForbidden, "global subprocess.Popen is not allowed"),
		pickleCase(t, "numpy reconstruct", callGlobal("numpy.core.multiarray", "_reconstruct"), nil, ErrForbidden, "numpy.core.multiarray._reconstruct"),
		pickleCase(t, "pickled nn.Module", callGlobal("torch.nn.modules.linear", "Linear"), nil, ErrForbidden, "torch.nn.modules.linear.Linear"),
		pickleCase(t, "torch lookalike", callGlobal("torch._utils", "_rebuild_tensor_v2.__globals__"), nil, ErrForbidden, "_rebuild_tensor_v2.__globals__"),
		pickleCase(t, "torch.Tensor called", callGlobal("torch", "Tensor"), nil, ErrForbidden, "global torch.Tensor cannot be called"),
		pickleCase(t, "rebuild_from_type of another class", func() []byte {
			p := &pk{}
			p.op(opProto, 2, opEmptyDict).str("w").global("torch._tensor", "_rebuild_from_type_v2").op(opMark)
			p.global("torch._utils", "_rebuild_tensor_v2").global("collections", "OrderedDict").op(opEmptyTuple, opEmptyDict, opTuple, opReduce, opSetItem, opStop)
			return p.b
		}(), nil, ErrUnsupported, "_rebuild_from_type_v2 of a global, not torch.Tensor"),
		pickleCase(t, "storage class called", callGlobal("torch", "FloatStorage"), nil, ErrForbidden, "global torch.FloatStorage cannot be called"),
		// Malformed pickles.
		pickleCase(t, "empty pickle", nil, nil, ErrCorrupt, "truncated: no STOP opcode"),
		pickleCase(t, "truncated pickle", valid[:len(valid)/2], ok, ErrCorrupt, "truncated"),
		pickleCase(t, "GLOBAL without newline", []byte("\x80\x02cos\nsystem"), nil, ErrCorrupt, "truncated: GLOBAL argument lacks its newline"),
		pickleCase(t, "BINGET of an unset memo", []byte("\x80\x02h\x07."), nil, ErrCorrupt, "memo index 7 was never stored"),
		pickleCase(t, "LONG_BINGET far out", []byte("\x80\x02j\xff\xff\xff\xff."), nil, ErrCorrupt, "memo index 4294967295 was never stored"),
		pickleCase(t, "LONG_BINPUT huge index", []byte("\x80\x02}r\xff\xff\xff\x7f."), nil, ErrCorrupt, "exceeds the"),
		pickleCase(t, "unknown opcode", []byte("\x80\x02\xff."), nil, ErrUnsupported, "opcode 0xff"),
		pickleCase(t, "INST opcode", []byte("\x80\x02(ios\nsystem\n."), nil, ErrUnsupported, "opcode 0x69"),
		pickleCase(t, "deep nesting", nested.b, nil, ErrCorrupt, "nest more than 64 deep"),
		pickleCase(t, "too many MARKs", marks.b, nil, ErrCorrupt, "more than 64 MARKs"),
		pickleCase(t, "REDUCE on empty stack", []byte("\x80\x02R."), nil, ErrCorrupt, "stack underflow"),
		pickleCase(t, "POP_MARK without MARK", []byte("\x80\x021."), nil, ErrCorrupt, "no MARK"),
		pickleCase(t, "STOP on empty stack", []byte("\x80\x02."), nil, ErrCorrupt, "stack underflow"),
		pickleCase(t, "protocol 9", []byte("\x80\x09}."), nil, ErrUnsupported, "pickle protocol 9"),
		pickleCase(t, "not a dict", []byte("\x80\x02]."), nil, ErrUnsupported, "holds a list, not a state dict"),
		pickleCase(t, "value not a tensor", []byte("\x80\x02}X\x01\x00\x00\x00wK\x05s."), nil, ErrUnsupported, `entry "w" is a int, not a tensor`),
		pickleCase(t, "key not a string", []byte("\x80\x02}K\x01K\x05s."), nil, ErrUnsupported, "key 1 is a int"),
		pickleCase(t, "tuple key", []byte("\x80\x02})K\x05s."), nil, ErrUnsupported, "dict key of type tuple"),
		pickleCase(t, "SETITEMS odd count", []byte("\x80\x02}(K\x01u."), nil, ErrCorrupt, "odd number"),
		pickleCase(t, "integer wider than int64", []byte("\x80\x02\x8a\x09\x01\x02\x03\x04\x05\x06\x07\x08\x09."), nil, ErrUnsupported, "9-byte integer"),
		pickleCase(t, "huge string length", []byte("\x80\x02X\xff\xff\xff\xff"), nil, ErrCorrupt, "string of 4294967295 bytes"),
		pickleCase(t, "invalid UTF-8", []byte("\x80\x02X\x02\x00\x00\x00\xff\xfe."), nil, ErrCorrupt, "not valid UTF-8"),
		pickleCase(t, "BUILD with an int state", []byte("\x80\x02}K\x01b."), nil, ErrCorrupt, "BUILD with a int state"),
		pickleCase(t, "persistent id not a tuple", []byte("\x80\x02K\x01Q."), nil, ErrUnsupported, "persistent id is a int"),
		pickleCase(t, "persistent id of another kind", []byte("\x80\x02(X\x06\x00\x00\x00modulecos\nsystem\nK\x00K\x00K\x00tQ."), nil, ErrForbidden, "os.system"),
		// Storages and views.
		pickleCase(t, "storage key escapes", withView(func(v *view) { v.key = "../../etc/passwd" }), nil, ErrCorrupt, "not a plain record name"),
		pickleCase(t, "storage type not a storage", func() []byte {
			p := &pk{}
			p.op(opProto, 2).op(opMark).str("storage").global("collections", "OrderedDict").str("0").str("cpu").int(4).op(opTuple, opBinPersID, opStop)
			return p.b
		}(), nil, ErrCorrupt, "not a torch storage class"),
		pickleCase(t, "negative storage size", withView(func(v *view) { v.numel = -4 }), nil, ErrCorrupt, "element count -4"),
		pickleCase(t, "storage redeclared with another dtype", stateDict(w, view{name: "h", storageType: "HalfStorage", key: "0", numel: 4, size: []int64{4}, stride: []int64{1}}), ok, ErrCorrupt, "declared twice"),
		pickleCase(t, "negative stride", withView(func(v *view) { v.offset, v.size, v.stride = 3, []int64{4}, []int64{-1} }), ok, ErrCorrupt, `tensor "w": negative stride -1`),
		pickleCase(t, "negative size", withView(func(v *view) { v.size = []int64{-4} }), ok, ErrCorrupt, `tensor "w": negative size -4`),
		pickleCase(t, "negative offset", withView(func(v *view) { v.offset = -1 }), ok, ErrCorrupt, "negative storage offset"),
		pickleCase(t, "huge sizes", withView(func(v *view) { v.size, v.stride = []int64{1 << 40, 1 << 40}, []int64{1 << 40, 1} }), ok, ErrCorrupt, "overflows"),
		pickleCase(t, "view larger than storage", withView(func(v *view) { v.size, v.stride = []int64{1 << 30, 1 << 30}, []int64{0, 0} }), ok, ErrCorrupt, "larger than its storage"),
		pickleCase(t, "storage too small for view", withView(func(v *view) { v.offset = 2 }), ok, ErrCorrupt, "reaches element 5 of storage 0, which holds 4"),
		pickleCase(t, "strided past the end", withView(func(v *view) { v.size, v.stride = []int64{2, 2}, []int64{3, 1} }), ok, ErrCorrupt, "reaches element 4"),
		pickleCase(t, "size and stride ranks differ", withView(func(v *view) { v.stride = []int64{1, 1} }), ok, ErrCorrupt, "differ in rank"),
		pickleCase(t, "rank 65", withView(func(v *view) { v.size = make([]int64, 65) }), ok, ErrUnsupported, "65 dimensions"),
		// Archives.
		pickleCase(t, "missing storage record", valid, nil, ErrCorrupt, `tensor "w": storage record archive/data/0 is missing`),
		pickleCase(t, "storage record too short", valid, map[string]int{"0": 12}, ErrCorrupt, "holds 12 bytes, but its 4 F32 elements need 16"),
		pickleCase(t, "storage record too long", valid, map[string]int{"0": 20}, ErrCorrupt, "holds 20 bytes"),
		{"compressed storage claiming 1 TiB", zipOf(t, rec("archive/data.pkl", stateDict(view{name: "w", storageType: "FloatStorage", key: "0", numel: 1 << 38, size: []int64{4}, stride: []int64{1}})),
			record{name: "archive/data/0", data: deflated(t, make([]byte, 64)), raw: true, method: zip.Deflate, size: 1 << 40}), ErrCorrupt, "claims 1099511627776 bytes from"},
		{"GLOBAL name too long", archive(t, append([]byte("\x80\x02cos\n"), bytes.Repeat([]byte("a"), 300)...), nil), ErrCorrupt, "lacks its newline within 256 bytes"},
		{"empty file", nil, ErrCorrupt, "not a torch.save zip archive"},
		{"text file", []byte("version https://git-lfs.github.com/spec/v1\n"), ErrCorrupt, `starts with "vers"`},
		{"legacy torch format", []byte("\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19.\x80\x02M\xe9\x03."), ErrLegacy, "re-save it with torch>=1.6 or convert it to safetensors"},
		{"truncated zip", realFile[:len(realFile)*2/3], ErrCorrupt, "not a readable zip archive"},
		{"zip without data.pkl", zipOf(t, rec("archive/data/0", make([]byte, 16))), ErrCorrupt, "no <dir>/data.pkl"},
		{"two data.pkl", zipOf(t, rec("a/data.pkl", valid), rec("b/data.pkl", valid)), ErrCorrupt, "2 data.pkl records"},
		{"big-endian", zipOf(t, rec("archive/data.pkl", valid), rec("archive/byteorder", []byte("big")), rec("archive/data/0", make([]byte, 16))), ErrUnsupported, "big-endian"},
		{"bad byteorder", zipOf(t, rec("archive/data.pkl", valid), rec("archive/byteorder", []byte("middle"))), ErrCorrupt, `byteorder is "middle"`},
		{"bad version", zipOf(t, rec("archive/data.pkl", valid), rec("archive/version", []byte("x"))), ErrCorrupt, `version is "x"`},
	}
	return cases
}

// TestHostileFiles opens every hostile case: each is refused with the
// expected sentinel and a message naming the file and the problem.
func TestHostileFiles(t *testing.T) {
	cases := hostileCases(t)
	require.GreaterOrEqual(t, len(cases), 30)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, err := openReader("hostile.bin", bytes.NewReader(tc.file), int64(len(tc.file)))
			require.Error(t, err)
			assert.Nil(t, f)
			assert.ErrorIs(t, err, tc.kind)
			assert.Contains(t, err.Error(), tc.want)
			assert.True(t, strings.HasPrefix(err.Error(), "torchbin: hostile.bin: "), err.Error())
		})
	}
}

// TestHostileFileOnDisk refuses a forbidden global through Open, naming
// the path.
func TestHostileFileOnDisk(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pytorch_model.bin")
	require.NoError(t, os.WriteFile(path, archive(t, callGlobal("os", "system"), nil), 0o644))
	_, err := Open(path)
	require.ErrorIs(t, err, ErrForbidden)
	assert.Contains(t, err.Error(), path)
	assert.Contains(t, err.Error(), "os.system")

	_, err = Open(filepath.Join(t.TempDir(), "absent.bin"))
	require.Error(t, err)
	_, err = Open(t.TempDir())
	require.Error(t, err, "a directory is refused")
}

// TestBuiltStateDict checks the test builder against the reader: a view
// with an offset and strides reads back the expected elements.
func TestBuiltStateDict(t *testing.T) {
	pkl := stateDict(view{name: "v", storageType: "FloatStorage", key: "0", numel: 6, offset: 1, size: []int64{2, 2}, stride: []int64{1, 2}})
	data := []byte{}
	for i := range 6 {
		data = append(data, 0, 0, 0, 0)
		data[4*i+3] = byte(i) // distinct bit patterns per element
	}
	raw := zipOf(t, rec("x/data.pkl", pkl), rec("x/data/0", data))
	f, err := openReader("built.bin", bytes.NewReader(raw), int64(len(raw)))
	require.NoError(t, err)
	got, err := f.Bytes("v")
	require.NoError(t, err)
	// Elements 1, 3, 2, 4 of the storage in row-major order of the view.
	want := []byte{0, 0, 0, 1, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 4}
	assert.Equal(t, want, got)
	require.NoError(t, f.Close())
	_, err = f.Bytes("v")
	assert.Error(t, err, "closed")
	_, err = f.Bytes("missing")
	assert.Error(t, err)
}

// TestDeflatedRecords reads a storage compressed with deflate (torch
// stores records uncompressed, other zip tools may not), and refuses one
// that holds fewer bytes than its header declares when it is read.
func TestDeflatedRecords(t *testing.T) {
	data := make([]byte, 16)
	for i := range data {
		data[i] = byte(i)
	}
	pkl := stateDict(view{name: "w", storageType: "FloatStorage", key: "0", numel: 4, offset: 1, size: []int64{2}, stride: []int64{2}})
	good := zipOf(t, rec("archive/data.pkl", pkl), record{name: "archive/data/0", data: deflated(t, data), raw: true, method: zip.Deflate, size: 16})
	f, err := openReader("deflated.bin", bytes.NewReader(good), int64(len(good)))
	require.NoError(t, err)
	got, err := f.Bytes("w")
	require.NoError(t, err)
	assert.Equal(t, []byte{4, 5, 6, 7, 12, 13, 14, 15}, got, "elements 1 and 3")

	short := zipOf(t, rec("archive/data.pkl", pkl), record{name: "archive/data/0", data: deflated(t, data[:8]), raw: true, method: zip.Deflate, size: 16})
	f, err = openReader("short.bin", bytes.NewReader(short), int64(len(short)))
	require.NoError(t, err, "the header's size is all Open checks")
	_, err = f.Bytes("w")
	require.ErrorIs(t, err, ErrCorrupt)
	assert.Contains(t, err.Error(), `torchbin: short.bin: tensor "w": read storage record archive/data/0`)
}

// TestRebuildFromType reads a tensor that torch 2 pickles through
// _rebuild_from_type_v2 (a tensor with Python attributes, here dropped).
func TestRebuildFromType(t *testing.T) {
	v := f32("w", "0", 4)
	p := &pk{}
	p.op(opProto, 2, opEmptyDict).str("w").global("torch._tensor", "_rebuild_from_type_v2").op(opMark)
	p.global("torch._utils", "_rebuild_tensor_v2").global("torch", "Tensor")
	p.op(opMark).op(opMark).str("storage").global("torch", v.storageType).str(v.key).str("cpu").int(v.numel).op(opTuple, opBinPersID)
	p.int(0).ints(4).ints(1).op(opNewFalse).global("collections", "OrderedDict").op(opEmptyTuple, opReduce, opTuple)
	p.op(opEmptyDict).str("note").str("kept in Python, dropped here").op(opSetItem)
	p.op(opTuple, opReduce, opSetItem, opStop)
	raw := archive(t, p.b, map[string]int{"0": 16})
	f, err := openReader("typed.bin", bytes.NewReader(raw), int64(len(raw)))
	require.NoError(t, err)
	info, ok := f.Info("w")
	require.True(t, ok)
	assert.Equal(t, []int{4}, info.Shape)
}
