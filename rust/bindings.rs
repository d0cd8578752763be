//! All PyO3 code: the `bytepair._core` module, the `Encoder` and `SpecialPolicy` classes, and the one mapping
//! from Rust errors to Python exceptions.

// PyO3 extracts arguments into owned values (`Vec<String>`, `PyBackedStr`); borrowing them is not an option.
#![allow(clippy::needless_pass_by_value)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicPtr, Ordering};

use pyo3::exceptions::{PyOverflowError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::pybacked::{PyBackedBytes, PyBackedStr};
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyList, PyTuple};

use crate::table::prefetch_line;
use crate::{
    split_merge_line, AddedToken, DecodeError, EncodeError, Encoder, FlatBatch, HfEncoding, HfError, HfTokenizer,
    Normalizer, Padding, PreTokenizer, Rank, Side, SpecialPolicy, TokenWidth, Vocab, VocabError,
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
            EncodeError::NotUtf8 { .. } => PyValueError::new_err(err.to_string()),
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
    ints: TokenInts,
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
        Ok(Self::wrap(py.detach(|| Encoder::from_vocab_file(vocab_file, pattern, special_tokens))?))
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
        Ok(Self::wrap(inner))
    }

    // ==== Encoding ====

    fn special_policy(&self, allowed: Vec<String>, disallowed: Vec<String>) -> PySpecialPolicy {
        let allowed = allowed.iter().map(String::as_str);
        let disallowed = disallowed.iter().map(String::as_str);
        PySpecialPolicy { inner: self.inner.special_policy(allowed, disallowed) }
    }

    fn encode_ordinary<'py>(&self, py: Python<'py>, text: PyBackedStr) -> PyResult<Bound<'py, PyList>> {
        let tokens = detach_unless_short(py, text.len(), || self.inner.encode_ordinary(&text))?;
        self.ints.list(py, &tokens)
    }

    fn encode<'py>(
        &self,
        py: Python<'py>,
        text: PyBackedStr,
        policy: &PySpecialPolicy,
    ) -> PyResult<Bound<'py, PyList>> {
        let tokens = detach_unless_short(py, text.len(), || self.inner.encode(&text, &policy.inner))?;
        self.ints.list(py, &tokens)
    }

    /// The tokens as a `uint32` NumPy array over the encoder's own vector, made here with NumPy's C API: earlier the
    /// tokens were copied into a `bytes` object for `numpy.frombuffer`, whose call from Python cost about 0.2 us, as
    /// much as encoding "hello world" (`benches/side_by_side.py --mode numpy`, English in 4 KiB documents, cl100k_base:
    /// 219 -> 235 MB/s). The vector is cut to its length first: the array keeps its whole allocation, which is made
    /// for more tokens than most texts give (see `capacity_for` in encoder.rs).
    fn encode_to_array<'py>(
        &self,
        py: Python<'py>,
        text: PyBackedStr,
        policy: &PySpecialPolicy,
    ) -> PyResult<Bound<'py, numpy::PyArray1<Rank>>> {
        require_numpy(py)?;
        let mut tokens = detach_unless_short(py, text.len(), || self.inner.encode(&text, &policy.inner))?;
        tokens.shrink_to_fit();
        Ok(numpy::PyArray1::from_vec(py, tokens))
    }

    #[pyo3(signature = (texts, policy, num_threads=None))]
    fn encode_batch<'py>(
        &self,
        py: Python<'py>,
        texts: Vec<PyBackedStr>,
        policy: &PySpecialPolicy,
        num_threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyList>> {
        let batch = py.detach(|| self.inner.encode_batch(&texts, &policy.inner, num_threads.unwrap_or(0)))?;
        self.ints.lists(py, &batch)
    }

    #[pyo3(signature = (texts, num_threads=None))]
    fn encode_ordinary_batch<'py>(
        &self,
        py: Python<'py>,
        texts: Vec<PyBackedStr>,
        num_threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyList>> {
        let batch = py.detach(|| self.inner.encode_ordinary_batch(&texts, num_threads.unwrap_or(0)))?;
        self.ints.lists(py, &batch)
    }

    /// A batch's tokens end to end (`width`-byte little-endian ints, `separator` after each document) and its
    /// `int64` document offsets, both as `bytearray`s for `numpy.frombuffer`; `policy` `None`: ordinary text.
    #[pyo3(signature = (texts, policy, num_threads, separator, width))]
    fn encode_batch_flat<'py>(
        &self,
        py: Python<'py>,
        texts: Vec<PyBackedStr>,
        policy: Option<&PySpecialPolicy>,
        num_threads: Option<usize>,
        separator: Option<Rank>,
        width: usize,
    ) -> PyResult<(Bound<'py, PyByteArray>, Bound<'py, PyByteArray>)> {
        let width = self.token_width(width, separator)?;
        let policy = policy.map(|policy| &policy.inner);
        let threads = num_threads.unwrap_or(0);
        let flat = py.detach(|| self.inner.encode_batch_flat(&texts, policy, threads, separator))?;
        drop(texts);
        Ok((tokens_bytearray(py, &flat, width, threads)?, offsets_bytearray(py, &flat)?))
    }

    /// [`encode_batch_flat`](Self::encode_batch_flat) of ordinary text on the lines of `head + data[:cut]`, a chunk of
    /// a UTF-8 text file cut after a line ending (see [`crate::batch::lines`]; `head` ends the previous read's last
    /// line, `data` is the next read, passed whole so that Python never copies a chunk), and each line's size in
    /// bytes (`int64`), so that `bytepair encode --split line` never makes a Python string per line. `ValueError`
    /// naming the first byte that is not UTF-8, counted from `head`'s first (the caller words the error for the file).
    #[pyo3(signature = (head, data, cut, num_threads, separator, width))]
    #[allow(clippy::too_many_arguments)] // the chunk's three parts and the options of `Encoding._encode_lines_flat`
    fn encode_lines_flat<'py>(
        &self,
        py: Python<'py>,
        head: PyBackedBytes,
        data: PyBackedBytes,
        cut: usize,
        num_threads: Option<usize>,
        separator: Option<Rank>,
        width: usize,
    ) -> PyResult<(Bound<'py, PyByteArray>, Bound<'py, PyByteArray>, Bound<'py, PyByteArray>)> {
        let width = self.token_width(width, separator)?;
        let threads = num_threads.unwrap_or(0);
        let data = data
            .get(..cut)
            .ok_or_else(|| PyValueError::new_err(format!("cut {cut} is past the end of {} bytes", data.len())))?;
        let head: &[u8] = &head;
        let (flat, sizes) = py.detach(|| {
            let (flat, sizes) = self.inner.encode_lines_flat(head, data, threads, separator)?;
            Ok::<_, EncodeError>((flat, sizes.iter().flat_map(|size| size.to_le_bytes()).collect::<Vec<u8>>()))
        })?;
        Ok((tokens_bytearray(py, &flat, width, threads)?, offsets_bytearray(py, &flat)?, PyByteArray::new(py, &sizes)))
    }

    /// A batch as padded rows: `(ids, mask, row length)`, both row-major `width`-byte little-endian ints.
    #[pyo3(signature = (texts, policy, num_threads, length, pad, padding_side, truncation_side, width))]
    #[allow(clippy::too_many_arguments)] // one per keyword argument of `Encoding.encode_batch_padded`
    fn encode_batch_padded<'py>(
        &self,
        py: Python<'py>,
        texts: Vec<PyBackedStr>,
        policy: Option<&PySpecialPolicy>,
        num_threads: Option<usize>,
        length: Option<usize>,
        pad: Rank,
        padding_side: &str,
        truncation_side: &str,
        width: usize,
    ) -> PyResult<(Bound<'py, PyByteArray>, Bound<'py, PyByteArray>, usize)> {
        let width = self.token_width(width, Some(pad))?;
        let padding =
            Padding { length, pad, padding_side: side(padding_side)?, truncation_side: side(truncation_side)? };
        let policy = policy.map(|policy| &policy.inner);
        let (ids, mask, length) = py.detach(|| {
            let flat = self.inner.encode_batch_flat(&texts, policy, num_threads.unwrap_or(0), None)?;
            let (mut ids, mut mask) = (Vec::new(), Vec::new());
            let length = flat.write_padded(&padding, width, &mut ids, &mut mask);
            Ok::<_, EncodeError>((ids, mask, length))
        })?;
        Ok((PyByteArray::new(py, &ids), PyByteArray::new(py, &mask), length))
    }

    /// The token count of one text (a batch of one paid for a thread count, runs and two lists per call).
    fn count_tokens(&self, py: Python<'_>, text: PyBackedStr, policy: &PySpecialPolicy) -> PyResult<usize> {
        Ok(detach_unless_short(py, text.len(), || self.inner.encode(&text, &policy.inner))?.len())
    }

    /// Token counts of a batch, without keeping the tokens; `policy` `None`: ordinary text.
    #[pyo3(signature = (texts, policy, num_threads))]
    fn count_tokens_batch(
        &self,
        py: Python<'_>,
        texts: Vec<PyBackedStr>,
        policy: Option<&PySpecialPolicy>,
        num_threads: Option<usize>,
    ) -> PyResult<Vec<usize>> {
        let policy = policy.map(|policy| &policy.inner);
        Ok(py.detach(|| self.inner.count_tokens_batch(&texts, policy, num_threads.unwrap_or(0)))?)
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
        let bytes = detach_unless_short(py, tokens.len(), || self.inner.decode_bytes(&tokens))?;
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

    fn decode_single_token_bytes<'py>(
        &self,
        py: Python<'py>,
        token: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        Ok(PyBytes::new(py, self.inner.decode_single_token_bytes(token_id(token, None)?)?))
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

impl PyEncoder {
    fn wrap(inner: Encoder) -> Self {
        let ints = TokenInts::new(inner.max_token_value());
        Self { inner, ints }
    }

    /// The output width for `bytes` (2 or 4), checked against every id the output may hold.
    fn token_width(&self, bytes: usize, extra: Option<Rank>) -> PyResult<TokenWidth> {
        match bytes {
            4 => Ok(TokenWidth::U32),
            2 => {
                let largest = self.inner.max_token_value().max(extra.unwrap_or(0));
                if largest > Rank::from(u16::MAX) {
                    return Err(PyValueError::new_err(format!(
                        "uint16 cannot hold token {largest}; use uint32 (the default)"
                    )));
                }
                Ok(TokenWidth::U16)
            }
            _ => Err(PyValueError::new_err(format!("token width must be 2 or 4 bytes, got {bytes}"))),
        }
    }
}

/// One Python `int` per token id, made on first use and shared by every list this encoder returns.
///
/// CPython keeps only the ints up to 256 ready-made; building a list of other ids allocates one object per token,
/// which was most of the cost of returning a list (measured with callgrind on English, cl100k_base: 95 instructions
/// per token, against 20 to take a shared int and store it). Ints are immutable, so sharing them is invisible.
/// Ids past [`TokenInts::LIMIT`] (only a sparse custom vocabulary has them) are made per use.
///
/// A slot is one pointer, null until its int is made, and lists are filled through the C API: with a `OnceLock` per
/// slot (16 bytes) and pyo3's list from an iterator, building a list took 32 instructions per token, now 23, 12 of
/// them in `PyList_New` (callgrind, 1 MB of English, o200k_base, `encode_ordinary`), and the table, looked up at
/// random, took twice the memory.
struct TokenInts {
    /// Each non-null pointer is a strong reference that this table owns.
    slots: Box<[AtomicPtr<ffi::PyObject>]>,
}

/// How many tokens ahead of the one being put in a list its int is prefetched: the ints are objects of their own,
/// spread over Python's heap, and putting one in a list writes its reference count. Measured with
/// `benches/side_by_side.py --mode list` against no prefetch: 1.03-1.08x on multilingual text (o200k_base), 1.10x on
/// English (cl100k_base, o200k_base), 1.00-1.02x on code; 8 ahead instead of 16: 0.93-1.04x.
const INTS_AHEAD: usize = 16;

impl TokenInts {
    /// Bounds the table (8 bytes per slot) for a vocabulary with a huge largest id.
    const LIMIT: usize = 1 << 20;

    fn new(max_token: Rank) -> Self {
        let len = (max_token as usize + 1).min(Self::LIMIT);
        Self { slots: (0..len).map(|_| AtomicPtr::new(std::ptr::null_mut())).collect() }
    }

    /// A new strong reference to the int `token`.
    #[inline]
    fn int(&self, py: Python<'_>, token: Rank) -> PyResult<*mut ffi::PyObject> {
        let Some(slot) = self.slots.get(token as usize) else {
            return Self::make(py, token);
        };
        let shared = slot.load(Ordering::Acquire);
        if shared.is_null() {
            return Self::share(py, slot, token);
        }
        // SAFETY: the slot's reference keeps the object alive; the GIL is held (`py`).
        unsafe { ffi::Py_INCREF(shared) };
        Ok(shared)
    }

    /// Makes the int of an empty slot and keeps it there (or takes the one another thread kept first, where threads
    /// run without a GIL).
    #[cold]
    #[inline(never)]
    fn share(py: Python<'_>, slot: &AtomicPtr<ffi::PyObject>, token: Rank) -> PyResult<*mut ffi::PyObject> {
        let made = Self::make(py, token)?;
        let kept = match slot.compare_exchange(std::ptr::null_mut(), made, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => made,
            Err(first) => {
                // SAFETY: `made` is our own new reference, no longer wanted.
                unsafe { ffi::Py_DECREF(made) };
                first
            }
        };
        // SAFETY: one reference for the slot (kept above), one for the caller.
        unsafe { ffi::Py_INCREF(kept) };
        Ok(kept)
    }

    fn make(py: Python<'_>, token: Rank) -> PyResult<*mut ffi::PyObject> {
        // SAFETY: the GIL is held; the result is a new reference or null with an exception set.
        let made = unsafe { ffi::PyLong_FromUnsignedLong(token.into()) };
        if made.is_null() {
            return Err(PyErr::fetch(py));
        }
        Ok(made)
    }

    fn list<'py>(&self, py: Python<'py>, tokens: &[Rank]) -> PyResult<Bound<'py, PyList>> {
        let len = ffi::Py_ssize_t::try_from(tokens.len()).map_err(|_| PyValueError::new_err("too many tokens"))?;
        // SAFETY: a new list of `len` empty items, owned here; each item is set once below before any Python code
        // sees the list (a list whose items are still null is valid to drop, should making an int fail).
        let list = unsafe { Bound::from_owned_ptr_or_err(py, ffi::PyList_New(len))?.cast_into_unchecked::<PyList>() };
        // Plain indices: the iterator adapters this loop had (a zip with a skipped, chained copy for the prefetch)
        // compiled to 44 instructions per token, spilling to the stack (callgrind, 1 MiB of random letters).
        for (index, &token) in (0..len).zip(tokens) {
            #[allow(clippy::cast_sign_loss)] // 0 <= index < len
            if let Some(slot) =
                tokens.get(index as usize + INTS_AHEAD).and_then(|&later| self.slots.get(later as usize))
            {
                prefetch_line(slot.load(Ordering::Relaxed));
            }
            let int = self.int(py, token)?;
            // SAFETY: `index` is within the new list, its item still empty; the item takes over `int`'s reference.
            unsafe { set_new_item(list.as_ptr(), index, int) };
        }
        Ok(list)
    }

    fn lists<'py>(&self, py: Python<'py>, batch: &[Vec<Rank>]) -> PyResult<Bound<'py, PyList>> {
        PyList::new(py, batch.iter().map(|tokens| self.list(py, tokens)).collect::<PyResult<Vec<_>>>()?)
    }
}

