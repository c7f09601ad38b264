// Package torchbin reads the checkpoints torch.save writes
// (pytorch_model.bin and its sharded form) without executing anything.
//
// Since torch 1.6 torch.save writes a zip archive: <dir>/data.pkl is a
// pickle of the state dict whose tensors refer, through persistent ids
// ("storage", torch.FloatStorage, key, location, numel), to raw
// little-endian storages stored as <dir>/data/<key>; <dir> is the file
// stem ("archive" when saved to a buffer). A pickle may name any Python
// callable, so loading one with Python's pickle runs code. This package
// reads the pickle with a restricted unpickler of its own: it knows the
// opcodes torch emits and rebuilds only dicts, tuples, lists, scalars and
// tensors. The only globals it accepts are collections.OrderedDict,
// torch._utils' tensor and parameter rebuild functions, and torch's
// storage classes; every other global is refused with an error naming it
// (ErrForbidden) before anything else happens.
//
// Every size read from the file is bounded: the pickle's length, its
// stack, mark and memo use, nesting depth, tensor rank, and each view is
// checked to lie inside its storage, whose record must hold exactly the
// bytes its persistent id declares. A hostile or truncated file is an
// error naming the file and the tensor, never a panic or a huge
// allocation. Views (storage offsets, strides, several tensors on one
// storage such as tied weights) are copied out contiguous.
//
// Open reads one file; OpenDir opens a model directory's pytorch_model.bin
// or the shards listed in pytorch_model.bin.index.json as a
// safetensors.Checkpoint, so model loading reads either format through
// the same accessors. The legacy pre-1.6 format (a bare pickle stream) is
// refused with ErrLegacy.
package torchbin
