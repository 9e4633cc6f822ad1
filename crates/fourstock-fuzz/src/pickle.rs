//! The slippi-ai importer's read path: the restricted pickle reader
//! ([`Pickle::parse`]), every walk over its result (`to_json`, `arrays`,
//! each array's values), then the import proper short of writing files
//! ([`convert_checkpoint`]) and the checks `SlippiModel::write_dir` makes
//! before it writes.

use std::path::Path;

use fourstock_slippi::weights::expected_tensors;
use fourstock_slippi_import::convert_checkpoint;
use fourstock_slippi_import::pickle::Pickle;

/// One checkpoint file's bytes.
pub fn checkpoint(data: &[u8]) {
    let Ok(pickle) = Pickle::parse(data) else {
        return;
    };
    let root = pickle.root();
    let _ = pickle.to_json(root);
    if let Ok(arrays) = pickle.arrays(root) {
        for (_, array) in arrays {
            let _ = array.to_f64();
            let _ = array.to_f32();
        }
    }
    let path = Path::new("fuzz.pkl");
    let Ok(converted) = convert_checkpoint(data, path, "fuzz") else {
        return;
    };
    if converted.config.check().is_ok() {
        let found: Vec<(String, Vec<usize>)> = converted
            .tensors
            .iter()
            .map(|(n, t)| (n.clone(), t.shape.clone()))
            .collect();
        let expected = expected_tensors(&converted.config);
        let _ = fourstock_nn::safetensors::check_tensors(path, &found, &expected);
    }
}
