// Package quant defines the quantized storage formats ia3 keeps frozen base
// weights in, so that a model several times larger than the device's memory
// in float32 still fits: Q8_0 (ggml's 8-bit blocks of 32) and NF4
// (bitsandbytes' 4-bit NormalFloat, blocks of 64, with double quantization).
//
// It is the one source of truth for both backends: the tables (NF4Table,
// Dynamic8Table), the byte layout of a quantized [R, C] matrix (Layout),
// quantization on the host (exact, deterministic integer work) and
// dequantization of a row range or a whole matrix. docs/quantization.md
// states the layout; this package implements it and depends on no other ia3
// package.
//
// A quantized matrix has the float weight's logical shape [R, C] (torch
// Linear layout (out, in)) and is quantized along C, the input dimension:
// C must be a multiple of the format's block size.
package quant

import (
	"fmt"
	"math"
	"strings"
)

// Format is a quantized storage format.
type Format uint8

// Formats. None means the weights stay as loaded.
const (
	None Format = iota
	// Q8_0 stores blocks of 32 int8 codes with one float16 scale each.
	Q8_0
	// NF4 stores blocks of 64 4-bit NormalFloat codes whose absmax is itself
	// quantized to 8 bits in groups of 256 blocks.
	NF4
)

// Block sizes along C.
const (
	Q8BlockSize    = 32  // elements per Q8_0 block
	NF4BlockSize   = 64  // elements per NF4 block
	NF4GroupBlocks = 256 // NF4 blocks per double-quantization group
)

// String returns "Q8_0", "NF4" or "none".
func (f Format) String() string {
	switch f {
	case None:
		return "none"
	case Q8_0:
		return "Q8_0"
	case NF4:
		return "NF4"
	}
	return fmt.Sprintf("Format(%d)", uint8(f))
}

// BlockSize returns the number of consecutive elements of a row that share
// one scale, or 0 for None and unknown formats.
func (f Format) BlockSize() int {
	switch f {
	case Q8_0:
		return Q8BlockSize
	case NF4:
		return NF4BlockSize
	}
	return 0
}

// ParseFormat reads a --quantize value: "" or "none", "int8" (or "q8_0")
// and "nf4", case-insensitively.
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "none":
		return None, nil
	case "int8", "q8_0", "q8":
		return Q8_0, nil
	case "nf4":
		return NF4, nil
	}
	return None, fmt.Errorf("quantize %q: want int8 or nf4", s)
}

// Fits reports whether a [rows, cols] matrix can be stored in f: both
// dimensions positive and cols a multiple of the block size.
func (f Format) Fits(rows, cols int) bool {
	bs := f.BlockSize()
	return bs > 0 && rows > 0 && cols > 0 && cols%bs == 0
}

// Layout is where each section of a quantized [Rows, Cols] matrix lies in
// its storage bytes. Offsets and sizes are in bytes; sections a format does
// not have are zero.
type Layout struct {
	Format     Format
	Rows, Cols int
	// Blocks is the number of blocks (R·C / block size).
	Blocks int
	// Codes: Q8_0 int8 codes (R·C bytes); NF4 packed nibbles (R·C/2 bytes,
	// element 2i in the high nibble of byte i).
	CodesOffset, CodesBytes int
	// Scales: Q8_0 float16 block scales (2 bytes each); NF4 uint8 absmax
	// codes, zero-padded to a multiple of 4 bytes.
	ScalesOffset, ScalesBytes int
	// Groups: NF4 float32 group scales, one per 256 blocks.
	GroupsOffset, GroupsBytes int
	Groups                    int
	// OffsetOffset: NF4's float32 absmax offset (4 bytes).
	OffsetOffset int
	// Total is the storage size.
	Total int
}

// maxBytes bounds a layout so that every offset fits an int on 32-bit
// platforms and a 32-bit GPU index.
const maxBytes = math.MaxInt32

