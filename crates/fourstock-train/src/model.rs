//! The policy under training: the daemon's own [`RecurrentCore`] and
//! [`ControllerHead`], built over candle `Var`s so gradients reach them,
//! unrolled over a window with the state reset row by row where the daemon
//! resets it. Saved as the checkpoint the daemon loads.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{VarBuilder, VarMap};
use fourstock_recurrent::checkpoint::{self, CheckpointError};
use fourstock_recurrent::core::RecurrentCore;
use fourstock_recurrent::featurizer::Featurizer;
use fourstock_recurrent::head::ControllerHead;
use fourstock_recurrent::{action, Decoding, PolicyConfig, RecurrentPolicy};

use crate::calibrate::Calibration;
use crate::window::Window;

pub struct TrainModel {
    config: PolicyConfig,
    featurizer: Featurizer,
    vars: VarMap,
    core: RecurrentCore,
    head: ControllerHead,
}

impl TrainModel {
    /// A fresh model: the same seeded initialisation as
    /// [`RecurrentPolicy::initialize`], held in variables.
    pub fn new(config: PolicyConfig, seed: u64) -> Result<TrainModel, CheckpointError> {
        let init = RecurrentPolicy::initialize(config.clone(), seed)?;
        let here = Path::new(&config.name).to_path_buf();
        TrainModel::from_tensors(config, init.tensors())
            .map_err(|source| CheckpointError::Tensor { path: here, source })
    }

    /// A model whose variables start from `tensors` (named as in a checkpoint).
    pub fn from_tensors(
        config: PolicyConfig,
        tensors: &[(String, Tensor)],
    ) -> candle_core::Result<TrainModel> {
        let featurizer = Featurizer::new(&config.features);
        let vars = VarMap::new();
        {
            let mut data = vars.data().lock().expect("a fresh var map");
            for (name, tensor) in tensors {
                // A copy: the variables must not share storage with `tensors`.
                data.insert(name.clone(), Var::from_tensor(&tensor.copy()?)?);
            }
        }
        let vb = VarBuilder::from_varmap(&vars, DType::F32, &Device::Cpu);
        let core = RecurrentCore::from_var_builder(
            config.cell,
            featurizer.size(),
            &config.hidden_sizes,
            vb.pp("core"),
        )?;
        let head =
            ControllerHead::from_var_builder(*config.hidden_sizes.last().unwrap(), vb.pp("head"))?;
        Ok(TrainModel {
            config,
            featurizer,
            vars,
            core,
            head,
        })
    }

    pub fn config(&self) -> &PolicyConfig {
        &self.config
    }

    pub fn config_mut(&mut self) -> &mut PolicyConfig {
        &mut self.config
    }

    pub fn featurizer(&self) -> &Featurizer {
        &self.featurizer
    }

    /// Every variable, in checkpoint order.
    pub fn vars(&self) -> Vec<Var> {
        let data = self.vars.data().lock().expect("var map lock");
        self.names().iter().map(|n| data[n].clone()).collect()
    }

    fn names(&self) -> Vec<String> {
        checkpoint::expected_tensors(&self.config, self.featurizer.size())
            .into_iter()
            .map(|(name, _)| name)
            .collect()
    }

    /// A zero state for `lanes` rows: what [`fourstock_policy::Policy::initial_state`] gives one port.
    pub fn zero_state(&self, lanes: usize) -> candle_core::Result<Vec<Tensor>> {
        self.core.zero_state(lanes, &Device::Cpu)
    }

    /// Unrolls the core over `window` from `state`: logits (steps * lanes,
    /// 81), time-major, and the state after the window. Before each step a
    /// row whose `keep` is 0 restarts from the zero state, as the daemon's
    /// reset does.
    pub fn unroll(
        &self,
        window: &Window,
        state: Vec<Tensor>,
    ) -> candle_core::Result<(Tensor, Vec<Tensor>)> {
        let (steps, lanes) = (window.steps, window.lanes);
        // The bottom layer's projection of the whole window in one matmul;
        // a training core's variables take the dense path, so gradients flow.
        let projected = self
            .core
            .project_sparse(&window.features, steps * lanes)?
            .reshape((steps, lanes, ()))?;
        let keep = Tensor::from_slice(&window.keep, (steps, lanes, 1), &Device::Cpu)?;
        let mut state = state;
        let mut tops = Vec::with_capacity(steps);
        for t in 0..steps {
            let keep_t = keep.get(t)?;
            if window.keep[t * lanes..(t + 1) * lanes].contains(&0.0) {
                state = state
                    .iter()
                    .map(|s| s.broadcast_mul(&keep_t))
                    .collect::<candle_core::Result<_>>()?;
            }
            let (top, next) = self.core.step_projected(&projected.get(t)?, &state)?;
            tops.push(top);
            state = next;
        }
        let top = Tensor::cat(&tops, 0)?;
        Ok((self.head.logits(&top)?, state))
    }

