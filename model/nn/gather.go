package nn

import (
	"fmt"

	"github.com/ia3/ia3/backend"
)

// Gather picks rows of table [V, D] by I32 ids of any shape S, giving
// S + [D]: token embeddings, or one hidden state per sequence (pooling).
func (g *Graph) Gather(table *Value, ids backend.Tensor) *Value {
	return g.gather("gather", table, ids)
}

// Embedding looks ids up in e's table; the table gets a gradient only when
// it is trainable.
func (g *Graph) Embedding(e *Embedding, ids backend.Tensor) *Value {
	op := "embedding"
	if e == nil || e.Weight == nil {
		return g.Fail(op, fmt.Errorf("module has no weight"))
	}
	op += " " + e.Weight.Name
	if g.err != nil {
		return nil
	}
	return g.gather(op, g.Param(e.Weight), ids)
}

func (g *Graph) gather(op string, table *Value, ids backend.Tensor) *Value {
	if !g.ok(op, table) {
		return nil
	}
	if ids == nil {
		return g.Fail(op, fmt.Errorf("nil ids"))
	}
	ts := table.Shape()
	if len(ts) != 2 {
		return g.Fail(op, fmt.Errorf("table %v is not 2-D", ts))
	}
	flat := ids
	if len(ids.Shape()) != 1 {
		var err error
		if flat, err = g.B.View(ids, ids.Len()); err != nil {
			return g.Fail(op, fmt.Errorf("ids %v: %w", ids.Shape(), err))
		}
	}
	y, err := g.B.Gather(table.T, flat)
	if err != nil {
		return g.Fail(op, fmt.Errorf("table %v, ids %v: %w", ts, ids.Shape(), err))
	}
	back := func(out *Value) error {
		// Each picked row's gradient adds into the row it came from.
		dy, err := g.B.View(out.Grad, flat.Len(), ts[1])
		if err == nil {
			var dt backend.Tensor
			if dt, err = g.B.ScatterAddRows(ts[0], flat, dy); err == nil {
				return g.accumulate(table, dt)
			}
		}
		return fmt.Errorf("%s table %v, ids %v: %w", op, ts, ids.Shape(), err)
	}
	if len(ids.Shape()) == 1 {
		return g.result(y, back, table)
	}
	g.Own(y)
	v, err := g.B.View(y, append(append([]int{}, ids.Shape()...), ts[1])...)
	if err != nil {
		return g.Fail(op, fmt.Errorf("ids %v: %w", ids.Shape(), err))
	}
	return g.record(v, back, table)
}
