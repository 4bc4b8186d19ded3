//! Chart geometry for the pages' inline SVG: round axis scales, charts whose x axis is a row
//! of equal slots (one per bucket or per day), bars, broken lines and the failure-rate
//! histogram. Everything is in viewBox units; the templates only place what is computed here.

use std::fmt;

/// A coordinate or length in viewBox units, written with one decimal (`52.0`).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default)]
pub struct Px(pub f64);

impl fmt::Display for Px {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.1}", self.0)
    }
}

/// A chart's viewBox (`0 0 width height`) and the margins around its plot area.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Frame {
    pub width: f64,
    pub height: f64,
    pub left: f64,
    pub right: f64,
    pub top: f64,
    pub bottom: f64,
}

impl Frame {
    pub fn plot_width(&self) -> f64 {
        self.width - self.left - self.right
    }

    pub fn plot_height(&self) -> f64 {
        self.height - self.top - self.bottom
    }

    /// The y of the value 0.
    pub fn baseline(&self) -> f64 {
        self.top + self.plot_height()
    }

    /// The x where the plot area ends.
    pub fn right_edge(&self) -> f64 {
        self.width - self.right
    }

    /// The `viewBox` attribute's value.
    pub fn view_box(&self) -> String {
        format!("0 0 {} {}", self.width, self.height)
    }
}

/// How an axis picks its step: `m × 10^k` for `m` in `mantissas`, at most `max_steps` steps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ticks {
    pub max_steps: f64,
    pub mantissas: &'static [f64],
}

impl Ticks {
    /// 1, 2, 5 × 10^k, at most five steps (the failure-rate histogram's user counts).
    pub const FIVE: Ticks = Ticks {
        max_steps: 5.0,
        mantissas: &[1.0, 2.0, 5.0],
    };
    /// 1, 2, 2.5, 5 × 10^k, at most four steps (the dashboard's small trend charts).
    pub const FOUR: Ticks = Ticks {
        max_steps: 4.0,
        mantissas: &[1.0, 2.0, 2.5, 5.0],
    };
}

/// A value axis from 0 to `top` in steps of `step`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scale {
    pub top: f64,
    pub step: f64,
}

impl Scale {
    /// The smallest round step of `ticks` that reaches `max` (whole steps only when `whole`),
    /// and the axis top it gives. A `max` that is not positive gets the axis 0 to 1.
    pub fn nice(max: f64, whole: bool, ticks: Ticks) -> Scale {
        let max = if max.is_finite() && max > 0.0 {
            max
        } else {
            1.0
        };
        let mut magnitude = 10f64.powf((max / ticks.max_steps).log10().floor());
        loop {
            for &m in ticks.mantissas {
                let step = m * magnitude;
                if whole && step.fract() != 0.0 {
                    continue;
                }
                let steps = (max / step - 1e-9).ceil().max(1.0);
                if steps <= ticks.max_steps {
                    return Scale {
                        top: steps * step,
                        step,
                    };
                }
            }
            magnitude *= 10.0;
        }
    }

    /// The tick values `0, step, …, top`.
    pub fn ticks(&self) -> Vec<f64> {
        let n = (self.top / self.step).round() as usize;
        (0..=n).map(|i| i as f64 * self.step).collect()
    }
}

/// One horizontal grid line with its axis label at the left.
#[derive(Debug, Clone, PartialEq)]
pub struct Gridline {
    /// `baseline` for 0, `gridline` otherwise.
    pub class: &'static str,
    pub x1: Px,
    pub x2: Px,
    pub y: Px,
    pub label_x: Px,
    pub label: String,
}

/// A rectangle.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Rect {
    pub x: Px,
    pub y: Px,
    pub width: Px,
    pub height: Px,
}

/// A point of a line chart.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dot {
    pub cx: Px,
    pub cy: Px,
    pub r: Px,
    /// The line's last point.
    pub latest: bool,
}

