package torchbin

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"io"
	"maps"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// pk builds pickles opcode by opcode, as torch.save lays them out, so
// that tests can write valid and hostile ones.
type pk struct{ b []byte }

// op appends raw bytes (opcodes and their arguments).
func (p *pk) op(bs ...byte) *pk { p.b = append(p.b, bs...); return p }

// str appends BINUNICODE s.
func (p *pk) str(s string) *pk {
	p.op(opBinUnicode).op(binary.LittleEndian.AppendUint32(nil, uint32(len(s)))...)
	return p.op([]byte(s)...)
}

// global appends GLOBAL module.name.
func (p *pk) global(module, name string) *pk {
	return p.op(opGlobal).op([]byte(module + "\n" + name + "\n")...)
}

// int appends BININT n (LONG1 for values outside int32).
func (p *pk) int(n int64) *pk {
	if n >= -1<<31 && n < 1<<31 {
		return p.op(opBinInt).op(binary.LittleEndian.AppendUint32(nil, uint32(int32(n)))...)
	}
	return p.op(opLong1, 8).op(binary.LittleEndian.AppendUint64(nil, uint64(n))...)
}

// ints appends a MARK … TUPLE of ints.
func (p *pk) ints(ns ...int64) *pk {
	p.op(opMark)
	for _, n := range ns {
		p.int(n)
	}
	return p.op(opTuple)
}

// view describes one tensor of a built state dict.
type view struct {
	name, storageType, key string
	numel, offset          int64
	size, stride           []int64
}

// tensor appends _rebuild_tensor_v2(("storage", torch.<type>, key,
// "cpu", numel), offset, size, stride, False, OrderedDict()).
func (p *pk) tensor(v view) *pk {
	p.global("torch._utils", "_rebuild_tensor_v2").op(opMark)
	p.op(opMark).str("storage").global("torch", v.storageType).str(v.key).str("cpu").int(v.numel).op(opTuple, opBinPersID)
	p.int(v.offset).ints(v.size...).ints(v.stride...).op(opNewFalse)
	p.global("collections", "OrderedDict").op(opEmptyTuple, opReduce)
	return p.op(opTuple, opReduce)
}

// stateDict returns the pickle of {name: tensor, …} for views.
func stateDict(views ...view) []byte {
	p := &pk{}
	p.op(opProto, 2, opEmptyDict, opBinPut, 0, opMark)
	for _, v := range views {
		p.str(v.name).tensor(v)
	}
	return p.op(opSetItems, opStop).b
}

// f32 is a contiguous float32 tensor of n elements on storage key.
func f32(name, key string, n int64) view {
	return view{name: name, storageType: "FloatStorage", key: key, numel: n, size: []int64{n}, stride: []int64{1}}
}

// record is one zip entry. A raw record is written as is, with the
// method and uncompressed size given (which may lie).
type record struct {
	name   string
	data   []byte
	raw    bool
	method uint16
	size   uint64
}

// zipOf writes records, uncompressed as torch writes them, into a zip.
func zipOf(t testing.TB, recs ...record) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	for _, r := range recs {
		var f io.Writer
		var err error
		if r.raw {
			f, err = w.CreateRaw(&zip.FileHeader{Name: r.name, Method: r.method,
				CompressedSize64: uint64(len(r.data)), UncompressedSize64: r.size})
		} else {
			f, err = w.CreateHeader(&zip.FileHeader{Name: r.name, Method: zip.Store})
		}
		require.NoError(t, err)
		_, err = f.Write(r.data)
		require.NoError(t, err)
	}
	require.NoError(t, w.Close())
	return buf.Bytes()
}

// archive returns a torch.save-like zip: archive/data.pkl, a storage
// record of size bytes for every key, byteorder and version.
func archive(t testing.TB, pkl []byte, storages map[string]int) []byte {
	t.Helper()
	recs := []record{rec("archive/data.pkl", pkl), rec("archive/byteorder", []byte("little"))}
	for _, k := range slices.Sorted(maps.Keys(storages)) {
		recs = append(recs, rec("archive/data/"+k, make([]byte, storages[k])))
	}
	recs = append(recs, rec("archive/version", []byte("3\n")))
	return zipOf(t, recs...)
}

// deflated returns data compressed with deflate, as a zip record holds it.
func deflated(t testing.TB, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := flate.NewWriter(&buf, flate.BestCompression)
	require.NoError(t, err)
	_, err = w.Write(data)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return buf.Bytes()
}

// rec is a stored record of data.
func rec(name string, data []byte) record { return record{name: name, data: data} }
