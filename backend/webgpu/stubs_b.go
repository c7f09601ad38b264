package webgpu

import "errors"

// errNotImplemented is what the placeholder operations of stubs_a.go
// return. Every operation of helper B (norm, softmax, rope, kv, gather,
// cross_entropy) is implemented; this file goes when stubs_a.go does.
var errNotImplemented = errors.New("webgpu: not implemented")
