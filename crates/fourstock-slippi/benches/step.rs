//! A full serving step (featurize + core + sampled head) at slippi-ai's
//! practical size: tx_like 3 x 512 LSTM (ffw multiplier 2), autoregressive
//! head with residual 128 and component depth 2, about 10.5 M parameters,
//! random weights written in the imported format and loaded back; at batch
//! 1 and 64.
//!
//! `cargo bench -p fourstock-slippi --bench step`. candle runs
//! single-threaded (RAYON_NUM_THREADS=1) unless the environment says
//! otherwise, as in the daemon.

use std::collections::BTreeMap;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use fourstock_policy::{Policy, PolicyState, StepRequest};
use fourstock_proto::{Frame, PlayerFrame};
use fourstock_slippi::config::{
    Activation, CoreConfig, EmbedConfig, HeadConfig, LayerNormKind, FAMILY,
};
use fourstock_slippi::{weights, SlippiConfig, SlippiModel, SlippiPolicy};

fn config() -> SlippiConfig {
    SlippiConfig {
        family: FAMILY.into(),
        name: "timing".into(),
        description: "random weights for timing".into(),
        core: CoreConfig {
            hidden_size: 512,
            num_layers: 3,
            ffw_multiplier: 2,
            activation: Activation::Gelu,
            gelu_approximate: true,
            layer_norm: LayerNormKind::Nnx,
        },
        head: HeadConfig {
            residual_size: 128,
            component_depth: 2,
        },
        embed: EmbedConfig {
            xy_scale: 0.05,
            shield_scale: 0.01,
            with_randall: true,
            with_fod: true,
            axis_spacing: 4,
            shoulder_spacing: 4,
            max_names: 16,
        },
        delay: 0,
        tech_mask: true,
        name_map: BTreeMap::from([("Player".to_string(), 0)]),
        player_name: Some("Player".into()),
        temperature: 1.0,
    }
}

fn frame(t: i32) -> Frame {
    let player = |port: u8, x: f32| PlayerFrame {
        action_state: (14 + (t as u16 % 300)) % 0x18F,
        x,
        y: (t % 40) as f32,
        facing_right: t % 2 == 0,
        percent: (t % 150) as f32,
        jumps_left: 1,
        on_ground: t % 3 == 0,
        ..PlayerFrame::new(port, if port == 1 { 2 } else { 9 })
    };
    Frame {
        frame: t - 123,
        stage: 31,
        players: vec![player(1, -40.0 + (t % 80) as f32), player(2, 40.0)],
    }
}

fn step(c: &mut Criterion) {
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        std::env::set_var("RAYON_NUM_THREADS", "1");
    }
    let config = config();
    let tensors = weights::random_tensors(&config, 0);
    let dir = std::env::temp_dir().join(format!("fourstock-slippi-bench-{}", std::process::id()));
    SlippiModel::write_dir(&dir, &config, &tensors).expect("writing the model");
    let policy = SlippiPolicy::load(&dir).expect("loading the model");
    let _ = std::fs::remove_dir_all(&dir);
    let frames: Vec<Frame> = (0..600).map(frame).collect();
    let mut group = c.benchmark_group("slippi-ai tx_like 3x512 step");
    for batch in [1usize, 64] {
        let mut states: Vec<PolicyState> =
            (0..batch).map(|i| policy.initial_state(i as u64)).collect();
        let mut t = 0;
        group.throughput(Throughput::Elements(batch as u64));
        group.bench_with_input(BenchmarkId::from_parameter(batch), &batch, |b, _| {
            b.iter(|| {
                t = (t + 1) % frames.len();
                let mut requests: Vec<StepRequest<'_>> = states
                    .iter_mut()
                    .map(|state| StepRequest {
                        frame: &frames[t],
                        port: 1,
                        state,
                    })
                    .collect();
                policy.step(&mut requests).expect("a step")
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).warm_up_time(std::time::Duration::from_millis(500)).measurement_time(std::time::Duration::from_secs(3));
    targets = step
}
criterion_main!(benches);
