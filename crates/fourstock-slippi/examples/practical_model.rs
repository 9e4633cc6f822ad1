//! Writes a models folder holding one slippi-ai-shaped model at practical
//! size (random weights, [`fourstock_slippi::timing`]) as its default, so
//! the daemon and `fourstock bench` can be timed with it:
//!
//! ```text
//! cargo run --release -p fourstock-slippi --example practical_model -- /tmp/phillip-size
//! fourstock bench --sessions 1 --unpaced --daemon-args "--models /tmp/phillip-size"
//! ```

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let Some(dir) = std::env::args_os().nth(1).map(PathBuf::from) else {
        return Err("usage: practical_model DIR".into());
    };
    let name = "tx-like-3x512";
    let parameters = fourstock_slippi::timing::write_practical_model(&dir.join(name), name, 0)?;
    std::fs::write(
        dir.join("index.json"),
        format!("{{\"default\": \"{name}\"}}\n"),
    )?;
    println!("{}: {name}, {parameters} parameters", dir.display());
    Ok(())
}
