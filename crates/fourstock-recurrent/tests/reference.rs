//! The checkpoint test: candle's LSTM and GRU steps equal a reference
//! computed independently, in f64, straight from PyTorch's nn.LSTM / nn.GRU
//! equations over the same checkpoint tensors, within 1e-5.

mod common;

use std::collections::HashMap;

use candle_core::Tensor;
use fourstock_policy::{Policy, StepRequest};
use fourstock_recurrent::{CellKind, RecurrentPolicy};

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// A dense matrix in f64, row-major as PyTorch stores it.
struct Matrix {
    rows: usize,
    cols: usize,
    data: Vec<f64>,
}

impl Matrix {
    fn of(t: &Tensor) -> Matrix {
        let (rows, cols) = t.dims2().unwrap();
        let data = t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        Matrix {
            rows,
            cols,
            data: data.into_iter().map(f64::from).collect(),
        }
    }

    /// W x
    fn apply(&self, x: &[f64]) -> Vec<f64> {
        assert_eq!(x.len(), self.cols);
        (0..self.rows)
            .map(|r| {
                (0..self.cols)
                    .map(|c| self.data[r * self.cols + c] * x[c])
                    .sum()
            })
            .collect()
    }
}

fn vector(t: &Tensor) -> Vec<f64> {
    t.to_vec1::<f32>()
        .unwrap()
        .into_iter()
        .map(f64::from)
        .collect()
}

/// The reference model: PyTorch's equations, one sample at a time.
struct Reference {
    cell: CellKind,
    layers: Vec<(Matrix, Matrix, Vec<f64>, Vec<f64>)>,
    head: (Matrix, Vec<f64>),
}

impl Reference {
    fn new(policy: &RecurrentPolicy) -> Reference {
        let t: HashMap<&str, &Tensor> = policy
            .tensors()
            .iter()
            .map(|(n, t)| (n.as_str(), t))
            .collect();
        let layers = (0..policy.config().hidden_sizes.len())
            .map(|k| {
                (
                    Matrix::of(t[format!("core.weight_ih_l{k}").as_str()]),
                    Matrix::of(t[format!("core.weight_hh_l{k}").as_str()]),
                    vector(t[format!("core.bias_ih_l{k}").as_str()]),
                    vector(t[format!("core.bias_hh_l{k}").as_str()]),
                )
            })
            .collect();
        Reference {
            cell: policy.config().cell,
            layers,
            head: (Matrix::of(t["head.weight"]), vector(t["head.bias"])),
        }
    }

    /// State per layer: (h, c); c is unused by the GRU.
    fn zero_state(&self) -> Vec<(Vec<f64>, Vec<f64>)> {
        self.layers
            .iter()
            .map(|(_, w_hh, _, _)| (vec![0.0; w_hh.cols], vec![0.0; w_hh.cols]))
            .collect()
    }

    fn step(&self, x: &[f64], state: &mut [(Vec<f64>, Vec<f64>)]) -> Vec<f64> {
        let mut input = x.to_vec();
        for ((w_ih, w_hh, b_ih, b_hh), (h, c)) in self.layers.iter().zip(state.iter_mut()) {
            let n = h.len();
            let gi: Vec<f64> = w_ih
                .apply(&input)
                .iter()
                .zip(b_ih)
                .map(|(a, b)| a + b)
                .collect();
            let gh: Vec<f64> = w_hh.apply(h).iter().zip(b_hh).map(|(a, b)| a + b).collect();
            match self.cell {
                CellKind::Lstm => {
                    for j in 0..n {
                        let i = sigmoid(gi[j] + gh[j]);
                        let f = sigmoid(gi[n + j] + gh[n + j]);
                        let g = (gi[2 * n + j] + gh[2 * n + j]).tanh();
                        let o = sigmoid(gi[3 * n + j] + gh[3 * n + j]);
                        c[j] = f * c[j] + i * g;
                        h[j] = o * c[j].tanh();
                    }
                }
                CellKind::Gru => {
                    for j in 0..n {
                        let r = sigmoid(gi[j] + gh[j]);
                        let z = sigmoid(gi[n + j] + gh[n + j]);
                        let cand = (gi[2 * n + j] + r * gh[2 * n + j]).tanh();
                        h[j] = (1.0 - z) * cand + z * h[j];
                    }
                }
            }
            input = h.clone();
        }
        let (w, b) = &self.head;
        w.apply(&input).iter().zip(b).map(|(a, b)| a + b).collect()
    }
}

