package main

import (
	"encoding/json"
	"fmt"
	"image/color"
	"math"
	"os"
	"slices"
	"strconv"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// figure is one measured series of the scaling figure: a wall time (the
// median run's, or the median of a reference's runs) at each N.
type figure struct {
	Name   string          `json:"name"`
	Points map[int]float64 `json:"seconds"` // N → seconds
}

// figures collects the series of a run, in the order they are drawn.
type figures struct {
	Series []*figure `json:"series"`
}

func (f *figures) add(name string, n int, d time.Duration) {
	if d <= 0 {
		return
	}
	for _, s := range f.Series {
		if s.Name == name {
			s.Points[n] = d.Seconds()
			return
		}
	}
	f.Series = append(f.Series, &figure{Name: name, Points: map[int]float64{n: d.Seconds()}})
}

// save writes the figures as JSON, next to the SVG, so that the figure
// can be drawn again (and compared) without measuring again.
func (f *figures) save(path string) error {
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// series styles: the fast path solid and heavy, the full path solid,
// the references dashed.
var seriesColors = []color.RGBA{
	{R: 0x1b, G: 0x9e, B: 0x77, A: 0xff}, {R: 0xd9, G: 0x5f, B: 0x02, A: 0xff}, {R: 0x75, G: 0x70, B: 0xb3, A: 0xff},
	{R: 0xe7, G: 0x29, B: 0x8a, A: 0xff}, {R: 0x66, G: 0xa6, B: 0x1e, A: 0xff}, {R: 0xa6, G: 0x76, B: 0x1d, A: 0xff},
	{R: 0x66, G: 0x66, B: 0x66, A: 0xff},
}

// draw writes the scaling figure: wall time against N, both on log
// scales, one line per series (gonum.org/v1/plot).
func (f *figures) draw(path, title string) error {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "keys (N)"
	p.Y.Label.Text = "wall time (seconds)"
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.X.Tick.Marker = powersOfTen{format: func(v float64) string { return humanN(v) }}
	p.Y.Tick.Marker = powersOfTen{format: func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) + " s" }}
	p.Legend.Top, p.Legend.Left = true, true
	p.Add(plotter.NewGrid())
	for i, s := range f.Series {
		ns := make([]int, 0, len(s.Points))
		for n := range s.Points {
			ns = append(ns, n)
		}
		slices.Sort(ns)
		pts := make(plotter.XYs, len(ns))
		for j, n := range ns {
			pts[j] = plotter.XY{X: float64(n), Y: s.Points[n]}
		}
		line, marks, err := plotter.NewLinePoints(pts)
		if err != nil {
			return fmt.Errorf("%s: %w", s.Name, err)
		}
		c := seriesColors[i%len(seriesColors)]
		line.Color, marks.Color = c, c
		line.Width = vg.Points(1.5)
		if i == 0 {
			line.Width = vg.Points(3)
		}
		if i >= 2 {
			line.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
		}
		marks.Shape = draw.CircleGlyph{}
		p.Add(line, marks)
		p.Legend.Add(s.Name, line, marks)
	}
	// Room above the lines for the legend.
	p.Y.Max *= 30
	return p.Save(8*vg.Inch, 6*vg.Inch, path)
}

// powersOfTen marks the decades of a log axis.
type powersOfTen struct{ format func(float64) string }

func (m powersOfTen) Ticks(lo, hi float64) []plot.Tick {
	var ts []plot.Tick
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		v := math.Pow(10, e)
		if v >= lo*0.999 && v <= hi*1.001 {
			ts = append(ts, plot.Tick{Value: v, Label: m.format(v)})
		}
		for k := 2.0; k < 10; k++ {
			if w := k * v; w >= lo && w <= hi {
				ts = append(ts, plot.Tick{Value: w})
			}
		}
	}
	return ts
}

func humanN(v float64) string {
	switch {
	case v >= 1e6:
		return strconv.FormatFloat(v/1e6, 'g', -1, 64) + "M"
	case v >= 1e3:
		return strconv.FormatFloat(v/1e3, 'g', -1, 64) + "k"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}
