package model

import (
	"errors"
	"fmt"
	"slices"

	"github.com/ia3/ia3/backend"
)

// Rows returns the number of sequences (batch rows) the cache holds.
func (c *KVCache) Rows() int { return c.batch }

// AppendRows moves every row of other after c's rows, so that sequences
// prefilled on their own can join a batch that is already decoding. The
// shorter history is left-padded with masked zero keys and values, as
// Generate left-pads prompts, so each row keeps decoding as it would alone
// (pass NextPositions as position ids). other is empty afterwards. Only
// causal LM caches can be joined; on error c is unchanged.
func (c *KVCache) AppendRows(other *KVCache) error {
	if other == nil || other == c {
		return errors.New("kv cache: append rows: need another cache")
	}
	if c.cross0() || other.cross0() {
		return errors.New("kv cache: append rows: encoder-decoder (T5) caches cannot be joined")
	}
	if len(c.self) != len(other.self) {
		return fmt.Errorf("kv cache: append rows: %d layers and %d layers come from different models", len(c.self), len(other.self))
	}
	if other.batch == 0 {
		return nil
	}
	if other.n == 0 {
		return errors.New("kv cache: append rows: the rows to append hold no tokens yet")
	}
	if c.batch == 0 || c.n == 0 {
		if c.batch > 0 {
			return errors.New("kv cache: append rows: this cache has rows but no tokens")
		}
		c.batch, c.n, c.mask, c.self = other.batch, other.n, other.mask, other.self
		other.batch, other.n, other.mask, other.self = 0, 0, nil, make([]kvPair, len(c.self))
		return nil
	}
	n := max(c.n, other.n)
	self := make([]kvPair, len(c.self))
	fail := func(err error) error {
		for _, p := range self {
			c.b.Free(p.k)
			c.b.Free(p.v)
		}
		return fmt.Errorf("kv cache: append rows: %w", err)
	}
	for l := range c.self {
		var err error
		if self[l].k, err = c.joinRows(c.self[l].k, c.n, other.self[l].k, other.n, n); err != nil {
			return fail(fmt.Errorf("layer %d keys: %w", l, err))
		}
		if self[l].v, err = c.joinRows(c.self[l].v, c.n, other.self[l].v, other.n, n); err != nil {
			return fail(fmt.Errorf("layer %d values: %w", l, err))
		}
	}
	mask := make([][]float32, 0, c.batch+other.batch)
	for _, m := range c.mask {
		mask = append(mask, padMaskLeft(m, n))
	}
	for _, m := range other.mask {
		mask = append(mask, padMaskLeft(m, n))
	}
	for l := range c.self {
		c.b.Free(c.self[l].k)
		c.b.Free(c.self[l].v)
	}
	batch := c.batch + other.batch
	other.Free()
	other.batch, other.mask = 0, nil
	c.self, c.mask, c.n, c.batch = self, mask, n, batch
	return nil
}

// cross0 reports whether the cache holds T5 cross-attention state.
func (c *KVCache) cross0() bool {
	return c.encMask != nil || (len(c.cross) > 0 && c.cross[0].k != nil)
}

// joinRows concatenates a [Ba, H, na, D] and b [Bb, H, nb, D] along the
// batch after left-padding each to n positions with zeros.
func (c *KVCache) joinRows(a backend.Tensor, na int, b backend.Tensor, nb int, n int) (backend.Tensor, error) {
	pa, err := c.padLeft(a, n-na)
	if err != nil {
		return nil, err
	}
	if pa != a {
		defer c.b.Free(pa)
	}
	pb, err := c.padLeft(b, n-nb)
	if err != nil {
		return nil, err
	}
	if pb != b {
		defer c.b.Free(pb)
	}
	return c.b.Concat(0, pa, pb)
}

// padLeft returns t [B, H, n, D] with extra zero positions in front, or t
// itself when extra is 0.
func (c *KVCache) padLeft(t backend.Tensor, extra int) (backend.Tensor, error) {
	if extra == 0 {
		return t, nil
	}
	s := t.Shape()
	z, err := c.b.Zeros(s[0], s[1], extra, s[3])
	if err != nil {
		return nil, err
	}
	defer c.b.Free(z)
	return c.b.Concat(2, z, t)
}

