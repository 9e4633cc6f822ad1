//! Weight files: one checked safetensors reader and one atomic writer,
//! shared by every model family.
//!
//! The `safetensors` crate parses the format; what it does not do, and
//! every loader needs, is hold a file to the tensors a config calls for.
//! A file is untrusted, so [`read`] refuses one over [`MAX_WEIGHTS_BYTES`]
//! before reading it, then checks exactly the expected names (an
//! extra one is refused too), each shape, a float dtype (F16, BF16 and F64
//! are converted to f32) and finite values, and every failure is a
//! [`WeightsError`] naming the file and the tensor. [`write`] and
//! [`replace_file`] go through a temporary file and a rename, so a reader
//! never sees half a file.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use fourstock_proto::file::{self, FileError};
use safetensors::tensor::{Dtype, View};

/// The largest weight file read: 256 MiB. A Phillip-size slippi-ai
/// network (3 layers of 512) is about 42 MB of f32, fourstock's shipped
/// models 3 MB; the cap leaves room for a Phillip-shaped network twice as
/// wide (four times the weights, about 170 MB) and refuses anything that
/// is no model this daemon could step within a frame.
pub const MAX_WEIGHTS_BYTES: u64 = 256 << 20;

/// Why a weight file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: the file is {size} bytes, over the {cap}-byte cap for a weight file")]
    TooLarge { path: PathBuf, size: u64, cap: u64 },
    #[error("{path}: not a readable safetensors file: {reason}")]
    Format { path: PathBuf, reason: String },
    #[error("{path}: tensor {name} is missing (expected shape {expected:?})")]
    Missing {
        path: PathBuf,
        name: String,
        expected: Vec<usize>,
    },
    #[error("{path}: tensor {name} has shape {got:?}, expected {expected:?}")]
    Shape {
        path: PathBuf,
        name: String,
        expected: Vec<usize>,
        got: Vec<usize>,
    },
    #[error("{path}: tensor {name} is {got}; expected a float type (F16, BF16, F32 or F64)")]
    DType {
        path: PathBuf,
        name: String,
        got: String,
    },
    #[error("{path}: unexpected tensor {name}: the config does not call for it")]
    Unexpected { path: PathBuf, name: String },
    #[error("{path}: tensor {name} holds NaN or infinite values")]
    NonFinite { path: PathBuf, name: String },
    #[error("{path}: {source}")]
    Tensor {
        path: PathBuf,
        source: candle_core::Error,
    },
}

/// One f32 tensor to write: its shape and its values, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct F32Tensor {
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
}

impl F32Tensor {
    /// A CPU tensor's values as f32.
    pub fn from_tensor(tensor: &Tensor) -> candle_core::Result<F32Tensor> {
        Ok(F32Tensor {
            shape: tensor.dims().to_vec(),
            values: tensor.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?,
        })
    }
}

