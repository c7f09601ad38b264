package ia3

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/ia3/ia3/model/nn"
)

// NamedParam is a parameter under its PEFT name.
type NamedParam struct {
	// Name as PEFT's named_parameters() gives it:
	// "base_model.model.<module>.ia3_l.<adapter>" for a vector,
	// "base_model.model.<module>.modules_to_save.<adapter>.<param>" for a
	// modules_to_save copy.
	Name string
	// Param is the tensor to optimise. An installed modules_to_save copy
	// is the module's own parameter while installed, so a graph's
	// ParamGrad(Param) is its gradient.
	Param *nn.Param
}

// TrainableParams lists the trainable parameters in module order: the
// vectors of the trainable (active) adapters and the installed
// modules_to_save copies. Vectors are [n] in memory; PEFT's shape is
// Layer.VectorShape.
func (m *Model) TrainableParams() []NamedParam {
	var out []NamedParam
	li, si := 0, 0
	for _, nm := range m.info.modules {
		if li < len(m.layers) && m.layers[li].Name == nm.Name {
			l := m.layers[li]
			for _, a := range l.order {
				if p := l.vectors[a]; p.Trainable {
					out = append(out, NamedParam{Name: p.Name, Param: p})
				}
			}
			li++
		}
		if si < len(m.saved) && m.saved[si].name == nm.Name {
			s := m.saved[si]
			for _, a := range m.names {
				cs, ok := s.copies[a]
				if !ok {
					continue
				}
				for _, c := range cs {
					if c.Trainable {
						out = append(out, NamedParam{Name: c.Name, Param: c})
					}
				}
			}
			si++
		}
	}
	return out
}

// ParamCounts returns the trainable and total element counts as PEFT's
// get_nb_trainable_parameters counts them: the base model's parameters
// (tied ones once), every adapter's vectors and every modules_to_save copy.
// On a structure-only model (no storage) the sizes come from the model's
// parameter shapes, so the counts equal a loaded model's.
func (m *Model) ParamCounts() (trainable, all int64) {
	copies := map[*nn.Param]bool{}
	for _, s := range m.saved {
		for _, cs := range s.copies {
			for _, c := range cs {
				copies[c] = true
			}
		}
	}
	seen := map[*nn.Param]bool{}
	count := func(p *nn.Param, mod nn.Module, local string) {
		if p != nil && !seen[p] && !copies[p] {
			seen[p] = true
			all += m.paramLen(p, mod, local)
		}
	}
	for _, nm := range m.info.modules {
		ps := nm.Module.Params()
		for _, k := range sortedKeys(ps) {
			count(ps[k], nm.Module, k)
		}
	}
	for _, l := range m.layers {
		for a, p := range l.vectors {
			n := int64(l.AdapterVectorLen(a))
			all += n
			if p.Trainable {
				trainable += n
			}
		}
	}
	for _, s := range m.saved {
		for i, o := range s.originals {
			mod, local := s.owners[i][0].mod, s.owners[i][0].local
			// An original replaced by an installed copy is not in the tree.
			count(o, mod, local)
			n := m.paramLen(o, mod, local)
			for _, cs := range s.copies {
				all += n
				if cs[i].Trainable {
					trainable += n
				}
			}
		}
	}
	return trainable, all
}

// paramLen returns a parameter's element count: from its storage, else
// from the model's shape of that name, else (a hand-made tree) from a
// Linear's In and Out, else 0.
func (m *Model) paramLen(p *nn.Param, mod nn.Module, local string) int64 {
	if p.T != nil {
		return int64(p.T.Len())
	}
	if m.info.paramShape != nil {
		if shape, ok := m.info.paramShape(p.Name); ok {
			n := int64(1)
			for _, d := range shape {
				n *= int64(d)
			}
			return n
		}
	}
	if l, ok := mod.(*nn.Linear); ok {
		if local == "weight" {
			return int64(l.In) * int64(l.Out)
		}
		return int64(l.Out)
	}
	return 0
}

// PrintTrainableParameters writes PEFT's print_trainable_parameters line:
// "trainable params: N || all params: M || trainable%: P".
func (m *Model) PrintTrainableParameters(w io.Writer) error {
	_, err := fmt.Fprintln(w, TrainableParametersLine(m.ParamCounts()))
	return err
}

// TrainableParametersLine formats counts as PEFT does: thousands separated
// by commas, the percentage with four decimals.
func TrainableParametersLine(trainable, all int64) string {
	pct := 0.0
	if all > 0 {
		pct = 100 * float64(trainable) / float64(all)
	}
	return fmt.Sprintf("trainable params: %s || all params: %s || trainable%%: %.4f",
		commas(trainable), commas(all), pct)
}

// commas renders n with a comma every three digits, as Python's "{:,d}".
func commas(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