// padMaskLeft returns m with zeros in front up to n entries.
func padMaskLeft(m []float32, n int) []float32 {
	out := make([]float32, n-len(m), n)
	return append(out, m...)
}

// KeepRows keeps only the rows listed (in increasing order), so finished
// or cancelled sequences leave a decoding batch; the others keep their
// history and decode on unchanged. Positions every kept row masks are
// dropped, so the cache shrinks as long sequences leave. An empty list
// empties the cache. On error c is unchanged.
func (c *KVCache) KeepRows(rows []int) error {
	if c.cross0() {
		return errors.New("kv cache: keep rows: encoder-decoder (T5) caches cannot drop rows")
	}
	for i, r := range rows {
		if r < 0 || r >= c.batch || (i > 0 && r <= rows[i-1]) {
			return fmt.Errorf("kv cache: keep rows %v: want increasing rows in [0, %d)", rows, c.batch)
		}
	}
	if len(rows) == c.batch {
		return nil
	}
	if len(rows) == 0 || c.n == 0 {
		c.Free()
		c.batch = len(rows)
		c.mask = make([][]float32, len(rows))
		return nil
	}
	// Leading positions masked in every kept row are dropped.
	lead := c.n
	for _, r := range rows {
		i := slices.IndexFunc(c.mask[r], func(v float32) bool { return v != 0 })
		if i < 0 {
			i = c.n
		}
		lead = min(lead, i)
	}
	if lead == c.n {
		lead = 0 // keep a shape even when every kept row is padding only
	}
	self := make([]kvPair, len(c.self))
	fail := func(err error) error {
		for _, p := range self {
			c.b.Free(p.k)
			c.b.Free(p.v)
		}
		return fmt.Errorf("kv cache: keep rows: %w", err)
	}
	for l := range c.self {
		var err error
		if self[l].k, err = c.pickRows(c.self[l].k, rows, lead); err != nil {
			return fail(fmt.Errorf("layer %d keys: %w", l, err))
		}
		if self[l].v, err = c.pickRows(c.self[l].v, rows, lead); err != nil {
			return fail(fmt.Errorf("layer %d values: %w", l, err))
		}
	}
	mask := make([][]float32, len(rows))
	for i, r := range rows {
		mask[i] = slices.Clone(c.mask[r][lead:])
	}
	for l := range c.self {
		c.b.Free(c.self[l].k)
		c.b.Free(c.self[l].v)
	}
	c.self, c.mask, c.batch, c.n = self, mask, len(rows), c.n-lead
	return nil
}

// pickRows gathers the listed rows of t [B, H, n, D], each run of
// consecutive rows copied at once, and drops the first lead positions.
func (c *KVCache) pickRows(t backend.Tensor, rows []int, lead int) (backend.Tensor, error) {
	var parts []backend.Tensor
	defer func() {
		for _, p := range parts {
			c.b.Free(p)
		}
	}()
	for i := 0; i < len(rows); {
		j := i + 1
		for j < len(rows) && rows[j] == rows[j-1]+1 {
			j++
		}
		p, err := c.b.Narrow(t, 0, rows[i], j-i)
		if err != nil {
			return nil, err
		}
		parts = append(parts, p)
		i = j
	}
	joined := parts[0]
	if len(parts) > 1 {
		var err error
		if joined, err = c.b.Concat(0, parts...); err != nil {
			return nil, err
		}
	} else {
		parts = nil
	}
	if lead == 0 {
		return joined, nil
	}
	defer c.b.Free(joined)
	n := t.Shape()[2]
	return c.b.Narrow(joined, 2, lead, n-lead)
}

// NewRowCache returns a cache with no rows, for a decoding batch that
// sequences join (AppendRows) and leave (KeepRows) while it runs. Only
// causal LMs support it.
func (m *Model) NewRowCache() (*KVCache, error) {
	if m.cfg.TaskType != TaskCausalLM {
		return nil, fmt.Errorf("model.NewRowCache: %s (%s) is not a causal LM", m.cfg.Architecture, m.cfg.TaskType)
	}
	c, err := m.NewCache(1)
	if err != nil {
		return nil, fmt.Errorf("model.NewRowCache: %w", err)
	}
	c.batch, c.mask = 0, nil
	return c, nil
}
