//! SVG charts of a report (plotters): the distribution of total working days per variant,
//! a Gantt chart of each variant's typical project, and department utilization.
//!
//! Text is laid out with a font compiled into the binary (Ubuntu Light, from
//! `epaint_default_fonts`), so charts come out the same on a machine without fonts.

use std::path::{Path, PathBuf};

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::report::Report;
use super::Error;

const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

fn font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = plotters::style::register_font(
            "sans-serif",
            FontStyle::Normal,
            epaint_default_fonts::UBUNTU_LIGHT,
        );
    });
}

/// A plotters error, for the chart being drawn to `file`.
fn err(file: &Path, e: impl std::fmt::Display) -> Error {
    Error::Draw {
        path: file.to_path_buf(),
        message: e.to_string(),
    }
}

/// A file name part from a variant name.
fn slug(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_alphanumeric() { c } else { '-' })
        .collect()
}

/// Writes every chart into `dir` (created if missing); returns the files written.
///
/// # Errors
/// The directory cannot be written, or plotters fails to draw.
pub fn write_all(r: &Report, dir: &Path) -> Result<Vec<PathBuf>, Error> {
    font();
    std::fs::create_dir_all(dir).map_err(|source| Error::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut files = vec![dir.join("total-working-days.svg")];
    distribution(r, &files[0])?;
    for v in &r.variants {
        if v.typical_project.is_some() {
            let f = dir.join(format!("gantt-{}.svg", slug(&v.name)));
            gantt(r, &v.name, &f)?;
            files.push(f);
        }
    }
    let f = dir.join("department-utilization.svg");
    utilization(r, &f)?;
    files.push(f);
    Ok(files)
}

fn distribution(r: &Report, file: &Path) -> Result<(), Error> {
    let root = SVGBackend::new(file, (900, 520)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(file, e))?;
    let width = r
        .variants
        .first()
        .map_or(1.0, |v| v.histogram.bin_working_days);
    let bins = r
        .variants
        .iter()
        .map(|v| v.histogram.counts.len())
        .max()
        .unwrap_or(1);
    let x_max = (width * bins as f64).max(1.0);
    let share = |v: &super::report::VariantReport, k: usize| {
        let n: u64 = v.histogram.counts.iter().sum();
        if n == 0 {
            0.0
        } else {
            100.0 * v.histogram.counts[k] as f64 / n as f64
        }
    };
    let y_max = r
        .variants
        .iter()
        .flat_map(|v| (0..v.histogram.counts.len()).map(move |k| share(v, k)))
        .fold(1.0_f64, f64::max)
        // Headroom: the legend sits above the highest bar, never on the data.
        * (1.15 + 0.09 * r.variants.len() as f64);
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("{}: total working days to completion", r.scenario),
            ("sans-serif", 20),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(56)
        .build_cartesian_2d(0.0..x_max, 0.0..y_max)
        .map_err(|e| err(file, e))?;
    chart
        .configure_mesh()
        .x_desc("working days from arrival to completion")
        .y_desc("share of projects (%)")
        .draw()
        .map_err(|e| err(file, e))?;
    for (k, v) in r.variants.iter().enumerate() {
        let color = PALETTE[k % PALETTE.len()];
        let points: Vec<(f64, f64)> = (0..v.histogram.counts.len())
            .flat_map(|b| {
                let y = share(v, b);
                [(b as f64 * width, y), ((b + 1) as f64 * width, y)]
            })
            .collect();
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))
            .map_err(|e| err(file, e))?
            .label(format!(
                "{} (mean {:.1}, p90 {:.1})",
                v.name, v.total_working_days.mean, v.total_working_days.p90
            ))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font(("sans-serif", 13))
        .margin(8)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()
        .map_err(|e| err(file, e))?;
    root.present().map_err(|e| err(file, e))
}

