//! All PyO3 code: the `bytepair._core` module, the `Encoder` and `SpecialPolicy` classes, and the one mapping
//! from Rust errors to Python exceptions.

// PyO3 extracts arguments into owned values (`Vec<String>`, `PyBackedStr`); borrowing them is not an option.
#![allow(clippy::needless_pass_by_value)]

use std::collections::HashMap;

use pyo3::prelude::*;
use pyo3::pybacked::PyBackedStr;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};

use crate::{
    AddedToken, DecodeError, EncodeError, Encoder, HfEncoding, HfError, HfTokenizer, Normalizer, PreTokenizer, Rank,
    SpecialPolicy, Vocab, VocabError,
};

pyo3::import_exception!(bytepair.errors, DisallowedSpecialTokenError);
pyo3::import_exception!(bytepair.errors, SplitError);
pyo3::import_exception!(bytepair.errors, TokenizerFileError);
pyo3::import_exception!(bytepair.errors, UnknownTokenError);
pyo3::import_exception!(bytepair.errors, VocabFileError);

impl From<EncodeError> for PyErr {
    fn from(err: EncodeError) -> PyErr {
        match &err {
            EncodeError::DisallowedSpecialToken { token, .. } => {
                DisallowedSpecialTokenError::new_err((err.to_string(), token.clone()))
            }
            EncodeError::Split { .. } => SplitError::new_err(err.to_string()),
        }
    }
}

impl From<DecodeError> for PyErr {
    fn from(err: DecodeError) -> PyErr {
        UnknownTokenError::new_err(err.to_string())
    }
}

impl From<VocabError> for PyErr {
    fn from(err: VocabError) -> PyErr {
        VocabFileError::new_err(err.to_string())
    }
}

impl From<HfError> for PyErr {
    fn from(err: HfError) -> PyErr {
        TokenizerFileError::new_err(err.to_string())
    }
}

/// Python handle to an [`Encoder`]. Immutable, so threads can share it with the GIL released.
#[pyclass(name = "Encoder", module = "bytepair._core", frozen)]
struct PyEncoder {
    inner: Encoder,
}

/// Python handle to a [`SpecialPolicy`], built once per argument combination and reused.
#[pyclass(name = "SpecialPolicy", module = "bytepair._core", frozen)]
struct PySpecialPolicy {
    inner: SpecialPolicy,
}

#[pymethods]
impl PyEncoder {
    #[new]
    fn new(py: Python<'_>, vocab_file: &[u8], pattern: &str, special_tokens: Vec<(String, Rank)>) -> PyResult<Self> {
        Ok(Self { inner: py.detach(|| Encoder::from_vocab_file(vocab_file, pattern, special_tokens))? })
    }

    #[staticmethod]
    fn from_ranks(
        py: Python<'_>,
        mergeable_ranks: HashMap<Vec<u8>, Rank>,
        pattern: &str,
        special_tokens: Vec<(String, Rank)>,
    ) -> PyResult<Self> {
        let inner = py.detach(|| {
            let vocab = Vocab::from_ranks(mergeable_ranks.into_iter().map(|(token, rank)| (token.into(), rank)))?;
            Encoder::new(vocab, pattern, special_tokens)
        })?;
        Ok(Self { inner })
    }

    // ==== Encoding ====

    fn special_policy(&self, allowed: Vec<String>, disallowed: Vec<String>) -> PySpecialPolicy {
        let allowed = allowed.iter().map(String::as_str);
        let disallowed = disallowed.iter().map(String::as_str);
        PySpecialPolicy { inner: self.inner.special_policy(allowed, disallowed) }
    }

    fn encode_ordinary(&self, py: Python<'_>, text: PyBackedStr) -> PyResult<Vec<Rank>> {
        Ok(py.detach(|| self.inner.encode_ordinary(&text))?)
    }

    fn encode(&self, py: Python<'_>, text: PyBackedStr, policy: &PySpecialPolicy) -> PyResult<Vec<Rank>> {
        Ok(py.detach(|| self.inner.encode(&text, &policy.inner))?)
    }

