package safetensors

import (
	"testing"
)

// FuzzParseHeader feeds arbitrary headers and data-section sizes to the
// header parser, which must return an error or a self-consistent header,
// never panic.
func FuzzParseHeader(f *testing.F) {
	for _, seed := range []string{
		`{"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}`,
		`{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"b":{"dtype":"I64","shape":[],"data_offsets":[4,12]}}`,
		`{"w":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}}`,
		`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`,
		`{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}}`,
		`{"w":{"dtype":"XX","shape":[16],"data_offsets":[0,16]}}`,
		`{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,16]}}`,
		`{"w":{"dtype":"F32","shape":[9223372036854775807,4],"data_offsets":[0,16]}}`,
		`{"w":{"dtype":"F32",`,
		`{"__metadata__":[1]}`,
		`[]`,
		``,
	} {
		f.Add([]byte(seed), int64(16))
	}
	f.Fuzz(func(t *testing.T, raw []byte, dataLen int64) {
		if dataLen < 0 {
			dataLen = -dataLen
		}
		if dataLen < 0 { // MinInt64
			return
		}
		h, err := parseHeader("fuzz.safetensors", raw, dataLen)
		if err != nil {
			return
		}
		for name, info := range h.tensors {
			size, ok := DTypeSize(info.DType)
			if !ok || info.Offset < 0 || info.Offset+info.Size > dataLen || int64(info.NumElements()*size) != info.Size {
				t.Fatalf("accepted inconsistent tensor %q: %+v (data %d bytes)", name, info, dataLen)
			}
		}
	})
}
