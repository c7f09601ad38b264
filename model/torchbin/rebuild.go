package torchbin

import (
	"fmt"
	"math"

	"github.com/ia3/ia3/model/safetensors"
)

// storage is one persistent storage: the record data/<key> holding numel
// elements of dtype.
type storage struct {
	key      string
	dtype    string // safetensors dtype name
	numel    int64
	location string
}

// tensor is a rebuilt tensor: a view of a storage.
type tensor struct {
	st      *storage
	offset  int64
	shape   []int64
	strides []int64
}

// storageTypes maps torch's storage classes to element dtypes.
var storageTypes = map[string]string{
	"FloatStorage":    safetensors.F32,
	"HalfStorage":     safetensors.F16,
	"BFloat16Storage": safetensors.BF16,
	"DoubleStorage":   safetensors.F64,
	"LongStorage":     safetensors.I64,
	"IntStorage":      safetensors.I32,
	"ShortStorage":    safetensors.I16,
	"CharStorage":     safetensors.I8,
	"ByteStorage":     safetensors.U8,
	"BoolStorage":     safetensors.BOOL,
}

// allowedGlobal reports whether module.name is one of the globals the
// restricted unpickler accepts.
func allowedGlobal(module, name string) bool {
	switch module {
	case "collections":
		return name == "OrderedDict"
	case "torch._utils":
		switch name {
		case "_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_parameter", "_rebuild_parameter_with_state":
			return true
		}
	case "torch._tensor":
		return name == "_rebuild_from_type_v2"
	case "torch":
		_, ok := storageTypes[name]
		return ok || name == "Tensor"
	case "torch.nn.parameter":
		return name == "Parameter"
	}
	return false
}

// persistentLoad resolves torch's persistent id
// ("storage", storage_type, key, location, numel) to its storage. The same
// key always names the same storage (tensors sharing it are views).
func (u *unpickler) persistentLoad(at int, pid any) (*storage, error) {
	t, ok := pid.(*pyTuple)
	if !ok || len(t.items) != 5 {
		return nil, u.errf(at, ErrUnsupported, "persistent id is a %s, not torch's 5-tuple (\"storage\", type, key, location, numel)", typeName(pid))
	}
	if tag, _ := t.items[0].(string); tag != "storage" {
		return nil, u.errf(at, ErrUnsupported, "persistent id of kind %v, not \"storage\"", t.items[0])
	}
	g, ok := t.items[1].(*pyGlobal)
	if !ok || g.module != "torch" || storageTypes[g.name] == "" {
		return nil, u.errf(at, ErrCorrupt, "persistent id's storage type is a %s, not a torch storage class", typeName(t.items[1]))
	}
	key, ok := t.items[2].(string)
	if !ok || !validKey(key) {
		return nil, u.errf(at, ErrCorrupt, "storage key %v is not a plain record name", t.items[2])
	}
	loc, ok := t.items[3].(string)
	if !ok || len(loc) > maxKeyLen {
		return nil, u.errf(at, ErrCorrupt, "storage %s: location is a %s, not a device name", key, typeName(t.items[3]))
	}
	numel, ok := t.items[4].(int64)
	if !ok || numel < 0 {
		return nil, u.errf(at, ErrCorrupt, "storage %s: element count %v is not a non-negative int", key, t.items[4])
	}
	st := &storage{key: key, dtype: storageTypes[g.name], numel: numel, location: loc}
	if prev, ok := u.storages[key]; ok {
		if prev.dtype != st.dtype || prev.numel != st.numel {
			return nil, u.errf(at, ErrCorrupt, "storage %s is declared twice, as %d×%s and %d×%s", key, prev.numel, prev.dtype, st.numel, st.dtype)
		}
		return prev, nil
	}
	if len(u.storages) >= maxMemo {
		return nil, u.errf(at, ErrCorrupt, "more than %d storages", maxMemo)
	}
	u.storages[key] = st
	return st, nil
}

// validKey reports whether a storage key is a record name torch writes
// (decimal numbers, in practice): no path separators or dot-dot.
func validKey(k string) bool {
	if k == "" || len(k) > maxKeyLen || k == "." || k == ".." {
		return false
	}
	for _, r := range k {
		ok := r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '_' || r == '-' || r == '.'
		if !ok {
			return false
		}
	}
	return true
}