impl Drop for TokenInts {
    /// Gives the slots' references back. An encoder is dropped when Python frees it, with the GIL held; while the
    /// interpreter shuts down (where `Python::attach` would panic), the ints are left to the exiting process.
    fn drop(&mut self) {
        let shared: Vec<_> = self.slots.iter_mut().map(|slot| *slot.get_mut()).filter(|int| !int.is_null()).collect();
        if !shared.is_empty() {
            Python::try_attach(|_| {
                for int in shared {
                    // SAFETY: the slot's own reference, given up once; the GIL is held.
                    unsafe { ffi::Py_DECREF(int) };
                }
            });
        }
    }
}

/// Sets item `index` of a new list, whose item there is still empty, taking over `item`'s reference.
///
/// # Safety
/// `list` is a list made by `PyList_New` that no Python code has seen, `index` within it and not yet set, and the
/// GIL is held.
#[inline]
unsafe fn set_new_item(list: *mut ffi::PyObject, index: ffi::Py_ssize_t, item: *mut ffi::PyObject) {
    // The stable ABI has no `PyList_SET_ITEM`; `PyList_SetItem` checks its arguments first.
    #[cfg(feature = "abi3")]
    unsafe {
        ffi::PyList_SetItem(list, index, item);
    }
    #[cfg(not(feature = "abi3"))]
    unsafe {
        ffi::PyList_SET_ITEM(list, index, item);
    }
}

