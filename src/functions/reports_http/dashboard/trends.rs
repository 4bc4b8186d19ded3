//! One small chart per headline KPI over the period: bars or a line, a hatched gap for a day
//! without a report, a plain gap for an undefined value, each day's value as hover text.

use chrono::NaiveDate;

use super::{Day, Now, TrendCard, TrendChart, XLabel};
use crate::daily_report::kpi::Kpi;
use crate::render::chart::{EdgeLabel, Frame, Line, Px, Rect, Scale, Slots, Ticks};
use crate::render::format::{Unit, long_date, plural, short_date};

/// One chart: a KPI over the period, as bars (with `inner` drawn inside, e.g. classified
/// within total calls) or as a line, titled with the KPI's label unless `title` says otherwise.
pub(super) struct Trend {
    pub(super) kpi: Kpi,
    title: Option<&'static str>,
    bars: bool,
    inner: Option<Kpi>,
}

/// The charts, in page order: a layout of the page (a KPI without one has its tile only).
pub(super) const ALL: [Trend; 6] = [
    Trend {
        kpi: Kpi::TotalCalls,
        title: Some("Calls per day"),
        bars: true,
        inner: Some(Kpi::ClassifiedCalls),
    },
    Trend::line(Kpi::SuccessRate),
    Trend::line(Kpi::TransferredForBooking),
    Trend::line(Kpi::CarrierAsked),
    Trend::line(Kpi::CarrierNotQualified),
    Trend::line(Kpi::AvgMinutesPerCall),
];

impl Trend {
    /// A line chart of `kpi`, titled with its label.
    const fn line(kpi: Kpi) -> Trend {
        Trend {
            kpi,
            title: None,
            bars: false,
            inner: None,
        }
    }
}

/// A trend chart's viewBox and margins (the charts scale to their card).
const FRAME: Frame = Frame {
    width: 360.0,
    height: 150.0,
    left: 42.0,
    right: 8.0,
    top: 8.0,
    bottom: 22.0,
};

/// What one date contributes to a chart.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Point {
    /// No report stored: a hatched gap.
    NoReport,
    /// A report whose value is undefined (e.g. a rate without classified calls): a plain gap.
    Undefined,
    Value(f64),
}

impl Point {
    fn value(self) -> Option<f64> {
        match self {
            Point::Value(v) => Some(v),
            _ => None,
        }
    }
}

fn point(kpi: Kpi, day: &Day<'_>) -> Point {
    match day.report {
        None => Point::NoReport,
        Some(r) => kpi.value(r).map_or(Point::Undefined, Point::Value),
    }
}

/// The hover text of one date in a chart.
fn hover(trend: &Trend, day: &Day<'_>) -> String {
    let date = long_date(day.date);
    let Some(r) = day.report else {
        return format!("{date}: no report");
    };
    let kpi = trend.kpi;
    match kpi.value(r) {
        // The note of an undefined value says why: `no classified calls`, `no calls`.
        None => format!("{date}: {}", kpi.note(r)),
        Some(v) => match trend.inner {
            Some(inner) => format!(
                "{date}: {} {}, {} {}",
                kpi.unit().with_unit(v),
                kpi.label().to_lowercase(),
                inner.unit().with_unit(inner.value(r).unwrap_or(0.0)),
                inner.label().to_lowercase()
            ),
            None => format!("{date}: {}", kpi.unit().with_unit(v)),
        },
    }
}

fn trend_chart(trend: &Trend, series: &[Day<'_>]) -> TrendChart {
    let unit = trend.kpi.unit();
    let points: Vec<Point> = series.iter().map(|d| point(trend.kpi, d)).collect();
    let inner: Vec<Option<f64>> = series
        .iter()
        .map(|d| trend.inner.and_then(|k| d.report.and_then(|r| k.value(r))))
        .collect();
    let max = points
        .iter()
        .filter_map(|p| p.value())
        .chain(inner.iter().flatten().copied())
        .fold(0.0, f64::max);
    let scale = Scale::nice(max, unit == Unit::Count, Ticks::FOUR);
    let slots = Slots::new(FRAME, series.len(), scale);

    let missing: Vec<(NaiveDate, Rect)> = points
        .iter()
        .enumerate()
        .filter(|(_, p)| **p == Point::NoReport)
        .map(|(i, _)| (series[i].date, slots.column(i, 0.08)))
        .collect();
    let mut bars = Vec::new();
    let mut line = Line::default();
    if trend.bars {
        for (i, p) in points.iter().enumerate() {
            let Point::Value(v) = *p else { continue };
            if v > 0.0 {
                bars.push(("bar", slots.bar(i, v, 0.14)));
            }
            if let Some(iv) = inner[i].filter(|iv| *iv > 0.0) {
                bars.push(("bar inner", slots.bar(i, iv, 0.14)));
            }
        }
    } else {
        let values: Vec<Option<f64>> = points.iter().map(|p| p.value()).collect();
        line = slots.line(&values);
    }
    let x_labels = slots
        .edge_labels()
        .into_iter()
        .map(|EdgeLabel { index, x, anchor }| XLabel {
            x,
            anchor,
            text: short_date(series.get(index).map_or(NaiveDate::MIN, |d| d.date)),
        })
        .collect();
    TrendChart {
        id: trend.kpi.key(),
        view_box: FRAME.view_box(),
        description: format!(
            "Daily {} over {}; {} without a report.",
            trend.kpi.label().to_lowercase(),
            plural(series.len(), "day", "days"),
            plural(missing.len(), "day", "days")
        ),
        gridlines: slots.gridlines(6.0, |v| unit.tick_label(v, scale.step)),
        missing,
        bars,
        line,
        x_labels,
        x_label_y: Px(FRAME.height - 5.0),
        hits: series
            .iter()
            .enumerate()
            .map(|(i, day)| (hover(trend, day), slots.column(i, 0.0)))
            .collect(),
    }
}

pub(super) fn card(trend: &Trend, series: &[Day<'_>]) -> TrendCard {
    let now = series
        .iter()
        .rev()
        .find_map(|d| d.report.map(|r| (d.date, trend.kpi.value(r))))
        .map(|(date, value)| Now {
            value: value.map(|v| trend.kpi.unit().with_unit(v)),
            date: short_date(date),
        });
    TrendCard {
        title: trend.title.unwrap_or(trend.kpi.label()),
        now,
        chart: trend_chart(trend, series),
        legend: trend.inner.map(|inner| (trend.kpi.label(), inner.label())),
    }
}
