//! Writes a models folder holding one slippi-ai-shaped model at practical
//! size (random weights, [`fourstock_slippi::timing`]) as its default, so
//! the daemon, the UMI bot and `fourstock bench` can be timed with it.
//! `--weights f16` has it served from f16 weights (`weight_precision` in
//! its config.json):
//!
//! ```text
//! cargo run --release -p fourstock-slippi --example practical_model -- /tmp/phillip-size
//! fourstock bench --sessions 1 --unpaced --daemon-args "--models /tmp/phillip-size"
//! ```

use std::path::PathBuf;

use fourstock_slippi::config::Precision;

const USAGE: &str = "usage: practical_model DIR [--weights f32|f16]";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (dir, precision) = match args.as_slice() {
        // A flag is never a folder: `practical_model --help` once wrote a
        // 41 MB folder named `--help` into the checkout.
        [dir, ..] if dir.starts_with('-') => return Err(USAGE.into()),
        [dir] => (dir, Precision::F32),
        [dir, flag, precision] if flag == "--weights" => (
            dir,
            serde_json::from_value(serde_json::Value::String(precision.clone()))
                .map_err(|_| format!("--weights {precision}: expected f32 or f16"))?,
        ),
        _ => return Err(USAGE.into()),
    };
    let dir = PathBuf::from(dir);
    let name = "tx-like-3x512";
    let parameters =
        fourstock_slippi::timing::write_practical_model(&dir.join(name), name, 0, precision)?;
    std::fs::write(
        dir.join("index.json"),
        format!("{{\"default\": \"{name}\"}}\n"),
    )?;
    println!(
        "{}: {name}, {parameters} parameters, served as {precision:?}",
        dir.display()
    );
    Ok(())
}