fn side(name: &str) -> PyResult<Side> {
    match name {
        "left" => Ok(Side::Left),
        "right" => Ok(Side::Right),
        _ => Err(PyValueError::new_err(format!("side must be 'left' or 'right', got {name:?}"))),
    }
}

// Written straight into the bytearray, with the GIL released and on several threads for a large batch: zeroing and
// copying the tokens of 6 MB of English took 1.1 ms on one thread (2-core machine), and 16 threads encode those 6 MB
// in 3.4-3.9 ms (16-core machine).
fn tokens_bytearray<'py>(
    py: Python<'py>,
    flat: &FlatBatch,
    width: TokenWidth,
    threads: usize,
) -> PyResult<Bound<'py, PyByteArray>> {
    let len = flat.len() * width.bytes();
    let size = ffi::Py_ssize_t::try_from(len).map_err(|_| PyValueError::new_err("the batch's tokens do not fit"))?;
    // SAFETY: a new bytearray of `len` uninitialized bytes (PyByteArray::new_with would zero them first, a pass over
    // the whole output for nothing); every byte is written below before any Python code can see the object, and no
    // other thread can reach it while the GIL is released.
    let bytearray = unsafe {
        Bound::from_owned_ptr_or_err(py, ffi::PyByteArray_FromStringAndSize(std::ptr::null(), size))?
            .cast_into_unchecked::<PyByteArray>()
    };
    let out = unsafe { bytearray.as_bytes_mut() };
    py.detach(|| flat.write_tokens(width, out, threads));
    Ok(bytearray)
}