/// A line over the slots: its path and its points.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Line {
    /// The `d` of the path, `None` without any point. It restarts (`M`) after every gap, so
    /// nothing is drawn across a slot without a value.
    pub path: Option<String>,
    pub dots: Vec<Dot>,
}

/// An x-axis label under one slot.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EdgeLabel {
    /// The slot it names.
    pub index: usize,
    pub x: Px,
    /// `text-anchor`: `start`, `middle` or `end`.
    pub anchor: &'static str,
}

/// A chart whose x axis is `n` equal slots over the plot width and whose y axis is `scale`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Slots {
    pub frame: Frame,
    pub n: usize,
    pub scale: Scale,
}

impl Slots {
    /// `n` slots (at least one) over `frame`'s plot area.
    pub fn new(frame: Frame, n: usize, scale: Scale) -> Slots {
        Slots {
            frame,
            n: n.max(1),
            scale,
        }
    }

    /// The width of one slot.
    pub fn slot(&self) -> f64 {
        self.frame.plot_width() / self.n as f64
    }

    /// The left edge of slot `i`.
    pub fn x(&self, i: usize) -> f64 {
        self.frame.left + self.slot() * i as f64
    }

    /// The middle of slot `i`.
    pub fn center(&self, i: usize) -> f64 {
        self.x(i) + self.slot() / 2.0
    }

    /// The y of value `v` (clamped to the axis).
    pub fn y(&self, v: f64) -> f64 {
        let top = self.scale.top;
        self.frame.baseline() - self.frame.plot_height() * (v.clamp(0.0, top) / top)
    }

    /// One grid line per tick, the label `gap` left of the plot area.
    pub fn gridlines(&self, gap: f64, label: impl Fn(f64) -> String) -> Vec<Gridline> {
        self.scale
            .ticks()
            .into_iter()
            .map(|v| Gridline {
                class: if v == 0.0 { "baseline" } else { "gridline" },
                x1: Px(self.frame.left),
                x2: Px(self.frame.right_edge()),
                y: Px(self.y(v)),
                label_x: Px(self.frame.left - gap),
                label: label(v),
            })
            .collect()
    }

    /// Slot `i` over the full plot height, narrowed by `inset` (a fraction of the slot) on
    /// each side.
    pub fn column(&self, i: usize, inset: f64) -> Rect {
        let slot = self.slot();
        Rect {
            x: Px(self.x(i) + slot * inset),
            y: Px(self.frame.top),
            width: Px(slot * (1.0 - 2.0 * inset)),
            height: Px(self.frame.plot_height()),
        }
    }

    /// A bar from 0 up to `v` in slot `i`, narrowed by `inset` on each side.
    pub fn bar(&self, i: usize, v: f64, inset: f64) -> Rect {
        let slot = self.slot();
        let top = self.y(v);
        Rect {
            x: Px(self.x(i) + slot * inset),
            y: Px(top),
            width: Px(slot * (1.0 - 2.0 * inset)),
            height: Px(self.frame.baseline() - top),
        }
    }

    /// A line through the slots' centres at `values` (`None`: a gap), with a dot per value;
    /// the last dot is larger.
    pub fn line(&self, values: &[Option<f64>]) -> Line {
        let mut path = String::new();
        let mut drawing = false;
        let mut dots = Vec::new();
        let r = (self.slot() * 0.28).clamp(1.2, 2.6);
        for (i, v) in values.iter().enumerate() {
            let Some(v) = *v else {
                drawing = false;
                continue;
            };
            let (cx, cy) = (Px(self.center(i)), Px(self.y(v)));
            if !path.is_empty() {
                path.push(' ');
            }
            path.push_str(&format!("{}{cx} {cy}", if drawing { 'L' } else { 'M' }));
            drawing = true;
            dots.push(Dot {
                cx,
                cy,
                r: Px(r),
                latest: false,
            });
        }
        if let Some(last) = dots.last_mut() {
            last.latest = true;
            last.r = Px(r.max(3.0));
        }
        Line {
            path: (!path.is_empty()).then_some(path),
            dots,
        }
    }

