//! Every checked-in fuzz input through its target: the seed corpora in
//! `fuzz/corpus/<target>/` and the inputs that once crashed a target in
//! `fuzz/regressions/<target>/`. Runs under the same allocation cap as
//! the AFL++ binaries, so an input that once made a giant allocation
//! aborts this test if the fix is undone.

use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use fourstock_fuzz::alloc::CappedAlloc;
use fourstock_fuzz::{Target, TARGETS};

#[global_allocator]
static ALLOC: CappedAlloc = CappedAlloc;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

/// The files directly in `dir`, sorted; none if it does not exist.
fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

/// Runs `name`'s target over its corpus and regressions; the corpus
/// must not be empty.
fn replay(name: &str) {
    let target: &Target = TARGETS.iter().find(|t| t.name == name).expect(name);
    let corpus = files(&fuzz_dir().join("corpus").join(name));
    assert!(!corpus.is_empty(), "fuzz/corpus/{name} holds no seed");
    let regressions = files(&fuzz_dir().join("regressions").join(name));
    let mut failed = Vec::new();
    for path in corpus.iter().chain(&regressions) {
        let data = std::fs::read(path).unwrap();
        if panic::catch_unwind(AssertUnwindSafe(|| (target.run)(&data))).is_err() {
            failed.push(path.display().to_string());
        }
    }
    assert!(failed.is_empty(), "{name} panicked on {failed:?}");
    println!(
        "{name}: {} seeds and {} regression inputs ran clean",
        corpus.len(),
        regressions.len()
    );
}

#[test]
fn proto_corpus_runs_clean() {
    replay("proto");
}

#[test]
fn umi_corpus_runs_clean() {
    replay("umi");
}

#[test]
fn pickle_corpus_runs_clean() {
    replay("pickle");
}

#[test]
fn model_corpus_runs_clean() {
    replay("model");
}

#[test]
fn slp_corpus_runs_clean() {
    replay("slp");
}

#[test]
fn every_target_has_a_test() {
    let names: Vec<&str> = TARGETS.iter().map(|t| t.name).collect();
    assert_eq!(names, ["proto", "umi", "pickle", "model", "slp"]);
}

#[test]
fn a_model_input_splits_into_what_was_joined() {
    use fourstock_fuzz::model::{join, split};
    let joined = join(b"{\"a\":1}", b"weights");
    assert_eq!(split(&joined), (&b"{\"a\":1}"[..], &b"weights"[..]));
    // A length past the end takes what there is; too short is empty.
    assert_eq!(split(&[0xFF, 0xFF, b'x']), (&b"x"[..], &b""[..]));
    assert_eq!(split(&[7]), (&b""[..], &b""[..]));
}

/// The seeds get past the parsers into the code behind them, so the
/// fuzzer starts deep: the sample replay converts, the checkpoint pickles
/// parse and walk, the tiny models load.
#[test]
fn the_seeds_reach_past_the_parsers() {
    let corpus = fuzz_dir().join("corpus");
    let read = |path: &str| std::fs::read(corpus.join(path)).unwrap();
    let replay = fourstock_replay::read_replay_bytes(&read("slp/sample.slp"), "sample.slp")
        .expect("the sample replay converts");
    assert_eq!(replay.frames().count(), 4);
    for name in ["pickle/checkpoint_p3.pkl", "pickle/checkpoint_p4.pkl"] {
        let pickle = fourstock_slippi_import::pickle::Pickle::parse(&read(name)).expect(name);
        let policy = pickle
            .dict_get(pickle.root(), "state")
            .and_then(|s| pickle.dict_get(s, "policy"))
            .expect(name);
        assert_eq!(pickle.arrays(policy).expect(name).len(), 4, "{name}");
    }
    for name in ["model/tiny_lstm.bin", "model/tiny_gru.bin"] {
        let data = read(name);
        let (config, weights) = fourstock_fuzz::model::split(&data);
        let config: fourstock_recurrent::PolicyConfig = serde_json::from_slice(config).unwrap();
        let input = fourstock_recurrent::featurizer::Featurizer::new(&config.features).size();
        let expected = fourstock_recurrent::checkpoint::expected_tensors(&config, input);
        let tensors =
            fourstock_nn::safetensors::read_bytes(Path::new(name), weights, &expected).expect(name);
        fourstock_recurrent::RecurrentPolicy::from_tensors(config, tensors).expect(name);
    }
}
