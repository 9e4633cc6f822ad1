//! A restricted pickle reader for slippi-ai checkpoints. It never executes
//! anything: it understands plain containers (dict, list, tuple, set, str,
//! bytes, numbers), numpy arrays and scalars (`numpy.core.multiarray.
//! _reconstruct`, `numpy.dtype`, `scalar`), `collections.OrderedDict`, and
//! it stubs the enum classes slippi-ai and libmelee put in their configs
//! (`melee.enums.Character(16)`, `slippi_ai.jax.embed.ItemsType('skip')`)
//! as a class name plus a value. Any other global, and the opcodes that
//! exist to run code or reach outside the file (`INST`, `OBJ`, `NEWOBJ`,
//! persistent ids, extensions, out-of-band buffers), are errors that name
//! what was refused.
//!
//! candle's `candle_core::pickle` reads PyTorch files only: it lacks the
//! protocol-4 opcodes (`FRAME`, `MEMOIZE`, `STACK_GLOBAL`,
//! `SHORT_BINUNICODE`, `SHORT_BINBYTES`) these checkpoints are made of.
//!
//! Objects live in an arena and containers hold indices into it, so memo
//! references behave as in Python (a `BUILD` after `MEMOIZE` is seen
//! through the memo), cycles cannot leak, and dropping a deeply nested
//! structure does not recurse. Only the walks over the result recurse, and
//! they stop at [`MAX_DEPTH`].

use std::collections::HashMap;

/// Nesting deeper than this is refused when the result is walked.
pub const MAX_DEPTH: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum PickleError {
    #[error("at byte {offset}: {reason}")]
    Malformed { offset: usize, reason: String },
    #[error("at byte {offset}: opcode {opcode:#04x} ({name}) is refused by the restricted reader")]
    Opcode {
        offset: usize,
        opcode: u8,
        name: &'static str,
    },
    #[error(
        "at byte {offset}: global {module}.{name} is refused: only numpy arrays, plain \
         containers and slippi-ai/libmelee enums are read"
    )]
    Global {
        offset: usize,
        module: String,
        name: String,
    },
    #[error("{0}")]
    Structure(String),
}

/// A value on the stack or in a container: a scalar, or an arena object.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Obj(usize),
}

/// A numpy dtype: kind (`f`, `i`, `u`, `b`), item size and byte order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DType {
    pub kind: u8,
    pub size: usize,
    pub big_endian: bool,
}

/// A numpy array as stored: raw bytes in its dtype, C or Fortran order.
#[derive(Clone, Debug, PartialEq)]
pub struct NdArray {
    pub dtype: DType,
    pub shape: Vec<usize>,
    pub fortran: bool,
    pub data: Vec<u8>,
}

/// The callables the reader knows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Global {
    Reconstruct,
    NdArray,
    DType,
    Scalar,
    OrderedDict,
    /// A stubbed enum class, by its full name.
    Enum(String),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Object {
    Str(String),
    Bytes(Vec<u8>),
    Tuple(Vec<Value>),
    List(Vec<Value>),
    Dict(Vec<(Value, Value)>),
    Set(Vec<Value>),
    Global(Global),
    /// `_reconstruct(ndarray, ...)` waiting for its `BUILD`.
    PendingArray,
    Array(NdArray),
    DType(DType),
    /// A stubbed enum member: its class and its value.
    Enum {
        class: String,
        value: Value,
    },
}

/// A parsed pickle.
#[derive(Debug)]
pub struct Pickle {
    objects: Vec<Object>,
    root: Value,
    /// Nodes plus string bytes a walk may visit. Shared references can
    /// make a small pickle describe an exponentially large tree; a walk
    /// that would expand it past this is refused.
    walk_budget: usize,
}

struct Parser<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// Where the current opcode started, for errors.
    at: usize,
    stack: Vec<Value>,
    marks: Vec<usize>,
    memo: HashMap<u32, Value>,
    objects: Vec<Object>,
    /// Bytes the reader may still copy out of existing objects. Memo
    /// references let a few bytes of pickle name a large object many
    /// times; without a budget, copying it each time would turn a small
    /// file into unbounded memory.
    copy_budget: usize,
}

/// Copies and walks may expand the input this many times over.
const EXPANSION: usize = 4;

impl Pickle {
    /// Parses a whole pickle. Never runs code; see the module docs.
    pub fn parse(bytes: &[u8]) -> Result<Pickle, PickleError> {
        let mut p = Parser {
            bytes,
            pos: 0,
            at: 0,
            stack: Vec::new(),
            marks: Vec::new(),
            memo: HashMap::new(),
            objects: Vec::new(),
            copy_budget: EXPANSION * bytes.len() + (1 << 16),
        };
        let root = p.run()?;
        Ok(Pickle {
            objects: p.objects,
            root,
            walk_budget: EXPANSION * bytes.len() + (1 << 16),
        })
    }

    pub fn root(&self) -> Value {
        self.root
    }

    pub fn object(&self, v: Value) -> Option<&Object> {
        match v {
            Value::Obj(i) => self.objects.get(i),
            _ => None,
        }
    }

    pub fn str(&self, v: Value) -> Option<&str> {
        match self.object(v) {
            Some(Object::Str(s)) => Some(s),
            _ => None,
        }
    }

    /// `dict[key]` for a string key.
    pub fn dict_get(&self, dict: Value, key: &str) -> Option<Value> {
        match self.object(dict) {
            Some(Object::Dict(items)) => items
                .iter()
                .rev()
                .find(|(k, _)| self.str(*k) == Some(key))
                .map(|(_, v)| *v),
            _ => None,
        }
    }