// reduce applies an allowed callable to its argument tuple.
func (u *unpickler) reduce(at int, fn, args any) (any, error) {
	g, ok := fn.(*pyGlobal)
	if !ok {
		return nil, u.errf(at, ErrCorrupt, "REDUCE calls a %s, not a global", typeName(fn))
	}
	a, ok := args.(*pyTuple)
	if !ok {
		return nil, u.errf(at, ErrCorrupt, "REDUCE arguments are a %s, not a tuple", typeName(args))
	}
	switch g.module + "." + g.name {
	case "collections.OrderedDict":
		if len(a.items) != 0 {
			return nil, u.errf(at, ErrUnsupported, "OrderedDict called with %d arguments", len(a.items))
		}
		return &pyDict{m: map[any]any{}, depth: 1}, nil
	case "torch._utils._rebuild_tensor_v2":
		// (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
		if len(a.items) != 6 && len(a.items) != 7 {
			return nil, u.errf(at, ErrCorrupt, "_rebuild_tensor_v2 takes 6 or 7 arguments, got %d", len(a.items))
		}
		return u.rebuildTensor(at, a.items[:4])
	case "torch._utils._rebuild_tensor":
		if len(a.items) != 4 {
			return nil, u.errf(at, ErrCorrupt, "_rebuild_tensor takes 4 arguments, got %d", len(a.items))
		}
		return u.rebuildTensor(at, a.items)
	case "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state":
		// (data, requires_grad, backward_hooks[, state]): the parameter is its data.
		if len(a.items) < 3 || len(a.items) > 4 {
			return nil, u.errf(at, ErrCorrupt, "%s takes 3 or 4 arguments, got %d", g.name, len(a.items))
		}
		t, ok := a.items[0].(*tensor)
		if !ok {
			return nil, u.errf(at, ErrCorrupt, "%s of a %s, not a tensor", g.name, typeName(a.items[0]))
		}
		return t, nil
	case "torch._tensor._rebuild_from_type_v2":
		return u.rebuildFromType(at, a.items)
	}
	return nil, u.errf(at, ErrForbidden, "global %s.%s cannot be called", g.module, g.name)
}

// rebuildFromType handles _rebuild_from_type_v2(func, new_type, args,
// state), which torch 2 pickles for a tensor carrying Python attributes:
// new_type must be torch.Tensor or torch.nn.Parameter, func one of the
// rebuild functions (not this one again) and the attributes are dropped.
func (u *unpickler) rebuildFromType(at int, a []any) (any, error) {
	if len(a) != 4 {
		return nil, u.errf(at, ErrCorrupt, "_rebuild_from_type_v2 takes 4 arguments, got %d", len(a))
	}
	typ, ok := a[1].(*pyGlobal)
	if !ok || !(typ.module == "torch" && typ.name == "Tensor" || typ.module == "torch.nn.parameter" && typ.name == "Parameter") {
		return nil, u.errf(at, ErrUnsupported, "_rebuild_from_type_v2 of a %s, not torch.Tensor or torch.nn.Parameter", typeName(a[1]))
	}
	fn, ok := a[0].(*pyGlobal)
	if !ok || fn.module != "torch._utils" {
		return nil, u.errf(at, ErrUnsupported, "_rebuild_from_type_v2 with a %s, not a torch._utils rebuild function", typeName(a[0]))
	}
	v, err := u.reduce(at, fn, a[2])
	if err != nil {
		return nil, err
	}
	if _, ok := v.(*tensor); !ok {
		return nil, u.errf(at, ErrCorrupt, "_rebuild_from_type_v2 rebuilt a %s, not a tensor", typeName(v))
	}
	return v, nil
}

// rebuildTensor checks _rebuild_tensor's (storage, offset, size, stride)
// types; check, run once the tensor's name is known, checks the values.
func (u *unpickler) rebuildTensor(at int, a []any) (*tensor, error) {
	st, ok := a[0].(*storage)
	if !ok {
		return nil, u.errf(at, ErrCorrupt, "tensor storage is a %s, not a storage", typeName(a[0]))
	}
	off, ok := a[1].(int64)
	if !ok {
		return nil, u.errf(at, ErrCorrupt, "tensor storage offset is a %s, not an int", typeName(a[1]))
	}
	shape, err := u.ints(at, "size", a[2])
	if err != nil {
		return nil, err
	}
	strides, err := u.ints(at, "stride", a[3])
	if err != nil {
		return nil, err
	}
	return &tensor{st: st, offset: off, shape: shape, strides: strides}, nil
}