    /// Labels for the first slot, the middle one (from five slots on) and the last one,
    /// aligned to the plot's edges.
    pub fn edge_labels(&self) -> Vec<EdgeLabel> {
        let n = self.n;
        if n == 1 {
            return vec![EdgeLabel {
                index: 0,
                x: Px(self.center(0)),
                anchor: "middle",
            }];
        }
        let mut labels = vec![EdgeLabel {
            index: 0,
            x: Px(self.x(0)),
            anchor: "start",
        }];
        if n >= 5 {
            let i = (n - 1) / 2;
            labels.push(EdgeLabel {
                index: i,
                x: Px(self.center(i)),
                anchor: "middle",
            });
        }
        labels.push(EdgeLabel {
            index: n - 1,
            x: Px(self.x(n - 1) + self.slot()),
            anchor: "end",
        });
        labels
    }
}

/// A bar of a [`Histogram`]: a full-height hit area (so short bars are easy to hover and
/// tap), the visible bar and where its count goes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HistogramBar {
    pub hit: Rect,
    pub fill: Rect,
    pub count_x: Px,
    pub count_y: Px,
}

/// A boundary label under the x axis of a [`Histogram`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Boundary {
    pub x: Px,
    pub y: Px,
    /// Its percent of the whole range: buckets split 0–100% evenly.
    pub percent: usize,
    /// Every other boundary, which narrow screens hide.
    pub odd: bool,
}

/// The geometry of a histogram of counts over buckets that split 0–100% evenly.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    pub view_box: String,
    pub gridlines: Vec<Gridline>,
    pub bars: Vec<HistogramBar>,
    pub boundaries: Vec<Boundary>,
    /// Where the x axis title goes (middle anchored).
    pub x_title: (Px, Px),
    /// Where the y axis title goes (rotated by -90°, middle anchored).
    pub y_title: (Px, Px),
}