// NewLayout returns the layout of a [rows, cols] matrix in f, or an error
// when f is not a quantized format, a dimension is not positive, cols is not
// a multiple of the block size or the matrix is too large.
func NewLayout(f Format, rows, cols int) (Layout, error) {
	bs := f.BlockSize()
	if bs == 0 {
		return Layout{}, fmt.Errorf("quant: %v is not a quantized format", f)
	}
	if rows <= 0 || cols <= 0 {
		return Layout{}, fmt.Errorf("quant: %v matrix [%d, %d]: dimensions must be positive", f, rows, cols)
	}
	if cols%bs != 0 {
		return Layout{}, fmt.Errorf("quant: %v matrix [%d, %d]: %d columns are not a multiple of the block size %d", f, rows, cols, cols, bs)
	}
	if rows > maxBytes/cols {
		return Layout{}, fmt.Errorf("quant: %v matrix [%d, %d]: too many elements", f, rows, cols)
	}
	n := rows * cols
	l := Layout{Format: f, Rows: rows, Cols: cols, Blocks: n / bs}
	switch f {
	case Q8_0:
		l.CodesBytes = n
		l.ScalesOffset = n
		l.ScalesBytes = 2 * l.Blocks
		l.Total = l.ScalesOffset + l.ScalesBytes
	case NF4:
		l.CodesBytes = n / 2
		l.ScalesOffset = l.CodesBytes
		l.ScalesBytes = (l.Blocks + 3) &^ 3
		l.Groups = (l.Blocks + NF4GroupBlocks - 1) / NF4GroupBlocks
		l.GroupsOffset = l.ScalesOffset + l.ScalesBytes
		l.GroupsBytes = 4 * l.Groups
		l.OffsetOffset = l.GroupsOffset + l.GroupsBytes
		l.Total = l.OffsetOffset + 4
	}
	if l.Total > maxBytes {
		return Layout{}, fmt.Errorf("quant: %v matrix [%d, %d]: %d storage bytes exceed %d", f, rows, cols, l.Total, maxBytes)
	}
	return l, nil
}

// StorageBytes returns the bytes a [rows, cols] matrix takes in f.
func StorageBytes(f Format, rows, cols int) (int, error) {
	l, err := NewLayout(f, rows, cols)
	if err != nil {
		return 0, err
	}
	return l.Total, nil
}

// Quantize encodes x, a row-major [rows, cols] float32 matrix, in f. The
// result is deterministic: the same input gives the same bytes everywhere.
func Quantize(f Format, x []float32, rows, cols int) ([]byte, error) {
	l, err := NewLayout(f, rows, cols)
	if err != nil {
		return nil, err
	}
	if len(x) != rows*cols {
		return nil, fmt.Errorf("quant: %v [%d, %d]: %d values, want %d", f, rows, cols, len(x), rows*cols)
	}
	out := make([]byte, l.Total)
	if f == Q8_0 {
		quantizeQ8(out, x, l)
	} else {
		quantizeNF4(out, x, l)
	}
	return out, nil
}

// Dequantize decodes a whole [rows, cols] matrix stored in f.
func Dequantize(f Format, data []byte, rows, cols int) ([]float32, error) {
	m, err := NewMatrix(f, data, rows, cols)
	if err != nil {
		return nil, err
	}
	out := make([]float32, rows*cols)
	for r := range rows {
		m.Row(out[r*cols:(r+1)*cols], r, 0)
	}
	return out, nil
}

// Matrix reads a quantized matrix in place: the storage bytes with their
// layout, validated once.
type Matrix struct {
	Layout
	data []byte
	// offset and the NF4 tables, read once.
	offset float32
}

// NewMatrix wraps data, the storage of a [rows, cols] matrix in f, after
// checking its length against the layout.
func NewMatrix(f Format, data []byte, rows, cols int) (Matrix, error) {
	l, err := NewLayout(f, rows, cols)
	if err != nil {
		return Matrix{}, err
	}
	if len(data) != l.Total {
		return Matrix{}, fmt.Errorf("quant: %v [%d, %d]: %d bytes, want %d", f, rows, cols, len(data), l.Total)
	}
	m := Matrix{Layout: l, data: data}
	if f == NF4 {
		m.offset = le32(data[l.OffsetOffset:])
	}
	return m, nil
}

// Bytes returns the storage the matrix reads (not a copy).
func (m Matrix) Bytes() []byte { return m.data }

// Row writes the values of row r, columns c0 to c0+len(dst)-1, into dst.
// The range must lie inside the row.
func (m Matrix) Row(dst []float32, r, c0 int) {
	m.RowStrided(dst, 1, r, c0, len(dst))
}

// RowStrided writes the n values of row r from column c0 on into
// dst[0], dst[stride], dst[2·stride], ...: one lane of a packed panel, as
// a matrix product's packing wants it. The range must lie inside the row.
func (m Matrix) RowStrided(dst []float32, stride, r, c0, n int) {
	if n <= 0 {
		return
	}
	_ = dst[(n-1)*stride]
	if m.Format == Q8_0 {
		m.rowQ8(dst, stride, r, c0, n)
		return
	}
	m.rowNF4(dst, stride, r, c0, n)
}

// At returns the value at row r, column c.
func (m Matrix) At(r, c int) float32 {
	var v [1]float32
	m.Row(v[:], r, c)
	return v[0]
}

func le32(b []byte) float32 {
	return math.Float32frombits(uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24)
}

func put32(b []byte, f float32) {
	u := math.Float32bits(f)
	b[0], b[1], b[2], b[3] = byte(u), byte(u>>8), byte(u>>16), byte(u>>24)
}