    /// The tokens as little-endian `uint32` bytes, for `numpy.frombuffer`.
    fn encode_to_bytes<'py>(
        &self,
        py: Python<'py>,
        text: PyBackedStr,
        policy: &PySpecialPolicy,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let tokens = py.detach(|| self.inner.encode(&text, &policy.inner))?;
        // Written straight into the bytes object: one copy of the tokens, not two.
        PyBytes::new_with(py, tokens.len() * 4, |buffer| {
            for (chunk, token) in buffer.chunks_exact_mut(4).zip(&tokens) {
                chunk.copy_from_slice(&token.to_le_bytes());
            }
            Ok(())
        })
    }

    #[pyo3(signature = (texts, policy, num_threads=None))]
    fn encode_batch(
        &self,
        py: Python<'_>,
        texts: Vec<PyBackedStr>,
        policy: &PySpecialPolicy,
        num_threads: Option<usize>,
    ) -> PyResult<Vec<Vec<Rank>>> {
        Ok(py.detach(|| self.inner.encode_batch(&texts, &policy.inner, num_threads.unwrap_or(0)))?)
    }

    #[pyo3(signature = (texts, num_threads=None))]
    fn encode_ordinary_batch(
        &self,
        py: Python<'_>,
        texts: Vec<PyBackedStr>,
        num_threads: Option<usize>,
    ) -> PyResult<Vec<Vec<Rank>>> {
        Ok(py.detach(|| self.inner.encode_ordinary_batch(&texts, num_threads.unwrap_or(0)))?)
    }

    fn encode_with_unstable(
        &self,
        py: Python<'_>,
        text: PyBackedStr,
        policy: &PySpecialPolicy,
    ) -> PyResult<(Vec<Rank>, Vec<Vec<Rank>>)> {
        Ok(py.detach(|| self.inner.encode_with_unstable(&text, &policy.inner))?)
    }

    fn encode_single_token(&self, token: &[u8]) -> Option<Rank> {
        self.inner.encode_single_token(token)
    }

    fn encode_single_piece(&self, py: Python<'_>, piece: &[u8]) -> Vec<Rank> {
        py.detach(|| self.inner.encode_single_piece(piece))
    }

    fn encode_bytes(&self, py: Python<'_>, bytes: &[u8]) -> PyResult<Vec<Rank>> {
        Ok(py.detach(|| self.inner.encode_bytes(bytes))?)
    }

    // ==== Decoding ====

    fn decode_bytes<'py>(&self, py: Python<'py>, tokens: Tokens) -> PyResult<Bound<'py, PyBytes>> {
        let tokens = tokens.0;
        let bytes = py.detach(|| self.inner.decode_bytes(&tokens))?;
        Ok(PyBytes::new(py, &bytes))
    }

    #[pyo3(signature = (batch, num_threads=None))]
    fn decode_bytes_batch<'py>(
        &self,
        py: Python<'py>,
        batch: Vec<Tokens>,
        num_threads: Option<usize>,
    ) -> PyResult<Vec<Bound<'py, PyBytes>>> {
        let decoded = py.detach(|| self.inner.decode_bytes_batch(&batch, num_threads.unwrap_or(0)))?;
        Ok(decoded.iter().map(|bytes| PyBytes::new(py, bytes)).collect())
    }

    fn decode_single_token_bytes<'py>(&self, py: Python<'py>, token: Rank) -> PyResult<Bound<'py, PyBytes>> {
        Ok(PyBytes::new(py, self.inner.decode_single_token_bytes(token)?))
    }

    fn decode_tokens_bytes<'py>(&self, py: Python<'py>, tokens: Tokens) -> PyResult<Vec<Bound<'py, PyBytes>>> {
        let tokens = tokens.0;
        tokens.iter().map(|&token| Ok(PyBytes::new(py, self.inner.decode_single_token_bytes(token)?))).collect()
    }

    // ==== Vocabulary ====

    fn token_byte_values<'py>(&self, py: Python<'py>) -> Vec<Bound<'py, PyBytes>> {
        self.inner.token_byte_values().map(|bytes| PyBytes::new(py, bytes)).collect()
    }

    fn mergeable_ranks<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let ranks = PyDict::new(py);
        for (bytes, rank) in self.inner.vocab().iter() {
            ranks.set_item(PyBytes::new(py, bytes), rank)?;
        }
        Ok(ranks)
    }

    fn special_tokens(&self) -> Vec<(String, Rank)> {
        self.inner.special_tokens().map(|(text, rank)| (text.to_owned(), rank)).collect()
    }

    #[getter]
    fn max_token_value(&self) -> Rank {
        self.inner.max_token_value()
    }

    #[getter]
    fn n_mergeable(&self) -> usize {
        self.inner.vocab().len()
    }

    #[getter]
    fn pattern(&self) -> &str {
        self.inner.pattern()
    }

    #[getter]
    fn has_linear_splitter(&self) -> bool {
        self.inner.has_linear_splitter()
    }
}