    /// A short description of a value's type, for errors.
    pub fn type_name(&self, v: Value) -> &'static str {
        match v {
            Value::None => "None",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Obj(_) => match self.object(v) {
                Some(Object::Str(_)) => "str",
                Some(Object::Bytes(_)) => "bytes",
                Some(Object::Tuple(_)) => "tuple",
                Some(Object::List(_)) => "list",
                Some(Object::Dict(_)) => "dict",
                Some(Object::Set(_)) => "set",
                Some(Object::Global(_)) => "class or function",
                Some(Object::PendingArray) => "unfinished array",
                Some(Object::Array(_)) => "numpy array",
                Some(Object::DType(_)) => "numpy dtype",
                Some(Object::Enum { .. }) => "enum",
                None => "dangling reference",
            },
        }
    }

    /// A value as JSON: containers recursively, numpy scalars as numbers,
    /// stubbed enums as `{"__enum__": class, "value": value}`. Dict keys
    /// that are not strings are written as text.
    pub fn to_json(&self, v: Value) -> Result<serde_json::Value, PickleError> {
        self.json(v, 0, &mut self.walk_budget.clone())
    }

    /// Spends `cost` of a walk's budget.
    fn spend(budget: &mut usize, cost: usize) -> Result<(), PickleError> {
        *budget = budget.checked_sub(cost).ok_or_else(|| {
            PickleError::Structure(
                "the data expands far beyond the file's size when walked (shared references)"
                    .into(),
            )
        })?;
        Ok(())
    }

    fn json(
        &self,
        v: Value,
        depth: usize,
        budget: &mut usize,
    ) -> Result<serde_json::Value, PickleError> {
        use serde_json::Value as J;
        if depth > MAX_DEPTH {
            return Err(PickleError::Structure(format!(
                "the data nests deeper than {MAX_DEPTH} levels"
            )));
        }
        Self::spend(budget, 1)?;
        Ok(match v {
            Value::None => J::Null,
            Value::Bool(b) => J::Bool(b),
            Value::Int(i) => J::from(i),
            Value::Float(f) => serde_json::Number::from_f64(f).map_or(J::Null, J::Number),
            Value::Obj(_) => match self.object(v) {
                Some(Object::Str(s)) => {
                    Self::spend(budget, s.len())?;
                    J::String(s.clone())
                }
                Some(Object::Tuple(items) | Object::List(items) | Object::Set(items)) => J::Array(
                    items
                        .iter()
                        .map(|&i| self.json(i, depth + 1, budget))
                        .collect::<Result<_, _>>()?,
                ),
                Some(Object::Dict(items)) => {
                    let mut map = serde_json::Map::new();
                    for &(k, item) in items {
                        let key = self.key_text(k, depth, budget)?;
                        map.insert(key, self.json(item, depth + 1, budget)?);
                    }
                    J::Object(map)
                }
                Some(Object::Enum { class, value }) => {
                    let mut map = serde_json::Map::new();
                    map.insert("__enum__".into(), J::String(class.clone()));
                    map.insert("value".into(), self.json(*value, depth + 1, budget)?);
                    J::Object(map)
                }
                Some(Object::Array(a)) if a.shape.is_empty() => a
                    .to_f64()
                    .ok()
                    .and_then(|v| v.first().copied())
                    .and_then(serde_json::Number::from_f64)
                    .map_or(J::Null, J::Number),
                _ => J::Null,
            },
        })
    }

    fn key_text(&self, k: Value, depth: usize, budget: &mut usize) -> Result<String, PickleError> {
        Ok(match k {
            Value::Int(i) => i.to_string(),
            Value::Bool(b) => if b { "True" } else { "False" }.to_string(),
            Value::None => "None".to_string(),
            Value::Float(f) => f.to_string(),
            Value::Obj(_) => match self.object(k) {
                Some(Object::Str(s)) => {
                    Self::spend(budget, s.len())?;
                    s.clone()
                }
                Some(Object::Enum { class, value }) => {
                    format!("{class}({})", self.json(*value, depth + 1, budget)?)
                }
                _ => {
                    return Err(PickleError::Structure(format!(
                        "a dict key is a {}",
                        self.type_name(k)
                    )))
                }
            },
        })
    }

    /// Every array under a nest of dicts, named by its keys joined with `/`
    /// (integer keys in decimal), in the pickle's order.
    pub fn arrays(&self, v: Value) -> Result<Vec<(String, &NdArray)>, PickleError> {
        let mut out = Vec::new();
        let mut budget = self.walk_budget;
        self.collect_arrays(v, String::new(), 0, &mut budget, &mut out)?;
        Ok(out)
    }

    fn collect_arrays<'a>(
        &'a self,
        v: Value,
        path: String,
        depth: usize,
        budget: &mut usize,
        out: &mut Vec<(String, &'a NdArray)>,
    ) -> Result<(), PickleError> {
        if depth > MAX_DEPTH {
            return Err(PickleError::Structure(format!(
                "the parameters nest deeper than {MAX_DEPTH} levels"
            )));
        }
        Self::spend(budget, 1 + path.len())?;
        match self.object(v) {
            Some(Object::Array(a)) => out.push((path, a)),
            Some(Object::Dict(items)) => {
                for &(k, item) in items {
                    let key = match (k, self.str(k)) {
                        (_, Some(s)) => s.to_string(),
                        (Value::Int(i), _) => i.to_string(),
                        _ => {
                            return Err(PickleError::Structure(format!(
                                "{path}: a parameter key is a {}",
                                self.type_name(k)
                            )))
                        }
                    };
                    let child = if path.is_empty() {
                        key
                    } else {
                        format!("{path}/{key}")
                    };
                    self.collect_arrays(item, child, depth + 1, budget, out)?;
                }
            }
            _ => {
                return Err(PickleError::Structure(format!(
                    "{path}: expected a numpy array or a dict of them, found a {}",
                    self.type_name(v)
                )))
            }
        }
        Ok(())
    }
}

