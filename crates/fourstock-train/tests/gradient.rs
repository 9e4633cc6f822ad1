//! Gradient check: candle's gradients through one step of the daemon's own
//! recurrent core (and the controller head) match central finite
//! differences, in f64, on a tiny model.

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{VarBuilder, VarMap};
use fourstock_recurrent::core::RecurrentCore;
use fourstock_recurrent::head::ControllerHead;
use fourstock_recurrent::CellKind;

const INPUT: usize = 3;
const HIDDEN: usize = 2;

/// A scalar of one step: weighted sums of every new state tensor and of
/// the head's logits, so every weight matters.
fn objective(
    core: &RecurrentCore,
    head: &ControllerHead,
    x: &Tensor,
    state: &[Tensor],
    weights: &[Tensor],
) -> Tensor {
    let (top, next) = core.step(x, state).unwrap();
    let mut total = head
        .logits(&top)
        .unwrap()
        .mul(&weights[0])
        .unwrap()
        .sum_all()
        .unwrap();
    for (s, w) in next.iter().zip(&weights[1..]) {
        total = (total + s.mul(w).unwrap().sum_all().unwrap()).unwrap();
    }
    total
}

fn check(cell: CellKind) {
    let dev = Device::Cpu;
    let vars = VarMap::new();
    let vb = VarBuilder::from_varmap(&vars, DType::F64, &dev);
    let core = RecurrentCore::from_var_builder(cell, INPUT, &[HIDDEN], vb.pp("core")).unwrap();
    let head = ControllerHead::from_var_builder(HIDDEN, vb.pp("head")).unwrap();
    // Deterministic inputs, a non-zero state so the recurrent weights matter.
    let values =
        |n: usize, k: f64| -> Vec<f64> { (0..n).map(|i| ((i as f64 + 1.0) * k).sin()).collect() };
    let x = Tensor::from_vec(values(INPUT, 1.3), (1, INPUT), &dev).unwrap();
    let state: Vec<Tensor> = core
        .state_sizes()
        .enumerate()
        .map(|(k, h)| Tensor::from_vec(values(h, 0.7 + k as f64), (1, h), &dev).unwrap())
        .collect();
    let mut weights = vec![Tensor::from_vec(values(81, 0.37), (1, 81), &dev).unwrap()];
    for (k, h) in core.state_sizes().enumerate() {
        weights.push(Tensor::from_vec(values(h, 2.1 + k as f64), (1, h), &dev).unwrap());
    }

    let loss = objective(&core, &head, &x, &state, &weights);
    let grads = loss.backward().unwrap();
    let all: Vec<(String, Var)> = {
        let data = vars.data().lock().unwrap();
        let mut all: Vec<_> = data.iter().map(|(n, v)| (n.clone(), v.clone())).collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    };
    assert_eq!(all.len(), 6, "4 core tensors and 2 head tensors");
    let eps = 1e-6;
    let mut checked = 0;
    for (name, var) in &all {
        let analytic = grads
            .get(var.as_tensor())
            .unwrap_or_else(|| panic!("no gradient for {name}"))
            .flatten_all()
            .unwrap()
            .to_vec1::<f64>()
            .unwrap();
        let original = var.as_tensor().copy().unwrap();
        let flat = original.flatten_all().unwrap().to_vec1::<f64>().unwrap();
        for (i, &g) in analytic.iter().enumerate() {
            let at = |delta: f64| {
                let mut v = flat.clone();
                v[i] += delta;
                var.set(&Tensor::from_vec(v, original.shape(), &dev).unwrap())
                    .unwrap();
                objective(&core, &head, &x, &state, &weights)
                    .to_scalar::<f64>()
                    .unwrap()
            };
            let numeric = (at(eps) - at(-eps)) / (2.0 * eps);
            var.set(&original).unwrap();
            let tolerance = 1e-6 * (1.0 + numeric.abs());
            assert!(
                (g - numeric).abs() < tolerance,
                "{cell:?} {name}[{i}]: candle {g} vs finite difference {numeric}"
            );
            checked += 1;
        }
    }
    assert!(checked > 100);
}

#[test]
fn lstm_step_gradients_match_finite_differences() {
    check(CellKind::Lstm);
}

#[test]
fn gru_step_gradients_match_finite_differences() {
    check(CellKind::Gru);
}