/// Python handle to an [`HfTokenizer`]. Immutable, so threads can share it with the GIL released.
#[pyclass(name = "HfTokenizer", module = "bytepair._core", frozen)]
struct PyHfTokenizer {
    inner: HfTokenizer,
}

/// `(ids, offsets)` of one sequence, as Python lists.
type EncodingParts = (Vec<Rank>, Vec<(u32, u32)>);

fn into_parts(encoding: HfEncoding) -> EncodingParts {
    (encoding.ids, encoding.offsets)
}

#[pymethods]
impl PyHfTokenizer {
    #[new]
    #[allow(clippy::too_many_arguments)] // one argument per tokenizer.json section
    fn new(
        py: Python<'_>,
        vocab: Vec<(String, Rank)>,
        merges: Vec<(String, String)>,
        ignore_merges: bool,
        normalizers: Vec<(String, String, String)>,
        pre_tokenizers: Vec<(String, String, String, bool)>,
        added_tokens: Vec<(String, Rank, bool, bool, bool, bool, bool)>,
        trim_offsets: Option<bool>,
    ) -> PyResult<Self> {
        let inner = py.detach(|| {
            let normalizers = normalizers
                .iter()
                .map(|(kind, first, second)| Normalizer::from_parts(kind, first, second))
                .collect::<Result<Vec<_>, _>>()?;
            let pre_tokenizers = pre_tokenizers
                .iter()
                .map(|(kind, pattern, behavior, invert)| PreTokenizer::from_parts(kind, pattern, behavior, *invert))
                .collect::<Result<Vec<_>, _>>()?;
            let added = added_tokens
                .into_iter()
                .map(|(content, id, special, single_word, lstrip, rstrip, normalized)| AddedToken {
                    content,
                    id,
                    special,
                    single_word,
                    lstrip,
                    rstrip,
                    normalized,
                })
                .collect();
            HfTokenizer::new(&vocab, &merges, ignore_merges, normalizers, pre_tokenizers, added, trim_offsets)
        })?;
        Ok(Self { inner })
    }

    // ==== Encoding ====

    fn encode(&self, py: Python<'_>, text: PyBackedStr, with_offsets: bool) -> PyResult<EncodingParts> {
        Ok(py.detach(|| self.inner.encode(&text, with_offsets)).map(into_parts)?)
    }

    fn normalize(&self, py: Python<'_>, text: PyBackedStr) -> PyResult<String> {
        Ok(py.detach(|| self.inner.normalize(&text))?)
    }

    #[pyo3(signature = (texts, with_offsets, num_threads=None))]
    fn encode_batch(
        &self,
        py: Python<'_>,
        texts: Vec<PyBackedStr>,
        with_offsets: bool,
        num_threads: Option<usize>,
    ) -> PyResult<Vec<EncodingParts>> {
        let encodings = py.detach(|| {
            crate::batch::map_in_parallel(&texts, num_threads.unwrap_or(0), |text| {
                self.inner.encode(text, with_offsets)
            })
        })?;
        Ok(encodings.into_iter().map(into_parts).collect())
    }

