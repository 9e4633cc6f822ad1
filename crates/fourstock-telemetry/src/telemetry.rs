//! The figures, registered under the `fourstock_` prefix with
//! prometheus-client, as the conventions name them: counters end in
//! `_total`, durations are histograms in `_seconds`.
//!
//! Everything a frame touches is resolved when the front end starts (a
//! [`ModelTelemetry`] per model, a counter per reply kind and reset cause),
//! so the hot path builds no label and takes no lock. Errors are rarer and
//! are looked up by code as they happen.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ModelLabel {
    model: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CauseLabel {
    cause: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabel {
    code: &'static str,
}

/// How a frame was answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyKind {
    /// The policy's own action, within the budget.
    OnTime,
    /// The fallback, because the step missed the budget.
    Fallback,
    /// A rollback re-send, answered again without stepping.
    Resend,
}

/// Why a port's hidden state was reset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResetKind {
    NewMatch,
    StockLoss,
}

/// One model's figures: its steps and how long each policy call took.
/// Cheap to clone (the handles are shared); one that is not registered
/// ([`ModelTelemetry::detached`]) counts into nothing anyone scrapes.
#[derive(Clone, Debug, Default)]
pub struct ModelTelemetry {
    steps: Counter,
    step_seconds: Option<Histogram>,
}

impl ModelTelemetry {
    /// Figures that go nowhere, for a step outside a served session.
    pub fn detached() -> ModelTelemetry {
        ModelTelemetry::default()
    }

    /// One policy call that advanced `ports` states in `took`.
    pub fn stepped(&self, ports: usize, took: Duration) {
        self.steps.inc_by(ports as u64);
        if let Some(histogram) = &self.step_seconds {
            histogram.observe(took.as_secs_f64());
        }
    }
}

/// Every served model's [`ModelTelemetry`], registered once at start-up
/// and found by model name when a policy steps, so a step builds no label
/// and takes no lock. A name never registered counts into nothing scraped.
#[derive(Debug, Default)]
pub struct ModelTable {
    by_name: Vec<(String, ModelTelemetry)>,
    detached: ModelTelemetry,
}

impl ModelTable {
    /// Registers each model, as (name, parameter count if known).
    pub fn register<'a>(
        telemetry: &Telemetry,
        models: impl IntoIterator<Item = (&'a str, Option<u64>)>,
    ) -> ModelTable {
        ModelTable {
            by_name: models
                .into_iter()
                .map(|(name, parameters)| (name.to_string(), telemetry.model(name, parameters)))
                .collect(),
            detached: ModelTelemetry::detached(),
        }
    }

    /// A table that counts into nothing scraped: for steps outside a
    /// served session (a warmup's scratch steps, a test).
    pub fn none() -> ModelTable {
        ModelTable::default()
    }

    /// The figures of the model named `name`.
    pub fn of(&self, name: &str) -> &ModelTelemetry {
        self.by_name
            .iter()
            .find(|(registered, _)| registered == name)
            .map_or(&self.detached, |(_, figures)| figures)
    }
}

/// Every figure of one front end.
pub struct Telemetry {
    registry: Registry,
    frames: Counter,
    on_time: Counter,
    fallback: Counter,
    resend: Counter,
    new_match: Counter,
    stock_loss: Counter,
    errors: Family<CodeLabel, Counter>,
    sessions_opened: Counter,
    sessions_closed: Counter,
    accept_errors: Counter,
    write_waits: Counter,
    sessions_open: Gauge,
    steps: Family<ModelLabel, Counter>,
    step_seconds: Family<ModelLabel, Histogram, fn() -> Histogram>,
    parameters: Family<ModelLabel, Gauge>,
    reply_seconds: Histogram,
}

/// 10 us to about 84 ms: a step or a reply past that is many frames late.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(1e-5, 2.0, 14))
}

impl Telemetry {
    pub fn new() -> Telemetry {
        let mut registry = Registry::with_prefix("fourstock");
        let frames = Counter::default();
        registry.register(
            "frames",
            "Frames answered, each exactly once",
            frames.clone(),
        );
        let replies = Family::<KindLabel, Counter>::default();
        registry.register(
            "replies",
            "Replies by kind: on_time, fallback (the step missed the budget), resend (a rollback re-send)",
            replies.clone(),
        );
        let resets = Family::<CauseLabel, Counter>::default();
        registry.register(
            "resets",
            "Ports whose hidden state was reset, by cause",
            resets.clone(),
        );
        let errors = Family::<CodeLabel, Counter>::default();
        registry.register(
            "errors",
            "Errors sent to peers, by protocol code",
            errors.clone(),
        );
        let sessions_opened = Counter::default();
        registry.register(
            "sessions_opened",
            "Sessions (or games) that began",
            sessions_opened.clone(),
        );
        let sessions_closed = Counter::default();
        registry.register(
            "sessions_closed",
            "Sessions (or games) that ended",
            sessions_closed.clone(),
        );
        let accept_errors = Counter::default();
        registry.register(
            "accept_errors",
            "Connections the listener failed to accept (out of file descriptors, say); each is retried",
            accept_errors.clone(),
        );
        let write_waits = Counter::default();
        registry.register(
            "write_waits",
            "Messages that had to wait for a peer to read (its receive window and the send buffer were full)",
            write_waits.clone(),
        );
        let sessions_open = Gauge::default();
        registry.register(
            "sessions_open",
            "Sessions (or games) being served now",
            sessions_open.clone(),
        );
        let steps = Family::<ModelLabel, Counter>::default();
        registry.register(
            "steps",
            "Hidden-state advances (one port, one frame), by model",
            steps.clone(),
        );
        let step_seconds: Family<ModelLabel, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(latency_histogram);
        registry.register_with_unit(
            "step",
            "One policy call (a batch of ports), by model",
            Unit::Seconds,
            step_seconds.clone(),
        );
        let parameters = Family::<ModelLabel, Gauge>::default();
        registry.register(
            "model_parameters",
            "Models loaded, with their parameter counts",
            parameters.clone(),
        );
        let reply_seconds = latency_histogram();
        registry.register_with_unit(
            "reply",
            "From reading a frame to sending its reply",
            Unit::Seconds,
            reply_seconds.clone(),
        );
        let kind = |kind| replies.get_or_create(&KindLabel { kind }).clone();
        let cause = |cause| resets.get_or_create(&CauseLabel { cause }).clone();
        Telemetry {
            frames,
            on_time: kind("on_time"),
            fallback: kind("fallback"),
            resend: kind("resend"),
            new_match: cause("new_match"),
            stock_loss: cause("stock_loss"),
            errors,
            sessions_opened,
            sessions_closed,
            accept_errors,
            write_waits,
            sessions_open,
            steps,
            step_seconds,
            parameters,
            reply_seconds,
            registry,
        }
    }