/// The histogram of `counts` in `frame` (y axis: whole, round steps of [`Ticks::FIVE`]).
pub fn histogram(frame: Frame, counts: &[usize]) -> Histogram {
    let max = counts.iter().copied().max().unwrap_or(0).max(1);
    let slots = Slots::new(
        frame,
        counts.len(),
        Scale::nice(max as f64, true, Ticks::FIVE),
    );
    let bars = counts
        .iter()
        .enumerate()
        .map(|(i, &count)| {
            let fill = slots.bar(i, count as f64, 0.12);
            HistogramBar {
                hit: slots.column(i, 0.0),
                fill,
                count_x: Px(slots.center(i)),
                count_y: Px(fill.y.0 - 6.0),
            }
        })
        .collect();
    let boundaries = (0..=slots.n)
        .map(|i| Boundary {
            x: Px(slots.x(i)),
            y: Px(frame.baseline() + 20.0),
            percent: i * 100 / slots.n,
            odd: i % 2 == 1,
        })
        .collect();
    Histogram {
        view_box: frame.view_box(),
        gridlines: slots.gridlines(8.0, |v| format!("{v:.0}")),
        bars,
        boundaries,
        x_title: (
            Px(frame.left + frame.plot_width() / 2.0),
            Px(frame.height - 8.0),
        ),
        y_title: (Px(14.0), Px(frame.top + frame.plot_height() / 2.0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The step a histogram of counts up to `max` gets.
    fn count_step(max: usize) -> usize {
        Scale::nice(max as f64, true, Ticks::FIVE).step as usize
    }

    #[test]
    fn count_ticks_are_round() {
        assert_eq!(count_step(1), 1);
        assert_eq!(count_step(5), 1);
        assert_eq!(count_step(6), 2);
        assert_eq!(count_step(11), 5);
        assert_eq!(count_step(26), 10);
        assert_eq!(count_step(480), 100);
    }

    #[test]
    fn trend_scales_are_round() {
        let nice = |max, whole| {
            let s = Scale::nice(max, whole, Ticks::FOUR);
            (s.top, s.step)
        };
        assert_eq!(nice(0.0, true), (1.0, 1.0));
        assert_eq!(nice(3.0, true), (3.0, 1.0));
        assert_eq!(nice(271.0, true), (300.0, 100.0));
        assert_eq!(nice(17.3, false), (20.0, 5.0));
        assert_eq!(nice(2.41, false), (3.0, 1.0));
        assert_eq!(nice(98.0, false), (100.0, 25.0));
        assert_eq!(
            Scale::nice(98.0, false, Ticks::FOUR).ticks(),
            [0.0, 25.0, 50.0, 75.0, 100.0]
        );
    }

    const FRAME: Frame = Frame {
        width: 140.0,
        height: 120.0,
        left: 20.0,
        right: 20.0,
        top: 10.0,
        bottom: 10.0,
    };

    #[test]
    fn slots_place_bars_and_columns() {
        let s = Slots::new(
            FRAME,
            4,
            Scale {
                top: 10.0,
                step: 5.0,
            },
        );
        assert_eq!(s.slot(), 25.0);
        assert_eq!(s.y(0.0), 110.0);
        assert_eq!(s.y(5.0), 60.0);
        assert_eq!(s.y(99.0), 10.0, "clamped to the axis");
        assert_eq!(
            s.bar(1, 5.0, 0.1),
            Rect {
                x: Px(47.5),
                y: Px(60.0),
                width: Px(20.0),
                height: Px(50.0)
            }
        );
        assert_eq!(s.column(0, 0.0).height, Px(100.0));
        let g = s.gridlines(6.0, |v| format!("{v}"));
        assert_eq!(g.len(), 3);
        assert_eq!((g[0].class, g[1].class), ("baseline", "gridline"));
        assert_eq!(
            (g[2].y, g[2].label_x, g[2].x2),
            (Px(10.0), Px(14.0), Px(120.0))
        );
    }

    #[test]
    fn lines_break_at_gaps() {
        let s = Slots::new(
            FRAME,
            5,
            Scale {
                top: 10.0,
                step: 5.0,
            },
        );
        let line = s.line(&[Some(0.0), Some(10.0), None, Some(5.0), None]);
        assert_eq!(
            line.path.as_deref(),
            Some("M30.0 110.0 L50.0 10.0 M90.0 60.0")
        );
        assert_eq!(line.dots.len(), 3);
        assert!(line.dots[2].latest && !line.dots[1].latest);
        assert_eq!(line.dots[2].r, Px(3.0));
        assert_eq!(s.line(&[None, None]), Line::default());
    }

    #[test]
    fn edge_labels_name_first_middle_and_last() {
        let scale = Scale {
            top: 1.0,
            step: 1.0,
        };
        let anchors = |n| {
            Slots::new(FRAME, n, scale)
                .edge_labels()
                .iter()
                .map(|l| (l.index, l.anchor))
                .collect::<Vec<_>>()
        };
        assert_eq!(anchors(1), [(0, "middle")]);
        assert_eq!(anchors(3), [(0, "start"), (2, "end")]);
        assert_eq!(anchors(30), [(0, "start"), (14, "middle"), (29, "end")]);
        let last = Slots::new(FRAME, 4, scale).edge_labels()[1];
        assert_eq!(last.x, Px(120.0), "the end label ends at the plot's edge");
    }

    #[test]
    fn a_histogram_has_a_bar_per_bucket_and_their_boundaries() {
        let h = histogram(FRAME, &[0, 3, 9, 1]);
        assert_eq!(h.bars.len(), 4);
        assert_eq!(h.boundaries.len(), 5);
        assert_eq!(h.boundaries[2].percent, 50);
        assert!(h.boundaries[1].odd && !h.boundaries[2].odd);
        // 9 users: steps of 2 up to 10.
        assert_eq!(h.gridlines.len(), 6);
        assert_eq!(h.gridlines[5].label, "10");
        assert_eq!(h.bars[0].fill.height, Px(0.0));
        assert_eq!(h.bars[2].hit.height, Px(100.0));
        assert_eq!(h.view_box, "0 0 140 120");
    }
}