// ints reads a tuple of ints (a tensor's size or stride).
func (u *unpickler) ints(at int, what string, v any) ([]int64, error) {
	t, ok := v.(*pyTuple)
	if !ok {
		return nil, u.errf(at, ErrCorrupt, "tensor %s is a %s, not a tuple", what, typeName(v))
	}
	if len(t.items) > maxRank {
		return nil, u.errf(at, ErrUnsupported, "tensor %s has %d dimensions, more than %d", what, len(t.items), maxRank)
	}
	out := make([]int64, len(t.items))
	for i, it := range t.items {
		n, ok := it.(int64)
		if !ok {
			return nil, u.errf(at, ErrCorrupt, "tensor %s[%d] is a %s, not an int", what, i, typeName(it))
		}
		out[i] = n
	}
	return out, nil
}

// build applies BUILD's state. Only an OrderedDict's attribute dict (the
// state dict's _metadata) is expected; it is dropped.
func (u *unpickler) build(at int, obj, state any) error {
	if _, ok := obj.(*pyDict); !ok {
		return u.errf(at, ErrUnsupported, "BUILD on a %s", typeName(obj))
	}
	switch state.(type) {
	case nil, *pyDict, *pyTuple:
		return nil
	}
	return u.errf(at, ErrCorrupt, "BUILD with a %s state", typeName(state))
}

// check validates a tensor's view against its storage: non-negative
// sizes, strides and offset, at most as many elements as the storage,
// every addressed element inside it.
func (t *tensor) check() error {
	if len(t.shape) != len(t.strides) {
		return fmt.Errorf("size %v and stride %v differ in rank: %w", t.shape, t.strides, ErrCorrupt)
	}
	if t.offset < 0 {
		return fmt.Errorf("negative storage offset %d: %w", t.offset, ErrCorrupt)
	}
	numel := int64(1)
	last := t.offset // highest element index addressed
	for i, n := range t.shape {
		s := t.strides[i]
		if n < 0 {
			return fmt.Errorf("negative size %d in dimension %d: %w", n, i, ErrCorrupt)
		}
		if s < 0 {
			return fmt.Errorf("negative stride %d in dimension %d: %w", s, i, ErrCorrupt)
		}
		if n == 0 {
			numel = 0
			continue
		}
		if numel > 0 && n > math.MaxInt64/numel {
			return fmt.Errorf("size %v overflows the element count: %w", t.shape, ErrCorrupt)
		}
		if numel > 0 {
			numel *= n
		}
		if s > 0 && (n-1) > (math.MaxInt64-last)/s {
			return fmt.Errorf("size %v with stride %v overflows the storage index: %w", t.shape, t.strides, ErrCorrupt)
		}
		last += (n - 1) * s
	}
	if numel == 0 {
		return nil
	}
	if numel > t.st.numel {
		return fmt.Errorf("view of %d elements (size %v) is larger than its storage %s of %d (expanded tensors are not supported; save .contiguous() ones): %w",
			numel, t.shape, t.st.key, t.st.numel, ErrCorrupt)
	}
	if last >= t.st.numel {
		return fmt.Errorf("view (offset %d, size %v, stride %v) reaches element %d of storage %s, which holds %d: %w",
			t.offset, t.shape, t.strides, last, t.st.key, t.st.numel, ErrCorrupt)
	}
	return nil
}

// numel returns the element count of a checked tensor.
func (t *tensor) numel() int64 {
	n := int64(1)
	for _, d := range t.shape {
		n *= d
	}
	return n
}

// contiguous reports whether the view is row-major contiguous (dimensions
// of size 1 may have any stride).
func (t *tensor) contiguous() bool {
	want := int64(1)
	for i := len(t.shape) - 1; i >= 0; i-- {
		if t.shape[i] == 1 {
			continue
		}
		if t.strides[i] != want {
			return false
		}
		want *= t.shape[i]
	}
	return true
}