impl NdArray {
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The values in C order as f64. Floats and integers are read; other
    /// kinds are refused.
    pub fn to_f64(&self) -> Result<Vec<f64>, String> {
        let DType {
            kind,
            size,
            big_endian,
        } = self.dtype;
        let read = |chunk: &[u8]| -> Option<f64> {
            let mut b = [0u8; 8];
            b[..size].copy_from_slice(chunk);
            if big_endian {
                b[..size].reverse();
            }
            Some(match (kind, size) {
                (b'f', 2) => half::f16::from_le_bytes([b[0], b[1]]).to_f64(),
                (b'f', 4) => f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64,
                (b'f', 8) => f64::from_le_bytes(b),
                (b'i', 1 | 2 | 4 | 8) => {
                    let shift = 64 - 8 * size as u32;
                    ((i64::from_le_bytes(b) << shift) >> shift) as f64
                }
                (b'u' | b'b', 1 | 2 | 4 | 8) => u64::from_le_bytes(b) as f64,
                _ => return None,
            })
        };
        let mut values = Vec::with_capacity(self.len());
        for chunk in self.data.chunks_exact(size) {
            values.push(
                read(chunk)
                    .ok_or_else(|| format!("dtype {}{size} is not a number type", kind as char))?,
            );
        }
        Ok(if self.fortran && self.shape.len() > 1 {
            to_c_order(&values, &self.shape)
        } else {
            values
        })
    }

    /// The values in C order as f32, for float arrays only.
    pub fn to_f32(&self) -> Result<Vec<f32>, String> {
        if self.dtype.kind != b'f' {
            return Err(format!(
                "dtype {}{} is not a float type",
                self.dtype.kind as char, self.dtype.size
            ));
        }
        Ok(self.to_f64()?.into_iter().map(|v| v as f32).collect())
    }
}

/// Reorders Fortran-order values into C order.
fn to_c_order(values: &[f64], shape: &[usize]) -> Vec<f64> {
    let mut strides = vec![1usize; shape.len()];
    for d in 1..shape.len() {
        strides[d] = strides[d - 1] * shape[d - 1];
    }
    let mut out = Vec::with_capacity(values.len());
    let mut index = vec![0usize; shape.len()];
    for _ in 0..values.len() {
        let at: usize = index.iter().zip(&strides).map(|(i, s)| i * s).sum();
        out.push(values[at]);
        for d in (0..shape.len()).rev() {
            index[d] += 1;
            if index[d] < shape[d] {
                break;
            }
            index[d] = 0;
        }
    }
    out
}

/// The opcodes refused outright, with their names.
fn refused(op: u8) -> Option<&'static str> {
    Some(match op {
        b'P' => "PERSID",
        b'Q' => "BINPERSID",
        b'i' => "INST",
        b'o' => "OBJ",
        0x81 => "NEWOBJ",
        0x92 => "NEWOBJ_EX",
        0x82 => "EXT1",
        0x83 => "EXT2",
        0x84 => "EXT4",
        0x97 => "NEXT_BUFFER",
        0x98 => "READONLY_BUFFER",
        _ => return None,
    })
}