fn check(cell: CellKind, batch: usize) {
    let policy =
        RecurrentPolicy::initialize(common::config("ref", cell, vec![24, 12]), 11).unwrap();
    let reference = Reference::new(&policy);
    let width = policy.featurizer().size();
    let mut states: Vec<_> = (0..batch).map(|i| policy.initial_state(i as u64)).collect();
    let mut ref_states: Vec<_> = (0..batch).map(|_| reference.zero_state()).collect();
    let mut worst = 0f64;
    for n in 0..25 {
        // Each row plays a different frame, from port 1 or port 2.
        let frames: Vec<_> = (0..batch)
            .map(|i| common::frame(n * 3 + i as i32))
            .collect();
        let ports: Vec<u8> = (0..batch).map(|i| 1 + (i % 2) as u8).collect();
        let mut requests: Vec<StepRequest<'_>> = states
            .iter_mut()
            .zip(&frames)
            .zip(&ports)
            .map(|((state, frame), &port)| StepRequest { frame, port, state })
            .collect();
        let logits = policy
            .step_logits(&mut requests)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        for i in 0..batch {
            let mut x = vec![0f32; width];
            policy
                .featurizer()
                .write(&frames[i], ports[i], &mut x)
                .unwrap();
            let x: Vec<f64> = x.into_iter().map(f64::from).collect();
            let expected = reference.step(&x, &mut ref_states[i]);
            for (got, want) in logits[i].iter().zip(&expected) {
                worst = worst.max((*got as f64 - want).abs());
            }
            // The carried state itself matches, layer by layer.
            let per = if cell == CellKind::Lstm { 2 } else { 1 };
            for (k, (h, c)) in ref_states[i].iter().enumerate() {
                let got_h = states[i].tensors[k * per]
                    .flatten_all()
                    .unwrap()
                    .to_vec1::<f32>()
                    .unwrap();
                for (g, w) in got_h.iter().zip(h) {
                    worst = worst.max((*g as f64 - w).abs());
                }
                if cell == CellKind::Lstm {
                    let got_c = states[i].tensors[k * 2 + 1]
                        .flatten_all()
                        .unwrap()
                        .to_vec1::<f32>()
                        .unwrap();
                    for (g, w) in got_c.iter().zip(c) {
                        worst = worst.max((*g as f64 - w).abs());
                    }
                }
            }
        }
    }
    assert!(
        worst < 1e-5,
        "{cell:?} batch {batch}: worst difference {worst:e}"
    );
}

#[test]
fn lstm_step_matches_pytorch_equations_at_batch_1() {
    check(CellKind::Lstm, 1);
}

#[test]
fn lstm_step_matches_pytorch_equations_at_batch_3() {
    check(CellKind::Lstm, 3);
}

#[test]
fn gru_step_matches_pytorch_equations_at_batch_1() {
    check(CellKind::Gru, 1);
}

#[test]
fn gru_step_matches_pytorch_equations_at_batch_3() {
    check(CellKind::Gru, 3);
}

#[test]
fn a_batch_gives_each_row_what_it_would_get_alone() {
    for cell in [CellKind::Lstm, CellKind::Gru] {
        let policy =
            RecurrentPolicy::initialize(common::config("b", cell, vec![32, 32]), 5).unwrap();
        let mut alone: Vec<_> = (0..4).map(|i| policy.initial_state(i)).collect();
        let mut together: Vec<_> = (0..4).map(|i| policy.initial_state(i)).collect();
        for n in 0..10 {
            let frames: Vec<_> = (0..4).map(|i| common::frame(n + 100 * i)).collect();
            let mut solo_logits = Vec::new();
            for (state, frame) in alone.iter_mut().zip(&frames) {
                let mut one = [StepRequest {
                    frame,
                    port: 1,
                    state,
                }];
                solo_logits.push(
                    policy
                        .step_logits(&mut one)
                        .unwrap()
                        .to_vec2::<f32>()
                        .unwrap()
                        .remove(0),
                );
            }
            let mut batch: Vec<_> = together
                .iter_mut()
                .zip(&frames)
                .map(|(state, frame)| StepRequest {
                    frame,
                    port: 1,
                    state,
                })
                .collect();
            let batched = policy
                .step_logits(&mut batch)
                .unwrap()
                .to_vec2::<f32>()
                .unwrap();
            for (a, b) in solo_logits.iter().flatten().zip(batched.iter().flatten()) {
                assert!((a - b).abs() < 1e-5, "{cell:?} step {n}: {a} vs {b}");
            }
        }
    }
}
