//! A full serving step (featurize + core + sampled head) at slippi-ai's
//! practical size ([`fourstock_slippi::timing`]: tx_like 3 x 512, about
//! 10.5 M parameters), random weights written in the imported format and
//! loaded back; at batch 1, 16 and 64.
//!
//! The parts group times the core and the head apart, the core through
//! the small-batch path and through candle's ops, and the read floor: one
//! pass over as many bytes as the model has weights.
//!
//! `cargo bench -p fourstock-slippi --bench step`. candle runs
//! single-threaded (RAYON_NUM_THREADS=1) unless the environment says
//! otherwise, as in the daemon.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use fourstock_policy::{Policy, PolicyState, StepRequest};
use fourstock_proto::{Frame, PlayerFrame, StageState};
use fourstock_slippi::config::Precision;
use fourstock_slippi::{timing, SlippiPolicy};

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
        stage_state: StageState::NONE,
        players: vec![player(1, -40.0 + (t % 80) as f32), player(2, 40.0)],
    }
}

fn step(c: &mut Criterion) {
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        std::env::set_var("RAYON_NUM_THREADS", "1");
    }
    let dir = std::env::temp_dir().join(format!("fourstock-slippi-bench-{}", std::process::id()));
    let parameters = timing::write_practical_model(&dir, "timing", 0, Default::default())
        .expect("writing the model");
    let policy = SlippiPolicy::load(&dir).expect("loading the model");
    let _ = std::fs::remove_dir_all(&dir);
    let frames: Vec<Frame> = (0..600).map(frame).collect();
    let mut group = c.benchmark_group("slippi-ai tx_like 3x512 step");
    for batch in [1usize, 16, 64] {
        let mut states: Vec<PolicyState> =
            (0..batch).map(|i| policy.initial_state(i as u64)).collect();
        let mut t = 0;
        group.throughput(Throughput::Elements(batch as u64));
        group.bench_with_input(BenchmarkId::from_parameter(batch), &batch, |b, _| {
            b.iter(|| {
                t = (t + 1) % frames.len();
                let mut requests = StepRequest::same_frame(&frames[t], 1, &mut states);
                policy.step(&mut requests).expect("a step")
            })
        });
    }
    group.finish();

    // criterion reports central estimates; the target is a p99. Time 3000
    // single steps one by one, and as many passes over the weights' bytes,
    // and print both distributions: the read floor's tail is the memory's.
    let weights_sized = vec![1f32; parameters];
    // The same model served from f16 weights: half the bytes per step.
    let dir16 = dir.with_extension("f16");
    timing::write_practical_model(&dir16, "timing", 0, Precision::F16).expect("writing the model");
    let policy16 = SlippiPolicy::load(&dir16).expect("loading the model");
    let _ = std::fs::remove_dir_all(&dir16);
    for (what, policy) in [("step/1", &policy), ("step/1 f16", &policy16)] {
        let mut state = policy.initial_state(7);
        let mut t = 0;
        distribution(what, || {
            t += 1;
            let mut request = [StepRequest {
                frame: &frames[t % frames.len()],
                port: 1,
                state: &mut state,
            }];
            std::hint::black_box(policy.step(&mut request).expect("a step"));
        });
    }
    distribution("read floor", || {
        std::hint::black_box(read_all(&weights_sized));
    });
    let halves = vec![half::f16::ONE; parameters];
    distribution("read floor f16", || {
        std::hint::black_box(halves.iter().fold(0u16, |a, h| a ^ h.to_bits()));
    });

    // The step's two halves, to show where the time goes.
    let model = policy.model();
    let core = model.core();
    let mut parts = c.benchmark_group("slippi-ai tx_like 3x512 parts");
    // The floor of a batch-1 step: reading as many bytes as the model has
    // weights, once, on one core.
    let weights_sized = vec![1f32; parameters];
    parts.bench_function(format!("read floor ({parameters} f32)"), |b| {
        b.iter(|| {
            let lanes = weights_sized
                .chunks_exact(16)
                .fold([0f32; 16], |mut acc, c| {
                    for (a, v) in acc.iter_mut().zip(c) {
                        *a += v;
                    }
                    acc
                });
            std::hint::black_box(lanes.iter().sum::<f32>())
        })
    });
    for batch in [1usize, 4, 16, 64] {
        // Dense inputs and state: the kernel skips zeros, a real step has few.
        let dense = |cols: usize| {
            candle_core::Tensor::rand(-1f32, 1f32, (batch, cols), &candle_core::Device::Cpu)
                .unwrap()
        };
        let x = dense(model.featurizer().size());
        let state: Vec<_> = (0..core.state_len())
            .map(|_| dense(core.hidden_size()))
            .collect();
        parts.bench_with_input(BenchmarkId::new("core", batch), &batch, |b, _| {
            b.iter(|| core.step(&x, &state).expect("a core step"))
        });
        // The same step through candle's ops, for comparison.
        parts.bench_with_input(
            BenchmarkId::new("core (candle ops)", batch),
            &batch,
            |b, _| b.iter(|| core.step_tensors(&x, &state).expect("a core step")),
        );
        let (out, _) = core.step(&x, &state).unwrap();
        let prev = vec![Default::default(); batch];
        parts.bench_with_input(BenchmarkId::new("head", batch), &batch, |b, _| {
            b.iter(|| {
                model
                    .head()
                    .run(&out, &prev, false, |_, _, logits| logits.len() as u8 / 2)
                    .expect("a head pass")
            })
        });
    }
    parts.finish();
}

/// One pass over `values`, summed in 16 lanes so that it vectorises.
fn read_all(values: &[f32]) -> f32 {
    let lanes = values.chunks_exact(16).fold([0f32; 16], |mut acc, c| {
        for (a, v) in acc.iter_mut().zip(c) {
            *a += v;
        }
        acc
    });
    lanes.iter().sum()
}

/// Runs `f` 3000 times, timing each, and prints the percentiles.
fn distribution(what: &str, mut f: impl FnMut()) {
    let mut times: Vec<f64> = (0..3000)
        .map(|_| {
            let started = std::time::Instant::now();
            f();
            started.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times[((times.len() - 1) as f64 * q) as usize];
    println!(
        "slippi-ai tx_like 3x512 {what}, 3000 one by one: p50 {:.3} ms, p90 {:.3} ms, p99 {:.3} ms, p99.9 {:.3} ms, max {:.3} ms",
        at(0.5),
        at(0.9),
        at(0.99),
        at(0.999),
        times[times.len() - 1]
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).warm_up_time(std::time::Duration::from_millis(500)).measurement_time(std::time::Duration::from_secs(3));
    targets = step
}
criterion_main!(benches);