impl Parser<'_> {
    fn err(&self, reason: impl Into<String>) -> PickleError {
        PickleError::Malformed {
            offset: self.at,
            reason: reason.into(),
        }
    }

    fn take(&mut self, n: usize) -> Result<&[u8], PickleError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or_else(|| self.err(format!("needs {n} more bytes than the file has")))?;
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, PickleError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, PickleError> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, PickleError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Result<u64, PickleError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    fn len64(&mut self) -> Result<usize, PickleError> {
        let n = self.u64()?;
        usize::try_from(n).map_err(|_| self.err(format!("length {n} is too large")))
    }

    /// A newline-terminated text argument.
    fn line(&mut self) -> Result<String, PickleError> {
        let rest = &self.bytes[self.pos..];
        let end = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| self.err("a text argument has no newline"))?;
        let text = std::str::from_utf8(&rest[..end])
            .map_err(|_| self.err("a text argument is not UTF-8"))?
            .to_string();
        self.pos += end + 1;
        Ok(text)
    }

    fn utf8(&mut self, n: usize) -> Result<Value, PickleError> {
        let decoded = std::str::from_utf8(self.take(n)?).map(str::to_string);
        let s = decoded.map_err(|_| self.err("a string is not valid UTF-8"))?;
        Ok(self.alloc(Object::Str(s)))
    }

    fn latin1(&mut self, n: usize) -> Result<Value, PickleError> {
        let s = self.take(n)?.iter().map(|&b| b as char).collect();
        Ok(self.alloc(Object::Str(s)))
    }

    fn bytes_obj(&mut self, n: usize) -> Result<Value, PickleError> {
        let b = self.take(n)?.to_vec();
        Ok(self.alloc(Object::Bytes(b)))
    }

    /// Spends `bytes` of the copy budget.
    fn charge(&mut self, bytes: usize) -> Result<(), PickleError> {
        self.copy_budget = self.copy_budget.checked_sub(bytes).ok_or_else(|| {
            self.err("the pickle copies far more data than it holds (repeated references)")
        })?;
        Ok(())
    }

    /// A copy of a tuple's items.
    fn tuple_items(&mut self, v: Value, what: &str) -> Result<Vec<Value>, PickleError> {
        let len = match self.objects.get(obj_index(v)) {
            Some(Object::Tuple(items)) => items.len(),
            _ => return Err(self.err(format!("{what} is not a tuple"))),
        };
        self.charge(len * std::mem::size_of::<Value>())?;
        match self.objects.get(obj_index(v)) {
            Some(Object::Tuple(items)) => Ok(items.clone()),
            _ => Err(self.err(format!("{what} is not a tuple"))),
        }
    }

    /// A copy of a string object.
    fn string(&mut self, v: Value) -> Option<String> {
        let s = match self.objects.get(obj_index(v)) {
            Some(Object::Str(s)) => s.clone(),
            _ => return None,
        };
        self.charge(s.len()).ok()?;
        Some(s)
    }

    fn alloc(&mut self, o: Object) -> Value {
        self.objects.push(o);
        Value::Obj(self.objects.len() - 1)
    }

    fn push(&mut self, v: Value) {
        self.stack.push(v);
    }

    fn pop(&mut self) -> Result<Value, PickleError> {
        if self.marks.last().is_some_and(|&m| m >= self.stack.len()) {
            return Err(self.err("pop across a mark"));
        }
        self.stack
            .pop()
            .ok_or_else(|| self.err("pop from an empty stack"))
    }

    fn top(&self) -> Result<Value, PickleError> {
        self.stack
            .last()
            .copied()
            .ok_or_else(|| self.err("the stack is empty"))
    }

    fn pop_mark(&mut self) -> Result<Vec<Value>, PickleError> {
        let m = self.marks.pop().ok_or_else(|| self.err("no mark"))?;
        if m > self.stack.len() {
            return Err(self.err("a mark past the top of the stack"));
        }
        Ok(self.stack.split_off(m))
    }

    fn object_mut(&mut self, v: Value) -> Result<&mut Object, PickleError> {
        match v {
            Value::Obj(i) if i < self.objects.len() => Ok(&mut self.objects[i]),
            _ => Err(self.err("expected an object")),
        }
    }

    fn int(&mut self, bytes_len: usize) -> Result<Value, PickleError> {
        let b = self.take(bytes_len)?;
        if b.len() > 8 {
            // Larger only if the high bytes are sign extension.
            let (low, high) = b.split_at(8);
            let fill = if low[7] & 0x80 != 0 { 0xFF } else { 0 };
            if high.iter().any(|&x| x != fill) {
                return Err(self.err("an integer does not fit in 64 bits"));
            }
        }
        let n = b.len().min(8);
        if n == 0 {
            return Ok(Value::Int(0));
        }
        let mut a = [0u8; 8];
        a[..n].copy_from_slice(&b[..n]);
        let shift = 64 - 8 * n as u32;
        Ok(Value::Int((i64::from_le_bytes(a) << shift) >> shift))
    }

    fn memo_put(&mut self, index: u32) -> Result<(), PickleError> {
        let v = self.top()?;
        self.memo.insert(index, v);
        Ok(())
    }

    fn memo_get(&mut self, index: u32) -> Result<(), PickleError> {
        let v = *self
            .memo
            .get(&index)
            .ok_or_else(|| self.err(format!("memo entry {index} is missing")))?;
        self.push(v);
        Ok(())
    }

    fn global(&mut self, module: &str, name: &str) -> Result<Value, PickleError> {
        let numpy_multiarray = matches!(module, "numpy.core.multiarray" | "numpy._core.multiarray");
        let identifier = !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !name.starts_with('_');
        let g = match (module, name) {
            (_, "_reconstruct") if numpy_multiarray => Global::Reconstruct,
            (_, "scalar") if numpy_multiarray => Global::Scalar,
            ("numpy", "ndarray") => Global::NdArray,
            ("numpy", "dtype") => Global::DType,
            ("collections", "OrderedDict") => Global::OrderedDict,
            (m, n)
                if identifier
                    && (m == "melee.enums" || m == "slippi_ai" || m.starts_with("slippi_ai.")) =>
            {
                Global::Enum(format!("{m}.{n}"))
            }
            _ => {
                return Err(PickleError::Global {
                    offset: self.at,
                    module: module.to_string(),
                    name: name.to_string(),
                })
            }
        };
        Ok(self.alloc(Object::Global(g)))
    }

    fn dtype(&self, spec: &str) -> Result<DType, PickleError> {
        let (order, rest) = match spec.as_bytes().first() {
            Some(b'<' | b'=' | b'|') => (false, &spec[1..]),
            Some(b'>') => (true, &spec[1..]),
            _ => (false, spec),
        };
        let mut chars = rest.chars();
        let kind = chars.next().filter(|c| c.is_ascii()).map(|c| c as u8);
        let size = chars.as_str().parse::<usize>().ok();
        match (kind, size) {
            (Some(kind @ (b'f' | b'i' | b'u' | b'b')), Some(size @ (1 | 2 | 4 | 8))) => Ok(DType {
                kind,
                size,
                big_endian: order,
            }),
            _ => Err(self.err(format!(
                "numpy dtype {spec:?} is not supported (floats, integers and bools only)"
            ))),
        }
    }

    fn reduce(&mut self) -> Result<(), PickleError> {
        let args = self.pop()?;
        let callable = self.pop()?;
        let args = self.tuple_items(args, "REDUCE's argument")?;
        let global = match self.object_mut(callable)? {
            Object::Global(g) => g.clone(),
            _ => return Err(self.err("REDUCE on something that is not a known global")),
        };
        let result = match global {
            Global::Reconstruct => {
                let is_ndarray = args.first().is_some_and(|&a| {
                    matches!(
                        self.objects.get(obj_index(a)),
                        Some(Object::Global(Global::NdArray))
                    )
                });
                if !is_ndarray {
                    return Err(self.err("_reconstruct of something other than numpy.ndarray"));
                }
                self.alloc(Object::PendingArray)
            }
            Global::DType => {
                let spec = args
                    .first()
                    .and_then(|&a| self.string(a))
                    .ok_or_else(|| self.err("numpy.dtype without a type string"))?;
                let dtype = self.dtype(&spec)?;
                self.alloc(Object::DType(dtype))
            }
            Global::Scalar => {
                let (Some(&dtype), Some(&data)) = (args.first(), args.get(1)) else {
                    return Err(self.err("numpy scalar needs a dtype and bytes"));
                };
                let dtype = match self.objects.get(obj_index(dtype)) {
                    Some(Object::DType(d)) => *d,
                    _ => return Err(self.err("numpy scalar without a dtype")),
                };
                let data = self.raw_data(data, dtype.size)?;
                self.alloc(Object::Array(NdArray {
                    dtype,
                    shape: Vec::new(),
                    fortran: false,
                    data,
                }))
            }
            Global::OrderedDict => {
                let mut items = Vec::new();
                if let Some(&pairs) = args.first() {
                    let pairs = match self.objects.get(obj_index(pairs)) {
                        Some(Object::List(p) | Object::Tuple(p)) => p.len(),
                        _ => return Err(self.err("OrderedDict of something other than pairs")),
                    };
                    self.charge(pairs * 2 * std::mem::size_of::<Value>())?;
                    let pairs = match self.objects.get(obj_index(args[0])) {
                        Some(Object::List(p) | Object::Tuple(p)) => p.clone(),
                        _ => Vec::new(),
                    };
                    for pair in pairs {
                        match self.objects.get(obj_index(pair)) {
                            Some(Object::List(kv) | Object::Tuple(kv)) if kv.len() == 2 => {
                                items.push((kv[0], kv[1]))
                            }
                            _ => return Err(self.err("OrderedDict of something other than pairs")),
                        }
                    }
                }
                self.alloc(Object::Dict(items))
            }
            Global::Enum(class) => {
                let value = match args.as_slice() {
                    [v @ (Value::None | Value::Bool(_) | Value::Int(_) | Value::Float(_))] => *v,
                    [v] if matches!(self.objects.get(obj_index(*v)), Some(Object::Str(_))) => *v,
                    _ => {
                        return Err(self.err(format!(
                            "{class} is stubbed as an enum and takes one int or str value"
                        )))
                    }
                };
                self.alloc(Object::Enum { class, value })
            }
            Global::NdArray => return Err(self.err("numpy.ndarray called directly")),
        };
        self.push(result);
        Ok(())
    }

    /// A copy of an array's raw bytes: `bytes`, or a latin-1 `str`
    /// (protocol 2). `expected` is checked before anything is copied.
    fn raw_data(&mut self, v: Value, expected: usize) -> Result<Vec<u8>, PickleError> {
        let len = match self.objects.get(obj_index(v)) {
            Some(Object::Bytes(b)) => b.len(),
            Some(Object::Str(s)) => s.chars().count(),
            _ => usize::MAX,
        };
        if len != usize::MAX && len != expected {
            return Err(self.err(format!(
                "array data has {len} bytes, its shape and dtype need {expected}"
            )));
        }
        self.charge(expected)?;
        match self.objects.get(obj_index(v)) {
            Some(Object::Bytes(b)) => Ok(b.clone()),
            Some(Object::Str(s)) => s
                .chars()
                .map(|c| u8::try_from(c as u32).ok())
                .collect::<Option<Vec<u8>>>()
                .ok_or_else(|| self.err("array data is a str beyond latin-1")),
            _ => Err(self.err("array data is neither bytes nor str (object arrays are refused)")),
        }
    }

    fn build(&mut self) -> Result<(), PickleError> {
        let state = self.pop()?;
        let target = self.top()?;
        let state_items = self.tuple_items(state, "BUILD's state")?;
        let built = match self.objects.get(obj_index(target)) {
            Some(Object::PendingArray) => self.build_array(&state_items)?,
            Some(Object::DType(d)) => {
                let mut d = *d;
                if let Some(order) = state_items.get(1).and_then(|&o| self.string(o)) {
                    match order.as_str() {
                        ">" => d.big_endian = true,
                        "<" | "=" | "|" => d.big_endian = false,
                        other => return Err(self.err(format!("unknown byte order {other:?}"))),
                    }
                }
                Object::DType(d)
            }
            _ => return Err(self.err("BUILD is only supported on numpy arrays and dtypes")),
        };
        *self.object_mut(target)? = built;
        Ok(())
    }

    /// An array from its state `(version, shape, dtype, fortran, data)`.
    fn build_array(&mut self, state: &[Value]) -> Result<Object, PickleError> {
        let [_version, shape, dtype, fortran, data] = state else {
            return Err(self.err("array state is not (version, shape, dtype, fortran, data)"));
        };
        let shape = match self.objects.get(obj_index(*shape)) {
            Some(Object::Tuple(dims)) => dims
                .iter()
                .map(|d| match d {
                    Value::Int(n) => usize::try_from(*n).ok(),
                    _ => None,
                })
                .collect::<Option<Vec<usize>>>()
                .ok_or_else(|| self.err("array shape is not non-negative integers"))?,
            _ => return Err(self.err("array shape is not a tuple")),
        };
        let dtype = match self.objects.get(obj_index(*dtype)) {
            Some(Object::DType(d)) => *d,
            _ => return Err(self.err("array dtype is not a numpy dtype")),
        };
        let fortran = match fortran {
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            _ => return Err(self.err("array order flag is not a bool")),
        };
        let expected = shape
            .iter()
            .try_fold(dtype.size, |acc, &d| acc.checked_mul(d))
            .ok_or_else(|| self.err("array size overflows"))?;
        let data = self.raw_data(*data, expected)?;
        Ok(Object::Array(NdArray {
            dtype,
            shape,
            fortran,
            data,
        }))
    }

    fn run(&mut self) -> Result<Value, PickleError> {
        loop {
            self.at = self.pos;
            let op = self.u8()?;
            if let Some(name) = refused(op) {
                return Err(PickleError::Opcode {
                    offset: self.at,
                    opcode: op,
                    name,
                });
            }
            match op {
                0x80 => {
                    let proto = self.u8()?;
                    if proto > 5 {
                        return Err(self.err(format!("pickle protocol {proto} is unknown")));
                    }
                }
                0x95 => {
                    self.u64()?; // FRAME: a framing hint only.
                }
                b'.' => {
                    let root = self.pop()?;
                    return Ok(root);
                }
                b'(' => self.marks.push(self.stack.len()),
                b'0' => {
                    if self.marks.last() == Some(&self.stack.len()) {
                        self.marks.pop();
                    } else {
                        self.pop()?;
                    }
                }
                b'1' => {
                    self.pop_mark()?;
                }
                b'2' => {
                    let v = self.top()?;
                    self.push(v);
                }
                b'N' => self.push(Value::None),
                0x88 => self.push(Value::Bool(true)),
                0x89 => self.push(Value::Bool(false)),
                b'J' => {
                    let v = self.u32()? as i32 as i64;
                    self.push(Value::Int(v));
                }
                b'K' => {
                    let v = self.u8()? as i64;
                    self.push(Value::Int(v));
                }
                b'M' => {
                    let v = self.u16()? as i64;
                    self.push(Value::Int(v));
                }
                0x8a => {
                    let n = self.u8()? as usize;
                    let v = self.int(n)?;
                    self.push(v);
                }
                0x8b => {
                    let n = self.u32()? as usize;
                    let v = self.int(n)?;
                    self.push(v);
                }
                b'I' | b'L' => {
                    let text = self.line()?;
                    let text = text.trim_end_matches('L');
                    let v = match text {
                        "01" => Value::Bool(true),
                        "00" => Value::Bool(false),
                        t => Value::Int(
                            t.parse()
                                .map_err(|_| self.err(format!("bad integer {t:?}")))?,
                        ),
                    };
                    self.push(v);
                }
                b'F' => {
                    let text = self.line()?;
                    let v = text
                        .trim()
                        .parse()
                        .map_err(|_| self.err(format!("bad float {text:?}")))?;
                    self.push(Value::Float(v));
                }
                b'G' => {
                    let b = self.take(8)?;
                    let mut a = [0u8; 8];
                    a.copy_from_slice(b);
                    self.push(Value::Float(f64::from_be_bytes(a)));
                }
                0x8c => {
                    let n = self.u8()? as usize;
                    let v = self.utf8(n)?;
                    self.push(v);
                }
                b'X' => {
                    let n = self.u32()? as usize;
                    let v = self.utf8(n)?;
                    self.push(v);
                }
                0x8d => {
                    let n = self.len64()?;
                    let v = self.utf8(n)?;
                    self.push(v);
                }
                b'U' => {
                    let n = self.u8()? as usize;
                    let v = self.latin1(n)?;
                    self.push(v);
                }
                b'T' => {
                    let n = self.u32()? as usize;
                    let v = self.latin1(n)?;
                    self.push(v);
                }
                b'C' => {
                    let n = self.u8()? as usize;
                    let v = self.bytes_obj(n)?;
                    self.push(v);
                }
                b'B' => {
                    let n = self.u32()? as usize;
                    let v = self.bytes_obj(n)?;
                    self.push(v);
                }
                0x8e | 0x96 => {
                    let n = self.len64()?;
                    let v = self.bytes_obj(n)?;
                    self.push(v);
                }
                b')' => {
                    let v = self.alloc(Object::Tuple(Vec::new()));
                    self.push(v);
                }
                b't' => {
                    let items = self.pop_mark()?;
                    let v = self.alloc(Object::Tuple(items));
                    self.push(v);
                }
                0x85..=0x87 => {
                    let n = (op - 0x84) as usize;
                    if self.stack.len() < n
                        || self.marks.last().is_some_and(|&m| m > self.stack.len() - n)
                    {
                        return Err(self.err("too few items for a tuple"));
                    }
                    let items = self.stack.split_off(self.stack.len() - n);
                    let v = self.alloc(Object::Tuple(items));
                    self.push(v);
                }
                b']' => {
                    let v = self.alloc(Object::List(Vec::new()));
                    self.push(v);
                }
                b'l' => {
                    let items = self.pop_mark()?;
                    let v = self.alloc(Object::List(items));
                    self.push(v);
                }
                b'a' => {
                    let item = self.pop()?;
                    let list = self.top()?;
                    match self.object_mut(list)? {
                        Object::List(items) => items.push(item),
                        _ => return Err(self.err("APPEND to something that is not a list")),
                    }
                }
                b'e' => {
                    let new = self.pop_mark()?;
                    let list = self.top()?;
                    match self.object_mut(list)? {
                        Object::List(items) => items.extend(new),
                        _ => return Err(self.err("APPENDS to something that is not a list")),
                    }
                }
                b'}' => {
                    let v = self.alloc(Object::Dict(Vec::new()));
                    self.push(v);
                }
                b'd' => {
                    let items = self.pop_mark()?;
                    let v = self.alloc(Object::Dict(
                        pairs(&items).ok_or_else(|| self.err("odd dict items"))?,
                    ));
                    self.push(v);
                }
                b's' => {
                    let value = self.pop()?;
                    let key = self.pop()?;
                    let dict = self.top()?;
                    match self.object_mut(dict)? {
                        Object::Dict(items) => items.push((key, value)),
                        _ => return Err(self.err("SETITEM on something that is not a dict")),
                    }
                }
                b'u' => {
                    let new = self.pop_mark()?;
                    let new = pairs(&new).ok_or_else(|| self.err("odd SETITEMS items"))?;
                    let dict = self.top()?;
                    match self.object_mut(dict)? {
                        Object::Dict(items) => items.extend(new),
                        _ => return Err(self.err("SETITEMS on something that is not a dict")),
                    }
                }
                0x8f => {
                    let v = self.alloc(Object::Set(Vec::new()));
                    self.push(v);
                }
                0x90 => {
                    let new = self.pop_mark()?;
                    let set = self.top()?;
                    match self.object_mut(set)? {
                        Object::Set(items) => items.extend(new),
                        _ => return Err(self.err("ADDITEMS on something that is not a set")),
                    }
                }
                0x91 => {
                    let items = self.pop_mark()?;
                    let v = self.alloc(Object::Set(items));
                    self.push(v);
                }
                0x94 => {
                    let index = self.memo.len() as u32;
                    self.memo_put(index)?;
                }
                b'q' => {
                    let i = self.u8()? as u32;
                    self.memo_put(i)?;
                }
                b'r' => {
                    let i = self.u32()?;
                    self.memo_put(i)?;
                }
                b'p' => {
                    let text = self.line()?;
                    let i = text.parse().map_err(|_| self.err("bad PUT index"))?;
                    self.memo_put(i)?;
                }
                b'h' => {
                    let i = self.u8()? as u32;
                    self.memo_get(i)?;
                }
                b'j' => {
                    let i = self.u32()?;
                    self.memo_get(i)?;
                }
                b'g' => {
                    let text = self.line()?;
                    let i = text.parse().map_err(|_| self.err("bad GET index"))?;
                    self.memo_get(i)?;
                }
                b'c' => {
                    let module = self.line()?;
                    let name = self.line()?;
                    let v = self.global(&module, &name)?;
                    self.push(v);
                }
                0x93 => {
                    let name = self.pop()?;
                    let module = self.pop()?;
                    let (Some(module), Some(name)) = (self.string(module), self.string(name))
                    else {
                        return Err(self.err("STACK_GLOBAL needs two strings"));
                    };
                    let v = self.global(&module, &name)?;
                    self.push(v);
                }
                b'R' => self.reduce()?,
                b'b' => self.build()?,
                other => {
                    return Err(self.err(format!("unknown opcode {other:#04x}")));
                }
            }
        }
    }
}