/// Checks that `found` (name, shape) holds exactly `expected`: no name
/// more (the first, sorted, is named), none missing, every shape equal.
/// `path` names the file in the error.
pub fn check_tensors(
    path: &Path,
    found: &[(String, Vec<usize>)],
    expected: &[(String, Vec<usize>)],
) -> Result<(), WeightsError> {
    let found: HashMap<&str, &Vec<usize>> = found.iter().map(|(n, s)| (n.as_str(), s)).collect();
    let mut extra: Vec<&str> = found
        .keys()
        .copied()
        .filter(|n| !expected.iter().any(|(e, _)| e == n))
        .collect();
    extra.sort_unstable();
    if let Some(name) = extra.first() {
        return Err(WeightsError::Unexpected {
            path: path.to_path_buf(),
            name: name.to_string(),
        });
    }
    for (name, shape) in expected {
        match found.get(name.as_str()) {
            None => {
                return Err(WeightsError::Missing {
                    path: path.to_path_buf(),
                    name: name.clone(),
                    expected: shape.clone(),
                })
            }
            Some(got) if *got != shape => {
                return Err(WeightsError::Shape {
                    path: path.to_path_buf(),
                    name: name.clone(),
                    expected: shape.clone(),
                    got: (*got).clone(),
                })
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Reads a safetensors file that must hold exactly `expected` (name,
/// shape), as f32 CPU tensors by name.
pub fn read(
    path: &Path,
    expected: &[(String, Vec<usize>)],
) -> Result<HashMap<String, Tensor>, WeightsError> {
    let bytes =
        file::read_capped(path, MAX_WEIGHTS_BYTES, "a weight file").map_err(|e| match e {
            FileError::Io { path, source } => WeightsError::Io { path, source },
            FileError::TooLarge {
                path, size, cap, ..
            } => WeightsError::TooLarge { path, size, cap },
        })?;
    read_bytes(path, &bytes, expected)
}

/// [`read`] on a file already in memory; `path` only names it in errors.
pub fn read_bytes(
    path: &Path,
    bytes: &[u8],
    expected: &[(String, Vec<usize>)],
) -> Result<HashMap<String, Tensor>, WeightsError> {
    let file = safetensors::SafeTensors::deserialize(bytes).map_err(|e| WeightsError::Format {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let found: Vec<(String, Vec<usize>)> = file
        .tensors()
        .into_iter()
        .map(|(name, view)| (name, view.shape().to_vec()))
        .collect();
    check_tensors(path, &found, expected)?;
    let tensor_error = |source| WeightsError::Tensor {
        path: path.to_path_buf(),
        source,
    };
    let mut tensors = HashMap::with_capacity(expected.len());
    for (name, shape) in expected {
        let view = file.tensor(name).map_err(|e| WeightsError::Format {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let dtype = match view.dtype() {
            Dtype::F32 => DType::F32,
            Dtype::F16 => DType::F16,
            Dtype::BF16 => DType::BF16,
            Dtype::F64 => DType::F64,
            other => {
                return Err(WeightsError::DType {
                    path: path.to_path_buf(),
                    name: name.clone(),
                    got: format!("{other:?}"),
                })
            }
        };
        let tensor = Tensor::from_raw_buffer(view.data(), dtype, shape, &Device::Cpu)
            .and_then(|t| t.to_dtype(DType::F32))
            .map_err(tensor_error)?;
        let finite = tensor
            .flatten_all()
            .and_then(|t| t.to_vec1::<f32>())
            .map_err(tensor_error)?
            .iter()
            .all(|v| v.is_finite());
        if !finite {
            return Err(WeightsError::NonFinite {
                path: path.to_path_buf(),
                name: name.clone(),
            });
        }
        tensors.insert(name.clone(), tensor);
    }
    Ok(tensors)
}

/// Writes named f32 tensors to `path` as safetensors, atomically.
pub fn write(path: &Path, tensors: &[(String, F32Tensor)]) -> Result<(), WeightsError> {
    let views = tensors
        .iter()
        .map(|(name, t)| (name.clone(), F32View::new(&t.shape, &t.values)));
    let bytes = safetensors::serialize(views, None).map_err(|e| WeightsError::Format {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    replace_file(path, &bytes).map_err(|source| WeightsError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Writes `bytes` to `path` through a temporary file and a rename, so a
/// reader never sees half a file.
pub fn replace_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

/// An f32 tensor's bytes, as `safetensors::serialize` wants them.
struct F32View<'a> {
    shape: &'a [usize],
    bytes: Vec<u8>,
}

impl<'a> F32View<'a> {
    fn new(shape: &'a [usize], values: &[f32]) -> F32View<'a> {
        F32View {
            shape,
            bytes: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        }
    }
}

impl View for F32View<'_> {
    fn dtype(&self) -> Dtype {
        Dtype::F32
    }
    fn shape(&self) -> &[usize] {
        self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.bytes)
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expected() -> Vec<(String, Vec<usize>)> {
        vec![("a".into(), vec![2, 3]), ("b".into(), vec![3])]
    }

    fn tensors(a: Vec<f32>) -> Vec<(String, F32Tensor)> {
        vec![
            (
                "a".into(),
                F32Tensor {
                    shape: vec![2, 3],
                    values: a,
                },
            ),
            (
                "b".into(),
                F32Tensor {
                    shape: vec![3],
                    values: vec![7.0, 8.0, 9.0],
                },
            ),
        ]
    }

    #[test]
    fn what_is_written_reads_back_and_is_checked() {
        let dir = std::env::temp_dir().join(format!("fourstock-nn-st-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("w.safetensors");
        write(&path, &tensors(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0])).unwrap();
        let read_back = read(&path, &expected()).unwrap();
        let a = F32Tensor::from_tensor(&read_back["a"]).unwrap();
        assert_eq!(a.values, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        assert_eq!(a.shape, [2, 3]);

        let mut more = expected();
        more.push(("c".into(), vec![1]));
        assert!(
            matches!(read(&path, &more), Err(WeightsError::Missing { name, .. }) if name == "c")
        );
        assert!(
            matches!(read(&path, &expected()[..1]), Err(WeightsError::Unexpected { name, .. }) if name == "b")
        );
        let mut other_shape = expected();
        other_shape[0].1 = vec![3, 2];
        assert!(matches!(
            read(&path, &other_shape),
            Err(WeightsError::Shape { .. })
        ));

        write(&path, &tensors(vec![1.0, f32::NAN, 3.0, 4.0, 5.0, 6.0])).unwrap();
        assert!(
            matches!(read(&path, &expected()), Err(WeightsError::NonFinite { name, .. }) if name == "a")
        );

        std::fs::write(&path, b"not safetensors").unwrap();
        assert!(matches!(
            read(&path, &expected()),
            Err(WeightsError::Format { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