/// Runs `work` on a text of `len` bytes (or a list of `len` tokens) with the GIL released, unless it is shorter than
/// [`KEEP_GIL_BELOW`]: releasing the GIL and taking it back cost two mutex round trips and about 400 instructions
/// (callgrind, 20,000 calls of `encode_ordinary("hello world")`: 3,019 -> 2,631 instructions per call without), more
/// than the encoding of a few words, and such a call holds the GIL for about a microsecond, far below the
/// interpreter's 5 ms switch interval. Longer texts release it, so that Python threads encoding at once run in
/// parallel (`tests/test_threads.py` checks that they do).
fn detach_unless_short<T: Send>(py: Python<'_>, len: usize, work: impl FnOnce() -> T + Send) -> T {
    if len < KEEP_GIL_BELOW {
        work()
    } else {
        py.detach(work)
    }
}

/// See [`detach_unless_short`].
const KEEP_GIL_BELOW: usize = 256;

/// Imports NumPy once, before the first array: the `numpy` crate finds NumPy's C API by importing it and panics where
/// it cannot, so a missing NumPy is the import's `ModuleNotFoundError` here instead.
fn require_numpy(py: Python<'_>) -> PyResult<()> {
    static IMPORTED: PyOnceLock<()> = PyOnceLock::new();
    IMPORTED.get_or_try_init(py, || py.import("numpy").map(drop)).copied()
}

