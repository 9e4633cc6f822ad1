//! One policy step (featurize + core + heads + decode) at batch 1, 4, 8, 16 and
//! 64, for the shipped default model's shape and for larger cores.
//!
//! `cargo bench -p fourstock-policy --bench step`. Each compute thread of the
//! daemon runs one step on one core, so the bench pins candle to one thread
//! (RAYON_NUM_THREADS=1) unless the environment says otherwise.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use fourstock_policy::{Policy, StepRequest};
use fourstock_proto::{Frame, PlayerFrame, StageState};
use fourstock_recurrent::{CellKind, FeatureConfig, PolicyConfig, RecurrentPolicy};

fn player(port: u8, character: u8) -> PlayerFrame {
    PlayerFrame {
        action_state: 20,
        action_frame: 3.0,
        x: -20.0,
        percent: 35.0,
        speed_ground_x_self: 1.2,
        ..PlayerFrame::new(port, character)
    }
}

fn model(cell: CellKind, hidden: Vec<usize>) -> RecurrentPolicy {
    let config = PolicyConfig {
        name: "bench".into(),
        description: String::new(),
        trained: false,
        cell,
        hidden_sizes: hidden,
        features: FeatureConfig {
            speeds: true,
            opponents: 1,
        },
        delay: 0,
        reset: Default::default(),
        decoding: Default::default(),
        characters: Vec::new(),
    };
    RecurrentPolicy::initialize(config, 0).expect("a bench model")
}

fn step(c: &mut Criterion) {
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        std::env::set_var("RAYON_NUM_THREADS", "1");
    }
    let frame = Frame {
        frame: 100,
        stage: 31,
        stage_state: StageState::NONE,
        players: vec![player(1, 20), player(2, 2)],
    };
    let models = [
        ("default 2xLSTM128", model(CellKind::Lstm, vec![128, 128])),
        ("2xLSTM256", model(CellKind::Lstm, vec![256, 256])),
        ("2xLSTM512", model(CellKind::Lstm, vec![512, 512])),
        ("2xGRU512", model(CellKind::Gru, vec![512, 512])),
    ];
    let mut group = c.benchmark_group("policy step");
    for (name, policy) in &models {
        for batch in [1usize, 4, 8, 16, 64] {
            let mut states: Vec<_> = (0..batch).map(|i| policy.initial_state(i as u64)).collect();
            group.throughput(Throughput::Elements(batch as u64));
            group.bench_with_input(BenchmarkId::new(*name, batch), &batch, |b, _| {
                b.iter(|| {
                    let mut requests = StepRequest::same_frame(&frame, 1, &mut states);
                    policy.step(&mut requests).expect("a step")
                })
            });
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).warm_up_time(std::time::Duration::from_millis(500)).measurement_time(std::time::Duration::from_secs(2));
    targets = step
}
criterion_main!(benches);
