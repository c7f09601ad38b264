package torchbin

import (
	"encoding/binary"
	"fmt"
	"math"
	"unicode/utf8"
)

// Bounds on what a pickle may make the unpickler hold. Real state dicts
// stay far below them: torch spends about a hundred pickle bytes per
// tensor, and containers nest three levels deep.
const (
	// MaxPickleSize bounds data.pkl's length.
	MaxPickleSize = 64 << 20
	// maxStack bounds the number of values on the stack at once.
	maxStack = 1 << 20
	// maxMarks bounds the MARKs open at once.
	maxMarks = 64
	// maxDepth bounds how deeply containers nest.
	maxDepth = 64
	// maxMemo bounds memo indices (BINPUT / LONG_BINPUT / MEMOIZE).
	maxMemo = 1 << 22
	// maxRank bounds a tensor's number of dimensions (torch allows 64).
	maxRank = 64
	// maxKeyLen bounds a storage key or location string.
	maxKeyLen = 256
)

// Pickle opcodes torch.save emits (protocol 2), plus the few of later
// protocols a re-pickled file may carry.
const (
	opMark           = '('
	opStop           = '.'
	opPop            = '0'
	opPopMark        = '1'
	opDup            = '2'
	opBinFloat       = 'G'
	opBinInt         = 'J'
	opBinInt1        = 'K'
	opBinInt2        = 'M'
	opNone           = 'N'
	opBinPersID      = 'Q'
	opReduce         = 'R'
	opBinString      = 'T'
	opShortBinString = 'U'
	opBinUnicode     = 'X'
	opAppend         = 'a'
	opBuild          = 'b'
	opGlobal         = 'c'
	opAppends        = 'e'
	opBinGet         = 'h'
	opLongBinGet     = 'j'
	opEmptyList      = ']'
	opBinPut         = 'q'
	opLongBinPut     = 'r'
	opSetItem        = 's'
	opTuple          = 't'
	opSetItems       = 'u'
	opEmptyDict      = '}'
	opEmptyTuple     = ')'
	opProto          = 0x80
	opTuple1         = 0x85
	opTuple2         = 0x86
	opTuple3         = 0x87
	opNewTrue        = 0x88
	opNewFalse       = 0x89
	opLong1          = 0x8a
	opLong4          = 0x8b
	opShortBinUni    = 0x8c
	opBinUnicode8    = 0x8d
	opStackGlobal    = 0x93
	opMemoize        = 0x94
	opFrame          = 0x95
)

// Values the unpickler builds. Scalars are int64, float64, bool, string
// and nil; containers are pointers so that memo references share them.
type (
	pyTuple struct {
		items []any
		depth int
	}
	pyList struct {
		items []any
		depth int
	}
	pyDict struct {
		keys  []any // insertion order
		m     map[any]any
		depth int
	}
	// pyGlobal is an allowed global, named module.name.
	pyGlobal struct{ module, name string }
)

// entry is one name → tensor pair of the unpickled state dict, in the
// pickle's order.
type entry struct {
	name string
	t    *tensor
}

// unpickler is the state of one restricted unpickling run.
type unpickler struct {
	data     []byte
	pos      int
	stack    []any
	marks    [][]any
	memo     map[uint32]any
	storages map[string]*storage
}

// unpickle reads a torch state dict pickle: a dict (or OrderedDict) from
// names to tensors. Errors give the byte offset in the pickle and wrap
// ErrForbidden, ErrCorrupt or ErrUnsupported.
func unpickle(data []byte) ([]entry, error) {
	if len(data) > MaxPickleSize {
		return nil, fmt.Errorf("pickle of %d bytes exceeds the %d-byte limit: %w", len(data), MaxPickleSize, ErrCorrupt)
	}
	u := &unpickler{data: data, memo: map[uint32]any{}, storages: map[string]*storage{}}
	v, err := u.run()
	if err != nil {
		return nil, err
	}
	d, ok := v.(*pyDict)
	if !ok {
		return nil, fmt.Errorf("the pickle holds a %s, not a state dict (a dict of tensors): %w", typeName(v), ErrUnsupported)
	}
	out := make([]entry, 0, len(d.keys))
	for _, k := range d.keys {
		name, ok := k.(string)
		if !ok {
			return nil, fmt.Errorf("state dict key %v is a %s, not a string: %w", k, typeName(k), ErrUnsupported)
		}
		t, ok := d.m[k].(*tensor)
		if !ok {
			return nil, fmt.Errorf("state dict entry %q is a %s, not a tensor: %w", name, typeName(d.m[k]), ErrUnsupported)
		}
		if err := t.check(); err != nil {
			return nil, fmt.Errorf("tensor %q: %w", name, err)
		}
		out = append(out, entry{name: name, t: t})
	}
	return out, nil
}