fn gantt(r: &Report, name: &str, file: &Path) -> Result<(), Error> {
    let Some((k, v)) = r.variants.iter().enumerate().find(|(_, v)| v.name == name) else {
        return Ok(());
    };
    let Some(t) = &v.typical_project else {
        return Ok(());
    };
    let rows = t.tasks.len().max(1);
    let height = (120 + 22 * rows).min(4000) as u32;
    let root = SVGBackend::new(file, (1000, height)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(file, e))?;
    // Room on the right for the label of the last bars.
    let x_max = t.tasks.iter().map(|x| x.end).fold(1.0_f64, f64::max) * 1.3;
    let labels: Vec<String> = t
        .tasks
        .iter()
        .map(|x| {
            // The id, then the name's Latin part (the chart's embedded font has no CJK
            // glyphs; workflows write names as `中文 English`), cut to fit.
            let tail: Vec<char> = x.name.chars().rev().take_while(char::is_ascii).collect();
            let latin: String = tail.into_iter().rev().collect();
            let name: String = latin.trim().chars().take(24).collect();
            if name.is_empty() || name == x.item {
                format!("{} ({})", x.item, x.department)
            } else {
                format!("{} {name} ({})", x.item, x.department)
            }
        })
        .collect();
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!(
                "{}: a typical project ({:.1} working days)",
                v.name, t.total_working_days
            ),
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(20)
        .build_cartesian_2d(0.0..x_max * 1.15, 0.0..rows as f64)
        .map_err(|e| err(file, e))?;
    // Every task is labelled beside its bar: an axis would label only some rows.
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(0)
        .x_desc("working days from arrival (grey: waiting for a reviewer; red: critical path)")
        .draw()
        .map_err(|e| err(file, e))?;
    let color = PALETTE[k % PALETTE.len()];
    let critical: std::collections::HashSet<&str> =
        t.critical_path.iter().map(String::as_str).collect();
    for (i, task) in t.tasks.iter().enumerate() {
        let (y0, y1) = (i as f64 + 0.15, i as f64 + 0.85);
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(task.ready, y0), (task.start.max(task.ready), y1)],
                RGBColor(200, 200, 200).filled(),
            )))
            .map_err(|e| err(file, e))?;
        let fill = if critical.contains(task.item.as_str()) {
            RGBColor(214, 39, 40)
        } else {
            color
        };
        let end = if task.end > task.start {
            task.end
        } else {
            task.start + x_max * 0.002
        };
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(task.start, y0), (end, y1)],
                fill.filled(),
            )))
            .map_err(|e| err(file, e))?;
        chart
            .draw_series(std::iter::once(Text::new(
                labels[i].clone(),
                (end + x_max * 0.005, i as f64 + 0.5),
                TextStyle::from(("sans-serif", 12).into_font())
                    .pos(Pos::new(HPos::Left, VPos::Center)),
            )))
            .map_err(|e| err(file, e))?;
    }
    root.present().map_err(|e| err(file, e))
}

fn utilization(r: &Report, file: &Path) -> Result<(), Error> {
    let mut depts: Vec<String> = Vec::new();
    for v in &r.variants {
        for d in &v.departments {
            if !depts.contains(&d.id) {
                depts.push(d.id.clone());
            }
        }
    }
    let root = SVGBackend::new(file, (1000, 520)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(file, e))?;
    // Utilization where staff is limited; otherwise the mean number of reviews in
    // progress, on the same axis read as "busy reviewers × 100".
    let value = |d: &super::report::DepartmentReport| 100.0 * d.utilization.unwrap_or(d.mean_busy);
    let y_max = r
        .variants
        .iter()
        .flat_map(|v| v.departments.iter().map(value))
        .fold(10.0_f64, f64::max)
        // Headroom: the legend sits above the highest bar, never on the data.
        * (1.2 + 0.09 * r.variants.len() as f64);
    let n = depts.len().max(1);
    // The title says what the bars are: utilization where staff is limited, the mean
    // number of reviews in progress (× 100) where it is not.
    let departments = || r.variants.iter().flat_map(|v| v.departments.iter());
    let limited = departments().filter(|d| d.utilization.is_some()).count();
    let title = if limited == departments().count() {
        "Department utilization (%)"
    } else if limited == 0 {
        "Department load (unlimited staff: mean reviews in progress × 100)"
    } else {
        "Department utilization (%); unlimited staff: mean reviews in progress × 100"
    };
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(10)
        .y_label_area_size(56)
        .build_cartesian_2d(0.0..n as f64, -y_max * 0.08..y_max)
        .map_err(|e| err(file, e))?;
    // Departments are named under their bars: an axis would name only some.
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_desc("%")
        .draw()
        .map_err(|e| err(file, e))?;
    chart
        .draw_series(depts.iter().enumerate().map(|(i, d)| {
            Text::new(
                d.clone(),
                (i as f64 + 0.5, -y_max * 0.04),
                TextStyle::from(("sans-serif", 12).into_font())
                    .pos(Pos::new(HPos::Center, VPos::Center)),
            )
        }))
        .map_err(|e| err(file, e))?;
    let groups = r.variants.len().max(1) as f64;
    for (k, v) in r.variants.iter().enumerate() {
        let color = PALETTE[k % PALETTE.len()];
        let bars: Vec<Rectangle<(f64, f64)>> = v
            .departments
            .iter()
            .filter_map(|d| {
                let i = depts.iter().position(|x| *x == d.id)? as f64;
                let w = 0.8 / groups;
                let x0 = i + 0.1 + w * k as f64;
                Some(Rectangle::new(
                    [(x0, 0.0), (x0 + w, value(d))],
                    color.filled(),
                ))
            })
            .collect();
        chart
            .draw_series(bars)
            .map_err(|e| err(file, e))?
            .label(v.name.clone())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled()));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font(("sans-serif", 13))
        .margin(8)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()
        .map_err(|e| err(file, e))?;
    root.present().map_err(|e| err(file, e))
}