fn obj_index(v: Value) -> usize {
    match v {
        Value::Obj(i) => i,
        _ => usize::MAX,
    }
}

fn pairs(items: &[Value]) -> Option<Vec<(Value, Value)>> {
    if !items.len().is_multiple_of(2) {
        return None;
    }
    Some(items.chunks(2).map(|kv| (kv[0], kv[1])).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Protocol-2 pickle of `{'a': [1, 2.5, 'x'], 'b': (True, None)}` as
    /// CPython writes it.
    const PLAIN: &[u8] = b"\x80\x02}q\x00(X\x01\x00\x00\x00aq\x01]q\x02(K\x01G@\x04\x00\x00\x00\x00\x00\x00X\x01\x00\x00\x00xq\x03eX\x01\x00\x00\x00bq\x04\x88N\x86q\x05u.";

    #[test]
    fn plain_containers() {
        let p = Pickle::parse(PLAIN).unwrap();
        let json = p.to_json(p.root()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"a": [1, 2.5, "x"], "b": [true, null]})
        );
    }

    #[test]
    fn code_execution_is_refused() {
        // `os.system('echo hi')` by REDUCE.
        let evil = b"\x80\x02cos\nsystem\nq\x00X\x07\x00\x00\x00echo hiq\x01\x85q\x02Rq\x03.";
        match Pickle::parse(evil) {
            Err(PickleError::Global { module, name, .. }) => {
                assert_eq!((module.as_str(), name.as_str()), ("os", "system"))
            }
            other => panic!("expected a refused global, got {other:?}"),
        }
        // builtins.eval by STACK_GLOBAL.
        let evil = b"\x80\x04\x8c\x08builtins\x8c\x04eval\x93.";
        assert!(matches!(
            Pickle::parse(evil),
            Err(PickleError::Global { .. })
        ));
        for op in [b'i', b'o', 0x81, b'Q', 0x82] {
            let bytes = [0x80, 0x04, op, b'.'];
            assert!(matches!(
                Pickle::parse(&bytes),
                Err(PickleError::Opcode { .. })
            ));
        }
        // An enum stub cannot be used to smuggle a call with arguments.
        let many = b"\x80\x04\x8c\x0bmelee.enums\x8c\tCharacter\x93K\x01K\x02\x86R.";
        assert!(matches!(
            Pickle::parse(many),
            Err(PickleError::Malformed { .. })
        ));
    }

    #[test]
    fn truncated_and_garbage_input_is_an_error_not_a_panic() {
        for end in 0..PLAIN.len() - 1 {
            assert!(
                Pickle::parse(&PLAIN[..end]).is_err(),
                "prefix of {end} bytes"
            );
        }
        let mut state = 0x1234_5678_9abc_def0u64;
        for _ in 0..2000 {
            let len = (state % 40) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    (state >> 24) as u8
                })
                .collect();
            let _ = Pickle::parse(&bytes);
        }
        // A huge length is refused before anything is allocated.
        let huge = b"\x80\x04\x8e\xff\xff\xff\xff\xff\xff\xff\x7f";
        assert!(Pickle::parse(huge).is_err());
    }

    #[test]
    fn deep_nesting_is_refused_when_walked_and_dropped_without_recursion() {
        let mut bytes = b"\x80\x04]".to_vec();
        bytes.extend(std::iter::repeat_n(0x85u8, 200_000));
        bytes.push(b'.');
        let p = Pickle::parse(&bytes).unwrap();
        assert!(matches!(
            p.to_json(p.root()),
            Err(PickleError::Structure(_))
        ));
        drop(p);
    }

    #[test]
    fn shared_references_cannot_expand_without_bound() {
        // Billion laughs: each level a pair of the level below, 60 deep.
        let mut bytes = b"\x80\x04]\x94".to_vec();
        for level in 0..60u8 {
            bytes.extend_from_slice(&[b'h', level, b'h', level, 0x86, 0x94]);
        }
        bytes.push(b'.');
        let p = Pickle::parse(&bytes).unwrap();
        assert!(matches!(
            p.to_json(p.root()),
            Err(PickleError::Structure(_))
        ));

        // One 64 KiB bytes object turned into arrays over and over.
        let size = 1usize << 16;
        let mut bytes = b"\x80\x04".to_vec();
        let string = |bytes: &mut Vec<u8>, s: &str| {
            bytes.push(0x8c);
            bytes.push(s.len() as u8);
            bytes.extend_from_slice(s.as_bytes());
        };
        string(&mut bytes, "numpy.core.multiarray");
        string(&mut bytes, "_reconstruct");
        bytes.extend_from_slice(b"\x93\x94"); // memo 0
        string(&mut bytes, "numpy");
        string(&mut bytes, "ndarray");
        bytes.extend_from_slice(b"\x93\x94"); // memo 1
        string(&mut bytes, "numpy");
        string(&mut bytes, "dtype");
        bytes.extend_from_slice(b"\x93"); // dtype class
        string(&mut bytes, "u1");
        bytes.extend_from_slice(b"\x89\x88\x87R\x94"); // memo 2: dtype('u1')
        bytes.push(0x8e);
        bytes.extend_from_slice(&(size as u64).to_le_bytes());
        bytes.extend(std::iter::repeat_n(7u8, size));
        bytes.extend_from_slice(b"\x94"); // memo 3: the data
        bytes.extend_from_slice(b"]\x94"); // memo 4: a list to keep them in
        for _ in 0..200 {
            bytes.extend_from_slice(b"h\x00h\x01K\x00\x85C\x01b\x87R"); // pending array
            bytes.extend_from_slice(b"(K\x01J");
            bytes.extend_from_slice(&(size as u32).to_le_bytes());
            bytes.extend_from_slice(b"\x85h\x02\x89h\x03tb"); // BUILD
            bytes.extend_from_slice(b"a"); // append it to the list
        }
        bytes.push(b'.');
        match Pickle::parse(&bytes) {
            Err(PickleError::Malformed { reason, .. }) => {
                assert!(reason.contains("copies far more"), "{reason}")
            }
            other => panic!("expected the copy budget to stop it, got {other:?}"),
        }
        // A few copies are fine: the same pickle with 2 arrays parses.
        let head = bytes.len() - 1 - 200 * 29;
        let mut two = bytes[..head + 2 * 29].to_vec();
        two.push(b'.');
        let p = Pickle::parse(&two).unwrap();
        match p.object(p.root()) {
            Some(Object::List(items)) => assert_eq!(items.len(), 2),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn arrays_in_c_and_fortran_order() {
        let f = |order: bool| NdArray {
            dtype: DType {
                kind: b'f',
                size: 4,
                big_endian: false,
            },
            shape: vec![2, 3],
            fortran: order,
            data: [1f32, 2., 3., 4., 5., 6.]
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect(),
        };
        assert_eq!(f(false).to_f32().unwrap(), [1., 2., 3., 4., 5., 6.]);
        // Fortran: columns first, so element (0, 1) is the third value.
        assert_eq!(f(true).to_f32().unwrap(), [1., 3., 5., 2., 4., 6.]);
        // f16, little- and big-endian: 1, -2 and the smallest subnormal.
        let halves = |big_endian: bool| NdArray {
            dtype: DType {
                kind: b'f',
                size: 2,
                big_endian,
            },
            shape: vec![3],
            fortran: false,
            data: [0x3C00u16, 0xC000, 0x0001]
                .iter()
                .flat_map(|v| {
                    if big_endian {
                        v.to_be_bytes()
                    } else {
                        v.to_le_bytes()
                    }
                })
                .collect(),
        };
        for big_endian in [false, true] {
            assert_eq!(
                halves(big_endian).to_f32().unwrap(),
                [1.0, -2.0, 2f32.powi(-24)]
            );
        }
    }
}