    /// The batch's tokens as one little-endian `uint32` buffer, each text's token count as `uint64`, and (when
    /// asked for) the offsets as `uint32` pairs: the inputs of the NumPy arrays the call interface builds.
    #[pyo3(signature = (texts, with_offsets, num_threads=None))]
    fn encode_batch_flat<'py>(
        &self,
        py: Python<'py>,
        texts: Vec<PyBackedStr>,
        with_offsets: bool,
        num_threads: Option<usize>,
    ) -> PyResult<(Bound<'py, PyBytes>, Bound<'py, PyBytes>, Bound<'py, PyBytes>)> {
        let (tokens, lengths, offsets) = py.detach(|| {
            let encodings = crate::batch::map_in_parallel(&texts, num_threads.unwrap_or(0), |text| {
                self.inner.encode(text, with_offsets)
            })?;
            Ok::<_, EncodeError>(crate::flatten_encodings(&encodings))
        })?;
        Ok((PyBytes::new(py, &tokens), PyBytes::new(py, &lengths), PyBytes::new(py, &offsets)))
    }

    // ==== Decoding ====

    fn decode_bytes<'py>(&self, py: Python<'py>, tokens: Tokens, skip_special_tokens: bool) -> Bound<'py, PyBytes> {
        let bytes = py.detach(|| self.inner.decode_bytes(&tokens.0, skip_special_tokens));
        PyBytes::new(py, &bytes)
    }

    #[pyo3(signature = (batch, skip_special_tokens, num_threads=None))]
    fn decode_bytes_batch<'py>(
        &self,
        py: Python<'py>,
        batch: Vec<Tokens>,
        skip_special_tokens: bool,
        num_threads: Option<usize>,
    ) -> Vec<Bound<'py, PyBytes>> {
        let decoded = py.detach(|| {
            crate::batch::map_in_parallel(&batch, num_threads.unwrap_or(0), |tokens| {
                Ok::<_, std::convert::Infallible>(self.inner.decode_bytes(&tokens.0, skip_special_tokens))
            })
        });
        let decoded = match decoded {
            Ok(decoded) => decoded,
            Err(never) => match never {},
        };
        decoded.iter().map(|bytes| PyBytes::new(py, bytes)).collect()
    }

    // ==== Vocabulary ====

    fn token_bytes<'py>(&self, py: Python<'py>, token: Rank) -> Option<Bound<'py, PyBytes>> {
        self.inner.token_bytes(token).map(|bytes| PyBytes::new(py, bytes))
    }

    #[getter]
    fn is_linear(&self) -> bool {
        self.inner.is_linear()
    }
}

/// Token ids from Python: a list (or tuple) of ints is read item by item without the iterator protocol, which
/// PyO3's generic sequence extraction uses (measured: extraction was most of `decode_bytes` on 4 KiB documents);
/// anything else (a NumPy array, a generator) goes through the generic path. Errors are those of the generic path:
/// `OverflowError` for ids outside `u32`, `TypeError` for non-integers.
struct Tokens(Vec<Rank>);

impl AsRef<[Rank]> for Tokens {
    fn as_ref(&self) -> &[Rank] {
        &self.0
    }
}

impl<'a, 'py> FromPyObject<'a, 'py> for Tokens {
    type Error = PyErr;

    fn extract(object: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        if let Ok(list) = object.cast::<PyList>() {
            return list.iter().map(|item| item.extract::<Rank>()).collect::<PyResult<_>>().map(Tokens);
        }
        if let Ok(tuple) = object.cast::<PyTuple>() {
            return tuple.iter().map(|item| item.extract::<Rank>()).collect::<PyResult<_>>().map(Tokens);
        }
        Ok(Tokens(object.extract()?))
    }
}

/// Parses a `.tiktoken` rank file into `(token bytes, rank)` pairs, for `bytepair.load.load_tiktoken_bpe`.
#[pyfunction]
fn parse_rank_file<'py>(py: Python<'py>, contents: &[u8]) -> PyResult<Bound<'py, PyDict>> {
    let entries = py.detach(|| crate::parse_rank_file(contents))?;
    let ranks = PyDict::new(py);
    for (bytes, rank) in entries {
        ranks.set_item(PyBytes::new(py, &bytes), rank)?;
    }
    Ok(ranks)
}

#[pymodule(gil_used = false)]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyEncoder>()?;
    m.add_class::<PySpecialPolicy>()?;
    m.add_class::<PyHfTokenizer>()?;
    m.add_function(wrap_pyfunction!(parse_rank_file, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("is_release_build", !cfg!(debug_assertions))?;
    Ok(())
}