fn offsets_bytearray<'py>(py: Python<'py>, flat: &FlatBatch) -> PyResult<Bound<'py, PyByteArray>> {
    PyByteArray::new_with(py, flat.offsets().len() * 8, |buffer| {
        flat.write_offsets(buffer);
        Ok(())
    })
}

/// One merge as Python passes it: a merge-list line (`"left right"`, split in Rust: splitting 280,000 lines in
/// Python took 0.2 s of Llama 3's load) or a `(left, right)` pair.
#[derive(FromPyObject)]
enum MergeSpec {
    Line(String),
    Pair(String, String),
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
        merges: Vec<MergeSpec>,
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
            let merges = merges
                .iter()
                .enumerate()
                .map(|(index, merge)| match merge {
                    MergeSpec::Line(line) => split_merge_line(index, line),
                    MergeSpec::Pair(left, right) => Ok((left.as_str(), right.as_str())),
                })
                .collect::<Result<Vec<_>, _>>()?;
            HfTokenizer::new(&vocab, &merges, ignore_merges, normalizers, pre_tokenizers, added, trim_offsets)
        })?;
        Ok(Self { inner })
    }

    // ==== Encoding ====

    fn encode(&self, py: Python<'_>, text: PyBackedStr, with_offsets: bool) -> PyResult<EncodingParts> {
        Ok(detach_unless_short(py, text.len(), || self.inner.encode(&text, with_offsets)).map(into_parts)?)
    }

    fn normalize(&self, py: Python<'_>, text: PyBackedStr) -> PyResult<String> {
        Ok(detach_unless_short(py, text.len(), || self.inner.normalize(&text))?)
    }

    #[pyo3(signature = (texts, with_offsets, num_threads=None))]
    fn encode_batch(
        &self,
        py: Python<'_>,
        texts: Vec<PyBackedStr>,
        with_offsets: bool,
        num_threads: Option<usize>,
    ) -> PyResult<Vec<EncodingParts>> {
        let threads = crate::batch::threads_for_texts(&texts, num_threads.unwrap_or(0));
        let encodings =
            py.detach(|| crate::batch::map_in_parallel(&texts, threads, |text| self.inner.encode(text, with_offsets)))?;
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
        let threads = crate::batch::threads_for_texts(&texts, num_threads.unwrap_or(0));
        let (tokens, lengths, offsets) = py.detach(|| {
            let encodings =
                crate::batch::map_in_parallel(&texts, threads, |text| self.inner.encode(text, with_offsets))?;
            Ok::<_, EncodeError>(crate::flatten_encodings(&encodings))
        })?;
        Ok((PyBytes::new(py, &tokens), PyBytes::new(py, &lengths), PyBytes::new(py, &offsets)))
    }

    // ==== Decoding ====

    fn decode_bytes<'py>(&self, py: Python<'py>, tokens: Tokens, skip_special_tokens: bool) -> Bound<'py, PyBytes> {
        let bytes = detach_unless_short(py, tokens.0.len(), || self.inner.decode_bytes(&tokens.0, skip_special_tokens));
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
/// an object with a `tolist()` that gives a list (NumPy, PyTorch, `array`) is read through that list, and anything else
/// (a generator) is iterated. Errors: `OverflowError` naming an id outside `u32` (see
/// [`token_id`]), `TypeError` for non-integers.
struct Tokens(Vec<Rank>);

