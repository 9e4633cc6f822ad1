//! The loss curves `fourstock train` leaves beside a model: `curves.csv`
//! (step, training loss, validation loss, learning rate) and `curves.png`,
//! which the model card shows.
//!
//! The picture is drawn with plotters' bitmap backend. Its text needs a
//! TrueType font, read at run time from the usual system places (DejaVu
//! Sans, Liberation Sans) rather than linked through fontconfig; without
//! one, the PNG is skipped with a warning and the CSV still written.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use fourstock_train::CurvePoint;
use plotters::prelude::*;
use plotters::style::FontStyle;

/// Fonts tried, in order, for the chart's text.
const FONTS: [&str; 4] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
];

/// The curves as CSV text; an empty field where validation did not run.
pub fn csv(curve: &[CurvePoint]) -> String {
    let mut out = String::from("step,train_loss,validation_loss,learning_rate\n");
    for p in curve {
        let validation = p.validation_loss.map(|v| v.to_string()).unwrap_or_default();
        let _ = writeln!(
            out,
            "{},{},{},{:e}",
            p.step, p.train_loss, validation, p.learning_rate
        );
    }
    out
}

/// Writes `dir/curves.csv` and, when a font is found, `dir/curves.png`;
/// returns the files written.
pub fn write(dir: &Path, title: &str, curve: &[CurvePoint]) -> anyhow::Result<Vec<PathBuf>> {
    let csv_path = dir.join("curves.csv");
    std::fs::write(&csv_path, csv(curve))
        .with_context(|| format!("writing {}", csv_path.display()))?;
    let mut written = vec![csv_path];
    if curve.is_empty() {
        return Ok(written);
    }
    if !register_font() {
        tracing::warn!("no TrueType font found in {FONTS:?}: curves.png not drawn");
        return Ok(written);
    }
    let png = dir.join("curves.png");
    draw(&png, title, curve).with_context(|| format!("drawing {}", png.display()))?;
    written.push(png);
    Ok(written)
}

fn register_font() -> bool {
    for path in FONTS {
        if let Ok(bytes) = std::fs::read(path) {
            // plotters keeps fonts for the life of the process.
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            if plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok() {
                return true;
            }
        }
    }
    false
}

fn draw(path: &Path, title: &str, curve: &[CurvePoint]) -> anyhow::Result<()> {
    let root = BitMapBackend::new(path, (960, 540)).into_drawing_area();
    root.fill(&WHITE)?;
    let last = curve.last().map_or(1, |p| p.step).max(1);
    let values = curve
        .iter()
        .flat_map(|p| std::iter::once(p.train_loss).chain(p.validation_loss))
        .filter(|v| v.is_finite());
    let (lo, hi) = values.fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) };
    let pad = ((hi - lo) * 0.05).max(1e-3);
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(56)
        .build_cartesian_2d(0usize..last, (lo - pad)..(hi + pad))?;
    chart
        .configure_mesh()
        .x_desc("step")
        .y_desc("loss (sum over 13 outputs, nats)")
        .label_style(("sans-serif", 14))
        .draw()?;
    chart
        .draw_series(LineSeries::new(
            curve.iter().map(|p| (p.step, p.train_loss)),
            &BLUE,
        ))?
        .label("training")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLUE));
    let validation: Vec<(usize, f32)> = curve
        .iter()
        .filter_map(|p| p.validation_loss.map(|v| (p.step, v)))
        .collect();
    if !validation.is_empty() {
        chart
            .draw_series(LineSeries::new(validation, RED.stroke_width(2)))?
            .label("validation players")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], RED));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .draw()?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_leaves_validation_empty_where_it_did_not_run() {
        let curve = [
            CurvePoint {
                step: 50,
                train_loss: 4.5,
                validation_loss: None,
                learning_rate: 1e-3,
            },
            CurvePoint {
                step: 100,
                train_loss: 4.0,
                validation_loss: Some(4.25),
                learning_rate: 5e-4,
            },
        ];
        assert_eq!(
            csv(&curve),
            "step,train_loss,validation_loss,learning_rate\n50,4.5,,1e-3\n100,4,4.25,5e-4\n"
        );
    }
}