// typeName names a value's Python type for messages.
func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "None"
	case int64:
		return "int"
	case float64:
		return "float"
	case bool:
		return "bool"
	case string:
		return "str"
	case *pyTuple:
		return "tuple"
	case *pyList:
		return "list"
	case *pyDict:
		return "dict"
	case *pyGlobal:
		return "global"
	case *storage:
		return "storage"
	case *tensor:
		return "tensor"
	}
	return fmt.Sprintf("%T", v)
}

// errf returns an error at the current opcode's offset wrapping kind.
func (u *unpickler) errf(at int, kind error, format string, args ...any) error {
	return fmt.Errorf("pickle offset %d: %s: %w", at, fmt.Sprintf(format, args...), kind)
}

// take consumes n bytes of argument.
func (u *unpickler) take(at, n int) ([]byte, error) {
	if n < 0 || n > len(u.data)-u.pos {
		return nil, u.errf(at, ErrCorrupt, "truncated: opcode needs %d more bytes, %d remain", n, len(u.data)-u.pos)
	}
	b := u.data[u.pos : u.pos+n]
	u.pos += n
	return b, nil
}

// line consumes a newline-terminated argument (GLOBAL's module and name).
func (u *unpickler) line(at int) (string, error) {
	for i := u.pos; i < len(u.data) && i-u.pos <= maxKeyLen; i++ {
		if u.data[i] == '\n' {
			s := string(u.data[u.pos:i])
			u.pos = i + 1
			return s, nil
		}
	}
	if len(u.data)-u.pos <= maxKeyLen {
		return "", u.errf(at, ErrCorrupt, "truncated: GLOBAL argument lacks its newline")
	}
	return "", u.errf(at, ErrCorrupt, "GLOBAL argument lacks its newline within %d bytes", maxKeyLen)
}

// push puts v on the stack.
func (u *unpickler) push(at int, v any) error {
	if len(u.stack) >= maxStack {
		return u.errf(at, ErrCorrupt, "stack exceeds %d values", maxStack)
	}
	u.stack = append(u.stack, v)
	return nil
}

// pop removes the top value.
func (u *unpickler) pop(at int) (any, error) {
	if len(u.stack) == 0 {
		return nil, u.errf(at, ErrCorrupt, "stack underflow")
	}
	v := u.stack[len(u.stack)-1]
	u.stack = u.stack[:len(u.stack)-1]
	return v, nil
}

// top returns the top value without removing it.
func (u *unpickler) top(at int) (any, error) {
	if len(u.stack) == 0 {
		return nil, u.errf(at, ErrCorrupt, "stack underflow")
	}
	return u.stack[len(u.stack)-1], nil
}

// popMark returns the values pushed since the last MARK and restores the
// stack below it.
func (u *unpickler) popMark(at int) ([]any, error) {
	if len(u.marks) == 0 {
		return nil, u.errf(at, ErrCorrupt, "no MARK to pop to")
	}
	items := u.stack
	u.stack = u.marks[len(u.marks)-1]
	u.marks = u.marks[:len(u.marks)-1]
	return items, nil
}

// depthOf returns how deeply v's containers nest (0 for a scalar).
func depthOf(v any) int {
	switch x := v.(type) {
	case *pyTuple:
		return x.depth
	case *pyList:
		return x.depth
	case *pyDict:
		return x.depth
	}
	return 0
}

// deeper returns the depth of a container holding items, refusing one
// past maxDepth.
func (u *unpickler) deeper(at, cur int, items ...any) (int, error) {
	for _, it := range items {
		cur = max(cur, depthOf(it)+1)
	}
	if cur > maxDepth {
		return 0, u.errf(at, ErrCorrupt, "containers nest more than %d deep", maxDepth)
	}
	return cur, nil
}