impl AsRef<[Rank]> for Tokens {
    fn as_ref(&self) -> &[Rank] {
        &self.0
    }
}

impl<'a, 'py> FromPyObject<'a, 'py> for Tokens {
    type Error = PyErr;

    fn extract(object: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        let py = object.py();
        if let Ok(list) = object.cast::<PyList>() {
            // SAFETY: `list` is a live list; `PyList_GetItem` checks the index and returns a borrowed reference.
            return read_ids(py, list.len(), |index| unsafe { ffi::PyList_GetItem(list.as_ptr(), index) });
        }
        if let Ok(tuple) = object.cast::<PyTuple>() {
            // SAFETY: as above, for a tuple.
            return read_ids(py, tuple.len(), |index| unsafe { ffi::PyTuple_GetItem(tuple.as_ptr(), index) });
        }
        // A NumPy array, a PyTorch tensor or an `array.array`: their `tolist()` makes the ints in one C loop, and the
        // list is read as above (measured: `decode_bytes` of 266,051 ids from a NumPy array took 21.4 ms read item by
        // item, 16.6 ms this way; from a list, 3.7-4.1 ms).
        if let Ok(list) = object.call_method0(pyo3::intern!(py, "tolist")) {
            if let Ok(list) = list.cast::<PyList>() {
                // SAFETY: as above.
                return read_ids(py, list.len(), |index| unsafe { ffi::PyList_GetItem(list.as_ptr(), index) });
            }
        }
        // Anything else that iterates (a generator, a range); a `str` would iterate too, and fails at its first
        // character, as PyO3's extraction of a sequence refuses it.
        let ids = object.try_iter()?.enumerate().map(|(index, item)| token_id(&item?, Some(index)));
        Ok(Tokens(ids.collect::<PyResult<_>>()?))
    }
}

