package torchbin

import "github.com/ia3/ia3/model/safetensors"

// Standard file names of a checkpoint that transformers saved with
// safe_serialization=False.
const (
	SingleFileName = "pytorch_model.bin"
	IndexFileName  = "pytorch_model.bin.index.json"
)

// OpenDir opens the torch checkpoint in dir: the shards listed in
// pytorch_model.bin.index.json when present (its weight_map read as
// safetensors.OpenDir reads model.safetensors.index.json), otherwise
// pytorch_model.bin. A missing checkpoint wraps fs.ErrNotExist.
func OpenDir(dir string) (*safetensors.Checkpoint, error) {
	return safetensors.OpenIndexed(dir, IndexFileName, SingleFileName, "torchbin", OpenShard)
}

// OpenShard is Open returning the safetensors.Shard interface (and a nil
// interface on error), for readers that take either format.
func OpenShard(path string) (safetensors.Shard, error) {
	f, err := Open(path)
	if err != nil {
		return nil, err
	}
	return f, nil
}