// tuple builds a tuple of items.
func (u *unpickler) tuple(at int, items []any) (*pyTuple, error) {
	d, err := u.deeper(at, 1, items...)
	if err != nil {
		return nil, err
	}
	return &pyTuple{items: items, depth: d}, nil
}

// hashable reports whether v may be a dict key here (scalars only).
func hashable(v any) bool {
	switch v.(type) {
	case nil, int64, float64, bool, string:
		return true
	}
	return false
}

// setItems stores key/value pairs into the dict d.
func (u *unpickler) setItems(at int, target any, kv []any) error {
	d, ok := target.(*pyDict)
	if !ok {
		return u.errf(at, ErrCorrupt, "SETITEM(S) on a %s, not a dict", typeName(target))
	}
	if len(kv)%2 != 0 {
		return u.errf(at, ErrCorrupt, "SETITEMS with an odd number (%d) of keys and values", len(kv))
	}
	for i := 0; i < len(kv); i += 2 {
		k, v := kv[i], kv[i+1]
		if !hashable(k) {
			return u.errf(at, ErrUnsupported, "dict key of type %s", typeName(k))
		}
		depth, err := u.deeper(at, d.depth, v)
		if err != nil {
			return err
		}
		d.depth = depth
		if _, seen := d.m[k]; !seen {
			d.keys = append(d.keys, k)
		}
		d.m[k] = v
	}
	return nil
}

// appendItems appends values to the list l.
func (u *unpickler) appendItems(at int, target any, items []any) error {
	l, ok := target.(*pyList)
	if !ok {
		return u.errf(at, ErrCorrupt, "APPEND(S) on a %s, not a list", typeName(target))
	}
	depth, err := u.deeper(at, l.depth, items...)
	if err != nil {
		return err
	}
	l.depth = depth
	if len(l.items)+len(items) > maxStack {
		return u.errf(at, ErrCorrupt, "list exceeds %d items", maxStack)
	}
	l.items = append(l.items, items...)
	return nil
}

// memoPut stores the top of the stack at index i.
func (u *unpickler) memoPut(at int, i uint32) error {
	if i >= maxMemo {
		return u.errf(at, ErrCorrupt, "memo index %d exceeds the %d limit", i, maxMemo)
	}
	v, err := u.top(at)
	if err != nil {
		return err
	}
	u.memo[i] = v
	return nil
}

// memoGet pushes the value stored at index i.
func (u *unpickler) memoGet(at int, i uint32) error {
	v, ok := u.memo[i]
	if !ok {
		return u.errf(at, ErrCorrupt, "memo index %d was never stored", i)
	}
	return u.push(at, v)
}

// global resolves a GLOBAL / STACK_GLOBAL reference, refusing all but
// the allowed few.
func (u *unpickler) global(at int, module, name string) (*pyGlobal, error) {
	if !allowedGlobal(module, name) {
		return nil, u.errf(at, ErrForbidden, "global %s.%s is not allowed (only tensors are rebuilt; no code is run)", module, name)
	}
	return &pyGlobal{module: module, name: name}, nil
}

// str decodes a pickled string argument, which must be UTF-8.
func (u *unpickler) str(at int, b []byte) (string, error) {
	if !utf8.Valid(b) {
		return "", u.errf(at, ErrCorrupt, "string is not valid UTF-8")
	}
	return string(b), nil
}

// long decodes LONG1/LONG4's little-endian two's complement integer,
// refusing one wider than int64.
func (u *unpickler) long(at int, b []byte) (int64, error) {
	if len(b) > 8 {
		return 0, u.errf(at, ErrUnsupported, "%d-byte integer does not fit int64", len(b))
	}
	if len(b) == 0 {
		return 0, nil
	}
	var buf [8]byte
	copy(buf[:], b)
	if b[len(b)-1]&0x80 != 0 {
		for i := len(b); i < 8; i++ {
			buf[i] = 0xff
		}
	}
	return int64(binary.LittleEndian.Uint64(buf[:])), nil
}

