//! slippi-ai's `simple` embedding: an [`Observation`], the previous
//! controller and the imitated player's name code as one flat f32 vector.
//!
//! Layout, in order (1009 wide for jax_demo):
//! - p0 then p1, each: percent (`f32(uint16) * 0.01`), facing (+1/-1), x and
//!   y (`* xy_scale`), action one-hot over 399 (ids clamped to 398),
//!   character one-hot over 33, invulnerable (1/0), jumps left one-hot over
//!   7, shield strength (`* shield_scale`), on ground (1/0);
//! - stage one-hot over 64;
//! - Randall x and y, Fountain of Dreams left and right (`* xy_scale`), if
//!   the config has them;
//! - the previous controller: 8 button bits, then one-hots for main stick x
//!   and y, c-stick x and y and the shoulder;
//! - the name code one-hot over `max_names` (empty when out of range).
//!
//! Every float is computed in f32 and clamped to [-10, 10]. Where slippi-ai
//! would raise on an out-of-range id (character, jumps, stage), the one-hot
//! is left empty instead, so a strange frame cannot stop a session.
//!
//! The layout and the writer come from one walk over the fields
//! ([`Featurizer::emit`]), so they cannot disagree.

use fourstock_proto::melee;

use crate::config::EmbedConfig;
use crate::controller::{ControllerClasses, ControllerSpace, COMPONENT_NAMES};
use crate::observation::{Observation, PlayerObservation};

/// slippi-ai's one-hot sizes. Its characters and stages are libmelee's
/// internal ids, which fit the same widths as the external ones.
pub const ACTIONS: usize = 0x18F;
pub const CHARACTERS: usize = melee::CHARACTERS as usize;
pub const JUMPS: usize = 7;
pub const STAGES: usize = melee::STAGES as usize;
pub const PERCENT_SCALE: f32 = 0.01;
pub const FLOAT_LIMIT: f32 = 10.0;

/// One named slice of the feature vector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slice {
    /// slippi-ai's field path, e.g. `state/p0/action`.
    pub field: String,
    pub offset: usize,
    pub size: usize,
}

/// Writes feature vectors for one embed config.
#[derive(Clone, Debug)]
pub struct Featurizer {
    xy_scale: f32,
    shield_scale: f32,
    with_randall: bool,
    with_fod: bool,
    max_names: usize,
    space: ControllerSpace,
    layout: Vec<Slice>,
    size: usize,
}

/// A field's path as (prefix, name), joined only when a layout is built,
/// so writing a vector allocates nothing.
#[derive(Clone, Copy)]
struct Field<'a>(&'a str, &'a str);

/// Where the walk over the fields goes: a layout or a vector.
trait Sink {
    fn float(&mut self, field: Field, value: f32);
    fn one_hot(&mut self, field: Field, size: usize, index: Option<usize>);
    /// A component of the previous controller.
    fn component(&mut self, field: Field, width: usize, write: &dyn Fn(&mut [f32]));
}

struct LayoutSink(Vec<Slice>, usize);

impl LayoutSink {
    fn push(&mut self, Field(prefix, name): Field, size: usize) {
        let field = if prefix.is_empty() {
            name.to_string()
        } else {
            format!("{prefix}/{name}")
        };
        self.0.push(Slice {
            field,
            offset: self.1,
            size,
        });
        self.1 += size;
    }
}

impl Sink for LayoutSink {
    fn float(&mut self, field: Field, _: f32) {
        self.push(field, 1);
    }
    fn one_hot(&mut self, field: Field, size: usize, _: Option<usize>) {
        self.push(field, size);
    }
    fn component(&mut self, field: Field, width: usize, _: &dyn Fn(&mut [f32])) {
        self.push(field, width);
    }
}

struct BufferSink<'a> {
    out: &'a mut [f32],
    at: usize,
}

impl Sink for BufferSink<'_> {
    fn float(&mut self, _: Field, value: f32) {
        self.out[self.at] = value;
        self.at += 1;
    }
    fn one_hot(&mut self, _: Field, size: usize, index: Option<usize>) {
        let slots = &mut self.out[self.at..self.at + size];
        slots.fill(0.0);
        if let Some(slot) = index.and_then(|i| slots.get_mut(i)) {
            *slot = 1.0;
        }
        self.at += size;
    }
    fn component(&mut self, _: Field, width: usize, write: &dyn Fn(&mut [f32])) {
        write(&mut self.out[self.at..self.at + width]);
        self.at += width;
    }
}

/// `clamp(x, -10, 10)` as slippi-ai's FloatEmbedding does it (NaN stays NaN).
fn clamp(x: f32) -> f32 {
    x.clamp(-FLOAT_LIMIT, FLOAT_LIMIT)
}

fn below(value: usize, size: usize) -> Option<usize> {
    (value < size).then_some(value)
}

impl Featurizer {
    pub fn new(config: &EmbedConfig) -> Featurizer {
        let mut featurizer = Featurizer {
            xy_scale: config.xy_scale,
            shield_scale: config.shield_scale,
            with_randall: config.with_randall,
            with_fod: config.with_fod,
            max_names: config.max_names,
            space: ControllerSpace::new(config),
            layout: Vec::new(),
            size: 0,
        };
        let mut sink = LayoutSink(Vec::new(), 0);
        featurizer.emit(
            &Observation::default(),
            &ControllerClasses::default(),
            None,
            &mut sink,
        );
        featurizer.size = sink.1;
        featurizer.layout = sink.0;
        featurizer
    }

