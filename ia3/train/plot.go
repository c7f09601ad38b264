package train

import (
	"bytes"
	"fmt"
	"image/color"

	"github.com/ia3/ia3/internal/atomicfile"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// PlotFile is the name of the loss curve written beside the adapter.
const PlotFile = "loss.png"

// writeLossPlot draws the training loss per step (and the eval loss where
// measured) as a PNG at path, written atomically.
func writeLossPlot(path string, losses []float64, evals []EvalPoint) error {
	p := plot.New()
	p.Title.Text = "(IA)³ training loss"
	p.X.Label.Text = "step"
	p.Y.Label.Text = "loss"
	p.Add(plotter.NewGrid())
	pts := make(plotter.XYs, len(losses))
	for i, l := range losses {
		pts[i] = plotter.XY{X: float64(i + 1), Y: l}
	}
	line, err := plotter.NewLine(pts)
	if err != nil {
		return fmt.Errorf("loss plot: %w", err)
	}
	line.Color = color.RGBA{R: 31, G: 119, B: 180, A: 255}
	p.Add(line)
	p.Legend.Add("train", line)
	if len(evals) > 0 {
		ev := make(plotter.XYs, len(evals))
		for i, e := range evals {
			ev[i] = plotter.XY{X: float64(e.Step), Y: e.Loss}
		}
		el, ep, err := plotter.NewLinePoints(ev)
		if err != nil {
			return fmt.Errorf("loss plot: %w", err)
		}
		red := color.RGBA{R: 214, G: 39, B: 40, A: 255}
		el.Color, ep.Color = red, red
		p.Add(el, ep)
		p.Legend.Add("eval", el, ep)
	}
	p.Legend.Top = true
	wt, err := p.WriterTo(6*vg.Inch, 4*vg.Inch, "png")
	if err != nil {
		return fmt.Errorf("loss plot: %w", err)
	}
	var buf bytes.Buffer
	if _, err := wt.WriteTo(&buf); err != nil {
		return fmt.Errorf("loss plot: render: %w", err)
	}
	return atomicfile.WriteFile(path, buf.Bytes())
}
