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
	// Param is the tensor to optimise. For the installed modules_to_save
	// copy it is the model's own parameter (its storage is the copy), so
	// that a graph's ParamGrad(Param) is its gradient.
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
				for i, c := range cs {
					if !c.Trainable {
						continue
					}
					p := c
					if s.installed == a {
						p = s.params[i]
					}
					out = append(out, NamedParam{Name: c.Name, Param: p})
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
// Parameters without storage (a structure-only model) count their Linear
// shapes where known and nothing otherwise.
func (m *Model) ParamCounts() (trainable, all int64) {
	seen := map[*nn.Param]bool{}
	for _, nm := range m.info.modules {
		ps := nm.Module.Params()
		for _, k := range sortedKeys(ps) {
			p := ps[k]
			if p == nil || seen[p] {
				continue
			}
			seen[p] = true
			all += paramLen(p, nm.Module, k)
		}
	}
	for _, l := range m.layers {
		for _, p := range l.vectors {
			n := int64(l.VectorLen())
			all += n
			if p.Trainable {
				trainable += n
			}
		}
	}
	for _, s := range m.saved {
		for _, cs := range s.copies {
			for i, c := range cs {
				n := int64(0)
				if s.originals[i] != nil {
					n = int64(s.originals[i].Len())
				}
				all += n
				if c.Trainable {
					trainable += n
				}
			}
		}
	}
	return trainable, all
}

// paramLen returns a parameter's element count, from its storage or, for a
// structure-only Linear, from In and Out.
func paramLen(p *nn.Param, mod nn.Module, local string) int64 {
	if p.T != nil {
		return int64(p.T.Len())
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
