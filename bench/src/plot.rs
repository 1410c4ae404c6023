//! `--plot FILE.svg`: IOPS against queue depth, one line per implementation,
//! from the single-thread cached-read workloads of the first test directory.
//! Hand-written SVG.

use std::fmt::Write as _;

use crate::report::{column, fmt_count, Column};
use crate::runner::RunResult;
use crate::workload::{Family, Impl, Pattern};

const W: f64 = 720.0;
const H: f64 = 440.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 150.0;
const TOP: f64 = 50.0;
const BOTTOM: f64 = 60.0;

fn color(imp: Impl) -> &'static str {
    match imp {
        Impl::Glibc => "#d62728",
        Impl::Paio => "#1f77b4",
        Impl::IoSubmit => "#2ca02c",
        Impl::IoUring => "#9467bd",
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A round axis maximum at or above `x`.
fn nice_ceiling(x: f64) -> f64 {
    if x.is_nan() || x <= 0.0 {
        return 1.0;
    }
    let mag = 10f64.powf(x.log10().floor());
    for m in [1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0] {
        if m * mag >= x {
            return m * mag;
        }
    }
    10.0 * mag
}

pub fn svg(res: &RunResult) -> String {
    // (impl, [(depth, iops)]) from the cached single-thread rows.
    let mut series: Vec<(Impl, Vec<(usize, f64)>)> = Vec::new();
    let mut depths: Vec<usize> = Vec::new();
    for w in &res.workloads {
        if w.workload.pattern != Pattern::CachedRead
            || w.workload.family != Family::Suite
            || w.workload.threads != 1
            || w.target != 0
            || w.skipped.is_some()
        {
            continue;
        }
        for c in &w.impls {
            if let Column::Ok(s) = column(c) {
                let d = w.workload.depth;
                if !depths.contains(&d) {
                    depths.push(d);
                }
                match series.iter_mut().find(|(i, _)| *i == c.imp) {
                    Some((_, pts)) => pts.push((d, s.iops)),
                    None => series.push((c.imp, vec![(d, s.iops)])),
                }
            }
        }
    }
    depths.sort_unstable();
    for (_, pts) in &mut series {
        pts.sort_by_key(|p| p.0);
        pts.dedup_by_key(|p| p.0);
    }
    let ymax = nice_ceiling(
        series
            .iter()
            .flat_map(|(_, p)| p.iter().map(|x| x.1))
            .fold(0.0, f64::max)
            * 1.05,
    );
    let (plot_w, plot_h) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
    // Depths on a log2 axis, padded half a step on each side.
    let lmin = depths.first().map_or(0.0, |&d| (d as f64).log2()) - 0.5;
    let lmax = depths.last().map_or(1.0, |&d| (d as f64).log2()) + 0.5;
    let x = |d: usize| LEFT + ((d as f64).log2() - lmin) / (lmax - lmin) * plot_w;
    let y = |v: f64| TOP + plot_h - v / ymax * plot_h;

    let mut s = String::new();
    let _ = writeln!(s, r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        s,
        r#"<rect x="0" y="0" width="{W}" height="{H}" fill="white"/>"#
    );
    let _ = writeln!(
        s,
        r#"<text x="{}" y="28" text-anchor="middle" font-size="15">{}</text>"#,
        LEFT + plot_w / 2.0,
        esc("4 KiB random reads from page cache: IOPS vs queue depth")
    );
    // Axes, grid and ticks.
    let _ = writeln!(s, r##"<g stroke="#333" stroke-width="1">"##);
    let _ = writeln!(
        s,
        r#"<line x1="{LEFT}" y1="{}" x2="{}" y2="{}"/>"#,
        TOP + plot_h,
        LEFT + plot_w,
        TOP + plot_h
    );
    let _ = writeln!(
        s,
        r#"<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{}"/>"#,
        TOP + plot_h
    );
    let _ = writeln!(s, "</g>");
    for i in 0..=5 {
        let v = ymax * i as f64 / 5.0;
        let yy = y(v);
        let _ = writeln!(
            s,
            r##"<line x1="{LEFT}" y1="{yy:.1}" x2="{}" y2="{yy:.1}" stroke="#ddd"/>"##,
            LEFT + plot_w
        );
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
            LEFT - 6.0,
            yy + 4.0,
            esc(&fmt_count(v))
        );
    }
    for &d in &depths {
        let xx = x(d);
        let _ = writeln!(
            s,
            r##"<line x1="{xx:.1}" y1="{}" x2="{xx:.1}" y2="{}" stroke="#333"/>"##,
            TOP + plot_h,
            TOP + plot_h + 5.0
        );
        let _ = writeln!(
            s,
            r#"<text x="{xx:.1}" y="{}" text-anchor="middle">{d}</text>"#,
            TOP + plot_h + 20.0
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">queue depth (I/Os in flight, log scale)</text>"#,
        LEFT + plot_w / 2.0,
        H - 14.0
    );
    let _ = writeln!(
        s,
        r#"<text x="20" y="{}" text-anchor="middle" transform="rotate(-90 20 {})">IOPS (median)</text>"#,
        TOP + plot_h / 2.0,
        TOP + plot_h / 2.0
    );
    if series.is_empty() {
        let _ = writeln!(
            s,
            r##"<text x="{}" y="{}" text-anchor="middle" fill="#666">{}</text>"##,
            LEFT + plot_w / 2.0,
            TOP + plot_h / 2.0,
            esc("no cached-qd* results to plot")
        );
    }
    for (k, (imp, pts)) in series.iter().enumerate() {
        let c = color(*imp);
        let path: Vec<String> = pts
            .iter()
            .map(|&(d, v)| format!("{:.1},{:.1}", x(d), y(v)))
            .collect();
        let _ = writeln!(
            s,
            r#"<polyline fill="none" stroke="{c}" stroke-width="2" points="{}"/>"#,
            path.join(" ")
        );
        for &(d, v) in pts {
            let _ = writeln!(
                s,
                r#"<circle cx="{:.1}" cy="{:.1}" r="4" fill="{c}"><title>{} qd{d}: {} IOPS</title></circle>"#,
                x(d),
                y(v),
                esc(imp.name()),
                esc(&fmt_count(v))
            );
        }
        // Legend.
        let ly = TOP + 10.0 + k as f64 * 22.0;
        let lx = LEFT + plot_w + 20.0;
        let _ = writeln!(
            s,
            r#"<line x1="{lx}" y1="{ly}" x2="{}" y2="{ly}" stroke="{c}" stroke-width="2"/>"#,
            lx + 24.0
        );
        let _ = writeln!(
            s,
            r#"<circle cx="{}" cy="{ly}" r="4" fill="{c}"/>"#,
            lx + 12.0
        );
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}">{}</text>"#,
            lx + 32.0,
            ly + 4.0,
            esc(imp.name())
        );
    }
    let _ = writeln!(s, "</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceilings() {
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(95_000.0), 100_000.0);
        assert_eq!(nice_ceiling(120_000.0), 120_000.0);
        assert_eq!(nice_ceiling(130_000.0), 150_000.0);
        assert_eq!(nice_ceiling(2_100_000.0), 2_500_000.0);
    }

    #[test]
    fn escapes() {
        assert_eq!(esc("a<b & \"c\">"), "a&lt;b &amp; &quot;c&quot;&gt;");
    }
}
