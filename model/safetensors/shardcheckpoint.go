package safetensors

import "path/filepath"

// FromShard makes a one-file checkpoint of an open shard of any format (a
// GGUF file read by package gguf, say), so that model loading reads it
// like model.safetensors. Closing the checkpoint closes the shard.
func FromShard(s Shard) *Checkpoint {
	dir, file := filepath.Split(s.Path())
	var meta map[string]string
	if m, ok := s.(interface{ Metadata() map[string]string }); ok {
		meta = m.Metadata()
	}
	c := &Checkpoint{dir: filepath.Clean(dir), single: file, shards: map[string]Shard{file: s},
		owner: map[string]Shard{}, names: s.Names(), metadata: meta}
	for _, n := range c.names {
		c.owner[n] = s
	}
	return c
}
