//go:build cgo && !nowebgpu

package gpu

import (
	"fmt"

	"github.com/rajveermalviya/go-webgpu/wgpu"
)

// maxCachedBindings is the most storage bindings a cached bind group has;
// dispatches with more create a bind group each time.
const maxCachedBindings = 12

// maxCachedGroups bounds the cache; past it the cache is emptied.
const maxCachedGroups = 4096

// bindKey identifies a bind group: the pipeline, the size of the parameter
// window (its offset in the arena is dynamic) and each storage range.
type bindKey struct {
	p      *Pipeline
	psize  uint64
	n      int
	ranges [maxCachedBindings]bindRange
}

type bindRange struct {
	buf          *Buffer
	offset, size uint64
}

// bindCache reuses bind groups across dispatches: a training step binds the
// same pooled buffers to the same kernels again and again. The parameter
// uniform is bound with a dynamic offset into the arena, so one bind group
// serves every dispatch over the same buffers.
type bindCache struct {
	groups  map[bindKey]*wgpu.BindGroup
	byBuf   map[*Buffer][]bindKey
	created uint64 // bind groups created, for tests
}

func (c *bindCache) init() {
	c.groups = map[bindKey]*wgpu.BindGroup{}
	c.byBuf = map[*Buffer][]bindKey{}
}

// get returns the bind group for key, creating it from entries on a miss.
// Bind groups of uncacheable keys (too many bindings) go to the batch, to be
// released after submission.
func (d *Device) bindGroup(key bindKey, cacheable bool, entries []wgpu.BindGroupEntry) (*wgpu.BindGroup, error) {
	c := &d.binds
	if cacheable {
		if bg, ok := c.groups[key]; ok {
			return bg, nil
		}
	}
	bg, err := d.raw.CreateBindGroup(&wgpu.BindGroupDescriptor{Label: key.p.name, Layout: key.p.bgl, Entries: entries})
	if err != nil {
		return nil, fmt.Errorf("gpu: binding %s: %w", key.p.name, err)
	}
	c.created++
	if !cacheable {
		d.batch.groups = append(d.batch.groups, bg)
		return bg, nil
	}
	if len(c.groups) >= maxCachedGroups {
		c.evictAll(&d.batch)
	}
	c.groups[key] = bg
	for i := 0; i < key.n; i++ {
		buf := key.ranges[i].buf
		c.byBuf[buf] = append(c.byBuf[buf], key)
	}
	return bg, nil
}

// Evicted bind groups are not released at once but handed to the batch,
// which releases them after its submission: wgpu-native 0.17 resolves a
// compute pass's bind groups when the pass ends, and aborts if one was
// released before.

// forget evicts the cached bind groups that bind buf, before it is
// destroyed.
func (c *bindCache) forget(buf *Buffer, b *batch) {
	for _, k := range c.byBuf[buf] {
		if bg, ok := c.groups[k]; ok {
			b.groups = append(b.groups, bg)
			delete(c.groups, k)
		}
	}
	delete(c.byBuf, buf)
}

// evictAll evicts every cached bind group.
func (c *bindCache) evictAll(b *batch) {
	for _, bg := range c.groups {
		b.groups = append(b.groups, bg)
	}
	c.init()
}

// release releases every cached bind group; only when nothing is recorded.
func (c *bindCache) release() {
	for _, bg := range c.groups {
		bg.Release()
	}
	c.init()
}