/// A token id from a Python object: PyO3's `TypeError` for one that is not an integer, and for an integer outside the
/// ids' range an `OverflowError` (tiktoken's type) that names it and the range, where PyO3's says only "out of range
/// integral type conversion attempted".
fn token_id(object: &Bound<'_, PyAny>, index: Option<usize>) -> PyResult<Rank> {
    object.extract::<Rank>().map_err(|err| {
        if !err.is_instance_of::<PyOverflowError>(object.py()) {
            return err;
        }
        let value = object.str().map_or_else(|_| "?".to_owned(), |text| text.to_string());
        let at = index.map_or_else(String::new, |index| format!(" (item {index})"));
        PyOverflowError::new_err(format!(
            "token id {value}{at} is out of range: token ids are integers from 0 to {}",
            Rank::MAX
        ))
    })
}

/// Reads the `len` items that `item` returns (borrowed references, or null with an exception set) as token ids.
///
/// An exact `int` is read with one C call and no reference counting (measured with callgrind: 128 instructions per
/// id through PyO3's iterator and extraction, most of `decode_bytes`); anything else, and any value that does not
/// fit, goes through PyO3's extraction, which gives the usual `TypeError` or `OverflowError`.
fn read_ids(py: Python<'_>, len: usize, item: impl Fn(ffi::Py_ssize_t) -> *mut ffi::PyObject) -> PyResult<Tokens> {
    let mut ids = Vec::with_capacity(len);
    for index in 0..len {
        let index = ffi::Py_ssize_t::try_from(index).expect("a Python sequence's index fits Py_ssize_t");
        let object = item(index);
        if object.is_null() {
            return Err(PyErr::fetch(py));
        }
        // SAFETY: `object` is a borrowed reference that the sequence keeps alive: for an exact int, reading it
        // runs no Python code that could change the sequence; otherwise the reference is taken (counted) first.
        let fast = unsafe {
            if ffi::PyLong_CheckExact(object) != 0 {
                Rank::try_from(ffi::PyLong_AsLong(object)).ok()
            } else {
                None
            }
        };
        if let Some(id) = fast {
            ids.push(id);
        } else {
            // An int out of range left an OverflowError behind; `token_id` reports it properly.
            drop(PyErr::take(py));
            // SAFETY: as above; `from_borrowed_ptr` takes a new reference before any Python code runs.
            ids.push(token_id(&unsafe { Bound::from_borrowed_ptr(py, object) }, usize::try_from(index).ok())?);
        }
    }
    Ok(Tokens(ids))
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