    /// Registers a loaded model and returns the handles its steps count
    /// into. `parameters` is its weight count where the policy knows it.
    pub fn model(&self, name: &str, parameters: Option<u64>) -> ModelTelemetry {
        let label = ModelLabel {
            model: name.to_string(),
        };
        if let Some(count) = parameters {
            self.parameters
                .get_or_create(&label)
                .set(i64::try_from(count).unwrap_or(i64::MAX));
        }
        ModelTelemetry {
            steps: self.steps.get_or_create(&label).clone(),
            step_seconds: Some(self.step_seconds.get_or_create(&label).clone()),
        }
    }

    /// A frame answered, `latency` after it was read.
    pub fn replied(&self, kind: ReplyKind, latency: Duration) {
        self.frames.inc();
        match kind {
            ReplyKind::OnTime => &self.on_time,
            ReplyKind::Fallback => &self.fallback,
            ReplyKind::Resend => &self.resend,
        }
        .inc();
        self.reply_seconds.observe(latency.as_secs_f64());
    }

    pub fn reset(&self, kind: ResetKind, ports: u64) {
        match kind {
            ResetKind::NewMatch => &self.new_match,
            ResetKind::StockLoss => &self.stock_loss,
        }
        .inc_by(ports);
    }

    /// An error sent to a peer, by its code's name.
    pub fn error(&self, code: &'static str) {
        self.errors.get_or_create(&CodeLabel { code }).inc();
    }

    pub fn session_opened(&self) {
        self.sessions_opened.inc();
        self.sessions_open.inc();
    }

    pub fn session_closed(&self) {
        self.sessions_closed.inc();
        self.sessions_open.dec();
    }

    /// The listener failed to accept a connection.
    pub fn accept_failed(&self) {
        self.accept_errors.inc();
    }

    /// A message could not be written at once: the peer is not reading.
    pub fn write_waited(&self) {
        self.write_waits.inc();
    }

    /// Every figure in the OpenMetrics text format, ending in `# EOF`.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Telemetry { .. }")
    }
}

impl Default for Telemetry {
    fn default() -> Self {
        Telemetry::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line<'a>(text: &'a str, series: &str) -> Option<&'a str> {
        text.lines().find(|l| l.starts_with(series))
    }

    #[test]
    fn figures_are_named_by_the_conventions_and_count_exactly() {
        let telemetry = Telemetry::new();
        let model = telemetry.model("generic-lstm", Some(1234));
        model.stepped(2, Duration::from_micros(30));
        telemetry.replied(ReplyKind::OnTime, Duration::from_micros(50));
        telemetry.replied(ReplyKind::Resend, Duration::from_micros(5));
        telemetry.reset(ResetKind::StockLoss, 1);
        telemetry.error("unknown_model");
        telemetry.session_opened();
        let text = telemetry.encode();
        for (series, value) in [
            ("fourstock_frames_total ", "2"),
            ("fourstock_replies_total{kind=\"on_time\"} ", "1"),
            ("fourstock_replies_total{kind=\"resend\"} ", "1"),
            ("fourstock_replies_total{kind=\"fallback\"} ", "0"),
            ("fourstock_resets_total{cause=\"stock_loss\"} ", "1"),
            ("fourstock_resets_total{cause=\"new_match\"} ", "0"),
            ("fourstock_errors_total{code=\"unknown_model\"} ", "1"),
            ("fourstock_steps_total{model=\"generic-lstm\"} ", "2"),
            (
                "fourstock_model_parameters{model=\"generic-lstm\"} ",
                "1234",
            ),
            ("fourstock_sessions_open ", "1"),
            ("fourstock_step_seconds_count{model=\"generic-lstm\"} ", "1"),
            ("fourstock_reply_seconds_count ", "2"),
        ] {
            let found = line(&text, series).unwrap_or_else(|| panic!("no {series} in\n{text}"));
            assert_eq!(found.trim_start_matches(series), value, "{series}");
        }
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn a_detached_model_counts_into_nothing_scraped() {
        let telemetry = Telemetry::new();
        ModelTelemetry::detached().stepped(1, Duration::from_micros(1));
        assert!(!telemetry.encode().contains("steps_total{"));
    }
}