    /// The current weights, copied, named as in a checkpoint.
    pub fn tensors(&self) -> candle_core::Result<Vec<(String, Tensor)>> {
        let data = self.vars.data().lock().expect("var map lock");
        self.names()
            .into_iter()
            .map(|name| {
                let t = data[&name].as_tensor().copy()?;
                Ok((name, t))
            })
            .collect()
    }

    /// The servable policy with the current weights.
    pub fn policy(&self) -> candle_core::Result<RecurrentPolicy> {
        let tensors: HashMap<String, Tensor> = self.tensors()?.into_iter().collect();
        RecurrentPolicy::from_tensors(self.config.clone(), tensors)
    }

    /// Folds `calibration`'s temperatures into the head (each logit's row
    /// of the weight, and its bias, divided by its output's temperature)
    /// and makes the decoding `calibrated` with its decision bias and
    /// persistence.
    pub fn calibrate(&mut self, calibration: &Calibration) -> candle_core::Result<()> {
        let scale = Tensor::from_vec(calibration.logit_scale(), action::SIZE, &Device::Cpu)?;
        {
            let data = self.vars.data().lock().expect("var map lock");
            let weight = &data["head.weight"];
            weight.set(&weight.as_tensor().broadcast_mul(&scale.unsqueeze(1)?)?)?;
            let bias = &data["head.bias"];
            bias.set(&bias.as_tensor().mul(&scale)?)?;
        }
        self.config.decoding = Decoding::Calibrated {
            bias: calibration.bias.clone(),
            persistence: calibration.persistence.to_vec(),
        };
        Ok(())
    }

    /// Writes `dir/config.json` and `dir/model.safetensors`.
    pub fn save(&self, dir: &Path) -> Result<(), CheckpointError> {
        let tensors = self.tensors().map_err(|source| CheckpointError::Tensor {
            path: dir.to_path_buf(),
            source,
        })?;
        checkpoint::write(dir, &self.config, &tensors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calibrate::{output_span, OUTPUTS};
    use fourstock_recurrent::CellKind;

    #[test]
    fn calibration_divides_each_outputs_head_rows_and_sets_the_decision_bias() {
        let config = PolicyConfig::new("t".into(), CellKind::Lstm, vec![8], false, 0);
        let mut model = TrainModel::new(config, 7).unwrap();
        let head = |m: &TrainModel| -> (Vec<Vec<f32>>, Vec<f32>) {
            let tensors: HashMap<String, Tensor> = m.tensors().unwrap().into_iter().collect();
            (
                tensors["head.weight"].to_vec2().unwrap(),
                tensors["head.bias"].to_vec1().unwrap(),
            )
        };
        let (w0, b0) = head(&model);
        let mut temperature = [1.0f32; OUTPUTS];
        temperature[1] = 2.0; // B
        temperature[8] = 0.5; // main x
        let bias: Vec<f32> = (0..action::SIZE).map(|k| k as f32 / 100.0).collect();
        let calibration = Calibration {
            temperature,
            bias: bias.clone(),
            persistence: [0.5; OUTPUTS],
            frames: 1,
        };
        model.calibrate(&calibration).unwrap();
        let (w1, b1) = head(&model);
        let (main_x, classes) = output_span(8);
        for k in 0..action::SIZE {
            let t = if k == 1 {
                2.0
            } else if (main_x..main_x + classes).contains(&k) {
                0.5
            } else {
                1.0
            };
            assert!((b1[k] - b0[k] / t).abs() < 1e-6, "bias {k}");
            for (after, before) in w1[k].iter().zip(&w0[k]) {
                assert!((after - before / t).abs() < 1e-6, "row {k}");
            }
        }
        assert_eq!(
            model.config().decoding,
            Decoding::Calibrated {
                bias,
                persistence: vec![0.5; OUTPUTS]
            }
        );
    }
}