// run executes opcodes until STOP and returns the pickled value.
func (u *unpickler) run() (any, error) {
	for {
		at := u.pos
		if u.pos >= len(u.data) {
			return nil, u.errf(at, ErrCorrupt, "truncated: no STOP opcode")
		}
		op := u.data[u.pos]
		u.pos++
		if op == opStop {
			v, err := u.pop(at)
			if err != nil {
				return nil, err
			}
			return v, nil
		}
		if err := u.step(at, op); err != nil {
			return nil, err
		}
	}
}

// step executes one opcode (other than STOP) found at offset at.
func (u *unpickler) step(at int, op byte) error {
	switch op {
	case opProto:
		b, err := u.take(at, 1)
		if err != nil {
			return err
		}
		if b[0] > 5 {
			return u.errf(at, ErrUnsupported, "pickle protocol %d", b[0])
		}
		return nil
	case opFrame:
		_, err := u.take(at, 8) // frames only group opcodes; the data is already in memory
		return err
	case opMark:
		if len(u.marks) >= maxMarks {
			return u.errf(at, ErrCorrupt, "more than %d MARKs open", maxMarks)
		}
		u.marks = append(u.marks, u.stack)
		u.stack = make([]any, 0, 8)
		return nil
	case opPop:
		_, err := u.pop(at)
		return err
	case opPopMark:
		_, err := u.popMark(at)
		return err
	case opDup:
		v, err := u.top(at)
		if err != nil {
			return err
		}
		return u.push(at, v)
	case opNone:
		return u.push(at, nil)
	case opNewTrue:
		return u.push(at, true)
	case opNewFalse:
		return u.push(at, false)
	case opBinInt:
		b, err := u.take(at, 4)
		if err != nil {
			return err
		}
		return u.push(at, int64(int32(binary.LittleEndian.Uint32(b))))
	case opBinInt1:
		b, err := u.take(at, 1)
		if err != nil {
			return err
		}
		return u.push(at, int64(b[0]))
	case opBinInt2:
		b, err := u.take(at, 2)
		if err != nil {
			return err
		}
		return u.push(at, int64(binary.LittleEndian.Uint16(b)))
	case opLong1, opLong4:
		var n int
		if op == opLong1 {
			b, err := u.take(at, 1)
			if err != nil {
				return err
			}
			n = int(b[0])
		} else {
			b, err := u.take(at, 4)
			if err != nil {
				return err
			}
			n = int(int32(binary.LittleEndian.Uint32(b)))
		}
		b, err := u.take(at, n)
		if err != nil {
			return err
		}
		v, err := u.long(at, b)
		if err != nil {
			return err
		}
		return u.push(at, v)
	case opBinFloat:
		b, err := u.take(at, 8)
		if err != nil {
			return err
		}
		return u.push(at, math.Float64frombits(binary.BigEndian.Uint64(b)))
	case opBinUnicode, opBinString, opShortBinUni, opShortBinString, opBinUnicode8:
		return u.stringOp(at, op)
	case opEmptyTuple:
		return u.push(at, &pyTuple{depth: 1})
	case opEmptyList:
		return u.push(at, &pyList{depth: 1})
	case opEmptyDict:
		return u.push(at, &pyDict{m: map[any]any{}, depth: 1})
	case opTuple:
		items, err := u.popMark(at)
		if err != nil {
			return err
		}
		t, err := u.tuple(at, items)
		if err != nil {
			return err
		}
		return u.push(at, t)
	case opTuple1, opTuple2, opTuple3:
		n := int(op-opTuple1) + 1
		if len(u.stack) < n {
			return u.errf(at, ErrCorrupt, "stack underflow: TUPLE%d needs %d values", n, n)
		}
		items := append([]any(nil), u.stack[len(u.stack)-n:]...)
		u.stack = u.stack[:len(u.stack)-n]
		t, err := u.tuple(at, items)
		if err != nil {
			return err
		}
		return u.push(at, t)
	case opAppend:
		v, err := u.pop(at)
		if err != nil {
			return err
		}
		l, err := u.top(at)
		if err != nil {
			return err
		}
		return u.appendItems(at, l, []any{v})
	case opAppends:
		items, err := u.popMark(at)
		if err != nil {
			return err
		}
		l, err := u.top(at)
		if err != nil {
			return err
		}
		return u.appendItems(at, l, items)
	case opSetItem:
		if len(u.stack) < 3 {
			return u.errf(at, ErrCorrupt, "stack underflow: SETITEM needs a dict, a key and a value")
		}
		kv := append([]any(nil), u.stack[len(u.stack)-2:]...)
		u.stack = u.stack[:len(u.stack)-2]
		return u.setItems(at, u.stack[len(u.stack)-1], kv)
	case opSetItems:
		kv, err := u.popMark(at)
		if err != nil {
			return err
		}
		d, err := u.top(at)
		if err != nil {
			return err
		}
		return u.setItems(at, d, kv)
	case opBinPut:
		b, err := u.take(at, 1)
		if err != nil {
			return err
		}
		return u.memoPut(at, uint32(b[0]))
	case opLongBinPut:
		b, err := u.take(at, 4)
		if err != nil {
			return err
		}
		return u.memoPut(at, binary.LittleEndian.Uint32(b))
	case opMemoize:
		return u.memoPut(at, uint32(len(u.memo)))
	case opBinGet:
		b, err := u.take(at, 1)
		if err != nil {
			return err
		}
		return u.memoGet(at, uint32(b[0]))
	case opLongBinGet:
		b, err := u.take(at, 4)
		if err != nil {
			return err
		}
		return u.memoGet(at, binary.LittleEndian.Uint32(b))
	case opGlobal:
		module, err := u.line(at)
		if err != nil {
			return err
		}
		name, err := u.line(at)
		if err != nil {
			return err
		}
		g, err := u.global(at, module, name)
		if err != nil {
			return err
		}
		return u.push(at, g)
	case opStackGlobal:
		name, err := u.pop(at)
		if err != nil {
			return err
		}
		module, err := u.pop(at)
		if err != nil {
			return err
		}
		ms, ok1 := module.(string)
		ns, ok2 := name.(string)
		if !ok1 || !ok2 {
			return u.errf(at, ErrCorrupt, "STACK_GLOBAL needs two strings, got %s and %s", typeName(module), typeName(name))
		}
		g, err := u.global(at, ms, ns)
		if err != nil {
			return err
		}
		return u.push(at, g)
	case opBinPersID:
		pid, err := u.pop(at)
		if err != nil {
			return err
		}
		st, err := u.persistentLoad(at, pid)
		if err != nil {
			return err
		}
		return u.push(at, st)
	case opReduce:
		args, err := u.pop(at)
		if err != nil {
			return err
		}
		fn, err := u.pop(at)
		if err != nil {
			return err
		}
		v, err := u.reduce(at, fn, args)
		if err != nil {
			return err
		}
		return u.push(at, v)
	case opBuild:
		state, err := u.pop(at)
		if err != nil {
			return err
		}
		obj, err := u.top(at)
		if err != nil {
			return err
		}
		return u.build(at, obj, state)
	}
	return u.errf(at, ErrUnsupported, "opcode 0x%02x (%q) is not one torch.save emits", op, rune(op))
}

// stringOp reads one of the string opcodes' length-prefixed argument.
func (u *unpickler) stringOp(at int, op byte) error {
	var n uint64
	switch op {
	case opShortBinUni, opShortBinString:
		b, err := u.take(at, 1)
		if err != nil {
			return err
		}
		n = uint64(b[0])
	case opBinUnicode, opBinString:
		b, err := u.take(at, 4)
		if err != nil {
			return err
		}
		n = uint64(binary.LittleEndian.Uint32(b))
		if op == opBinString && int32(n) < 0 {
			return u.errf(at, ErrCorrupt, "negative string length %d", int32(n))
		}
	case opBinUnicode8:
		b, err := u.take(at, 8)
		if err != nil {
			return err
		}
		n = binary.LittleEndian.Uint64(b)
	}
	if n > uint64(len(u.data)-u.pos) {
		return u.errf(at, ErrCorrupt, "truncated: string of %d bytes, %d remain", n, len(u.data)-u.pos)
	}
	b, _ := u.take(at, int(n))
	s, err := u.str(at, b)
	if err != nil {
		return err
	}
	return u.push(at, s)
}
