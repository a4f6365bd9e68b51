//! Samples, their summaries, and the printed table.

use std::fmt::Write as _;
use std::time::Duration;

/// Durations of one figure, in milliseconds.
#[derive(Debug, Default, Clone)]
pub(crate) struct Samples(pub Vec<f64>);

impl Samples {
    pub(crate) fn push(&mut self, d: Duration) {
        self.0.push(d.as_secs_f64() * 1000.0);
    }

    fn sorted(&self) -> Vec<f64> {
        let mut v = self.0.clone();
        v.sort_by(f64::total_cmp);
        v
    }

    /// The `p`-th percentile (nearest rank), 0 when empty.
    pub(crate) fn percentile(&self, p: f64) -> f64 {
        let v = self.sorted();
        if v.is_empty() {
            return 0.0;
        }
        let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
        v[rank.clamp(1, v.len()) - 1]
    }

    pub(crate) fn min(&self) -> f64 {
        self.sorted().first().copied().unwrap_or(0.0)
    }
    pub(crate) fn max(&self) -> f64 {
        self.sorted().last().copied().unwrap_or(0.0)
    }
    pub(crate) fn median(&self) -> f64 {
        self.percentile(50.0)
    }
}

/// One row of the report.
pub(crate) struct Row {
    pub figure: String,
    pub unit: &'static str,
    pub min: f64,
    pub median: f64,
    pub max: f64,
    /// What SPEC §16 asks, in words.
    pub target: String,
}

impl Row {
    /// A row summarising `s` (min / median / max).
    pub(crate) fn of(figure: impl Into<String>, s: &Samples, target: impl Into<String>) -> Row {
        Row {
            figure: figure.into(),
            unit: "ms",
            min: s.min(),
            median: s.median(),
            max: s.max(),
            target: target.into(),
        }
    }

    /// A row of a single figure per run (e.g. a p99 of each run).
    pub(crate) fn per_run(
        figure: impl Into<String>,
        unit: &'static str,
        s: &Samples,
        target: impl Into<String>,
    ) -> Row {
        Row {
            unit,
            ..Row::of(figure, s, target)
        }
    }
}

/// Renders rows as an aligned Markdown table.
pub(crate) fn table(rows: &[Row]) -> String {
    let cells: Vec<[String; 6]> = rows
        .iter()
        .map(|r| {
            let f = |v: f64| {
                if v >= 1000.0 {
                    format!("{v:.0}")
                } else {
                    format!("{v:.2}")
                }
            };
            [
                r.figure.clone(),
                r.unit.to_string(),
                f(r.min),
                f(r.median),
                f(r.max),
                r.target.clone(),
            ]
        })
        .collect();
    let headers = [
        "figure",
        "unit",
        "min",
        "median",
        "max",
        "target (SPEC §16)",
    ];
    let mut widths = headers.map(str::len);
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, cells: &[String]| {
        let _ = writeln!(
            out,
            "| {} |",
            cells
                .iter()
                .zip(widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect::<Vec<_>>()
                .join(" | ")
        );
    };
    line(&mut out, &headers.map(String::from));
    line(&mut out, &widths.map(|w| "-".repeat(w)));
    for row in &cells {
        line(&mut out, row);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let s = Samples((1..=100).map(f64::from).collect());
        assert_eq!(s.percentile(50.0), 50.0);
        assert_eq!(s.percentile(99.0), 99.0);
        assert_eq!(s.min(), 1.0);
        assert_eq!(s.max(), 100.0);
        assert_eq!(Samples::default().percentile(99.0), 0.0);
    }
}