    /// Width of the feature vector.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Every slice of the feature vector, in order.
    pub fn layout(&self) -> &[Slice] {
        &self.layout
    }

    pub fn controller_space(&self) -> ControllerSpace {
        self.space
    }

    /// Writes the features into `out`, which must be [`Featurizer::size`]
    /// long. Allocates nothing.
    pub fn write(
        &self,
        obs: &Observation,
        prev: &ControllerClasses,
        name_code: Option<u32>,
        out: &mut [f32],
    ) {
        debug_assert_eq!(out.len(), self.size);
        self.emit(obs, prev, name_code, &mut BufferSink { out, at: 0 });
    }

    fn emit(
        &self,
        obs: &Observation,
        prev: &ControllerClasses,
        name_code: Option<u32>,
        sink: &mut dyn Sink,
    ) {
        self.emit_player("state/p0", &obs.p0, sink);
        self.emit_player("state/p1", &obs.p1, sink);
        let stage = below(obs.stage as usize, STAGES);
        sink.one_hot(Field("state", "stage"), STAGES, stage);
        let xy = |v: f32| clamp(v * self.xy_scale);
        if self.with_randall {
            sink.float(Field("state/randall", "x"), xy(obs.randall[0]));
            sink.float(Field("state/randall", "y"), xy(obs.randall[1]));
        }
        if self.with_fod {
            let [left, right] = obs.fod_platforms;
            sink.float(Field("state/fod_platforms", "left"), xy(left));
            sink.float(Field("state/fod_platforms", "right"), xy(right));
        }
        for (k, name) in COMPONENT_NAMES.iter().enumerate() {
            let class = prev.0[k];
            sink.component(Field("action", name), self.space.width(k), &|out| {
                self.space.embed(k, class, out)
            });
        }
        let name = name_code.and_then(|c| below(c as usize, self.max_names));
        sink.one_hot(Field("", "name"), self.max_names, name);
    }

    fn emit_player(&self, prefix: &str, p: &PlayerObservation, sink: &mut dyn Sink) {
        let field = |name| Field(prefix, name);
        sink.float(field("percent"), clamp(p.percent as f32 * PERCENT_SCALE));
        sink.float(field("facing"), if p.facing { 1.0 } else { -1.0 });
        sink.float(field("x"), clamp(p.x * self.xy_scale));
        sink.float(field("y"), clamp(p.y * self.xy_scale));
        let action = (p.action as usize).min(ACTIONS - 1);
        sink.one_hot(field("action"), ACTIONS, Some(action));
        sink.one_hot(
            field("character"),
            CHARACTERS,
            below(p.character as usize, CHARACTERS),
        );
        sink.float(field("invulnerable"), p.invulnerable as u8 as f32);
        sink.one_hot(
            field("jumps_left"),
            JUMPS,
            below(p.jumps_left as usize, JUMPS),
        );
        sink.float(
            field("shield_strength"),
            clamp(p.shield_strength * self.shield_scale),
        );
        sink.float(field("on_ground"), p.on_ground as u8 as f32);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> EmbedConfig {
        EmbedConfig {
            xy_scale: 0.05,
            shield_scale: 0.01,
            with_randall: true,
            with_fod: true,
            axis_spacing: 4,
            shoulder_spacing: 4,
            max_names: 16,
        }
    }

    #[test]
    fn jax_demo_layout_is_1009_wide() {
        let f = Featurizer::new(&config());
        assert_eq!(f.size(), 1009);
        let at = |field: &str| f.layout().iter().find(|s| s.field == field).unwrap().offset;
        assert_eq!(at("state/p1/percent"), 446);
        assert_eq!(at("state/stage"), 892);
        assert_eq!(at("action/buttons/A"), 960);
        assert_eq!(at("name"), 993);
        let mut no_stage_extras = config();
        no_stage_extras.with_randall = false;
        no_stage_extras.with_fod = false;
        assert_eq!(Featurizer::new(&no_stage_extras).size(), 1005);
    }

    #[test]
    fn floats_are_scaled_and_clamped_and_ids_bounded() {
        let f = Featurizer::new(&config());
        let mut obs = Observation::default();
        obs.p0.x = 1000.0;
        obs.p0.y = -20.0;
        obs.p0.percent = 150;
        obs.p0.action = 0x200;
        obs.p0.character = 40;
        obs.p0.jumps_left = 9;
        obs.p1.facing = true;
        obs.stage = 24;
        let mut out = vec![f32::NAN; f.size()];
        f.write(&obs, &ControllerClasses::default(), Some(99), &mut out);
        assert!(out.iter().all(|v| v.is_finite()));
        assert_eq!(out[0], 1.5);
        assert_eq!(out[1], -1.0);
        assert_eq!((out[2], out[3]), (10.0, -1.0));
        assert_eq!(out[4 + 398], 1.0, "action clamped to 398");
        assert_eq!(
            out[403..403 + 33].iter().sum::<f32>(),
            0.0,
            "bad character: empty"
        );
        assert_eq!(out[437..444].iter().sum::<f32>(), 0.0, "bad jumps: empty");
        assert_eq!(out[447], 1.0);
        assert_eq!(out[892 + 24], 1.0);
        assert_eq!(out[993..].iter().sum::<f32>(), 0.0, "bad name: empty");
        // Default previous controller: every class 0.
        assert_eq!(out[968], 1.0);
    }
}
