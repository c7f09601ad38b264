package safetensors

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
)

// WriteSharded saves a checkpoint into dir as transformers does: a single
// model.safetensors when everything fits in maxShardBytes, otherwise
// model-0000i-of-0000N.safetensors shards filled greedily in the given
// tensor order (a tensor larger than the limit gets a shard of its own)
// plus model.safetensors.index.json mapping every name to its shard. Each
// file is written atomically and the index last, so a reader never sees
// an index naming a shard that is not complete.
func WriteSharded(dir string, tensors []Tensor, metadata map[string]string, maxShardBytes int64) error {
	if maxShardBytes <= 0 {
		return fmt.Errorf("safetensors: write sharded %s: shard limit %d must be positive", dir, maxShardBytes)
	}
	var shards [][]Tensor
	var cur []Tensor
	var curSize, total int64
	for _, t := range tensors {
		n := int64(len(t.Data))
		if len(cur) > 0 && curSize+n > maxShardBytes {
			shards = append(shards, cur)
			cur, curSize = nil, 0
		}
		cur = append(cur, t)
		curSize += n
		total += n
	}
	if len(cur) > 0 || len(shards) == 0 {
		shards = append(shards, cur)
	}
	if len(shards) == 1 {
		return Write(filepath.Join(dir, SingleFileName), tensors, metadata)
	}
	weightMap := map[string]string{}
	for i, shard := range shards {
		name := fmt.Sprintf("model-%05d-of-%05d.safetensors", i+1, len(shards))
		if err := Write(filepath.Join(dir, name), shard, metadata); err != nil {
			return err
		}
		for _, t := range shard {
			weightMap[t.Name] = name
		}
	}
	idx := map[string]any{"metadata": map[string]any{"total_size": total}, "weight_map": weightMap}
	body, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return fmt.Errorf("safetensors: write sharded %s: encode index: %w", dir, err)
	}
	path := filepath.Join(dir, IndexFileName)
	return writeAtomic(path, func(w io.Writer) error {
		_, err := w.Write(append(body, '\n'))
		return err
	})
}
