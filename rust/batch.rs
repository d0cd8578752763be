//! Batches: run one function over many inputs on several threads, keeping the input order; and the array outputs
//! built that way (a batch's tokens laid end to end with document offsets, padded rows, token counts).
//!
//! Scoped threads are started per call and joined before it returns, so no pool outlives a call: nothing to
//! deadlock after `os.fork()`. Threads take inputs one at a time from a shared counter, so one long document does
//! not leave the other threads idle behind a fixed partition.

use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, TryLockError};

use crate::error::EncodeError;
use crate::special::SpecialPolicy;
use crate::vocab::Rank;
use crate::Encoder;

/// Applies `work` to every input on up to `threads` threads (0: one per CPU this process may use); results come in
/// input order, and the first error (in input order) is returned.
pub fn map_in_parallel<I, T, E>(
    inputs: &[I],
    threads: usize,
    work: impl Fn(&I) -> Result<T, E> + Sync,
) -> Result<Vec<T>, E>
where
    I: Sync,
    T: Send,
    E: Send,
{
    let threads = resolve_threads(threads).clamp(1, inputs.len().max(1));
    if threads == 1 {
        return inputs.iter().map(work).collect();
    }
    let next = AtomicUsize::new(0);
    let take_inputs = || {
        let mut results = Vec::new();
        loop {
            let index = next.fetch_add(1, Ordering::Relaxed);
            let Some(input) = inputs.get(index) else {
                break;
            };
            results.push((index, work(input)));
        }
        results
    };
    let mut done: Vec<(usize, Result<T, E>)> = std::thread::scope(|scope| {
        let workers: Vec<_> =
            (1..threads).map(|_| scope.spawn(|| crate::cache::with_lent_caches(take_inputs))).collect();
        // The calling thread works too, with its own caches: one thread fewer to start, and it would only wait.
        let mut done = take_inputs();
        for worker in workers {
            match worker.join() {
                Ok(results) => done.extend(results),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        done
    });
    done.sort_unstable_by_key(|(index, _)| *index);
    done.into_iter().map(|(_, result)| result).collect()
}

/// The documents of a text file read one per line, as `bytepair encode --split line` reads them: each line without
/// its line ending (`\n` or `\r\n`), empty lines skipped. Only `\n` ends a line (not the other Unicode line
/// breaks), as Python's `str.split("\n")` cuts the same text.
pub fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.split('\n').map(|line| line.strip_suffix('\r').unwrap_or(line)).filter(|line| !line.is_empty())
}

/// `threads`, or when it is 0 the CPUs this process may use (`available_parallelism` honours the affinity mask and
/// cgroup CPU quota on Linux, like `os.sched_getaffinity`).
pub fn resolve_threads(threads: usize) -> usize {
    if threads == 0 {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    } else {
        threads
    }
}

/// Text per thread below which a batch of text starts no further thread: starting one costs 10-30 us (16 threads
/// took 0.2 ms to start on the 16-core machine, for a batch that one thread encodes in 5 us), and one thread
/// encodes 16 KiB in about 0.1 ms.
const MIN_BYTES_PER_THREAD: usize = 16 << 10;

/// The threads for a batch of `bytes` bytes of text: `threads` (0: one per CPU), but at most one per
/// `MIN_BYTES_PER_THREAD`, so that a small batch is not slowed down by starting threads it has no work for.
fn threads_for_text(bytes: usize, threads: usize) -> usize {
    resolve_threads(threads).min(bytes.div_ceil(MIN_BYTES_PER_THREAD)).max(1)
}

/// The largest run of text that is one unit of work in a batch: documents are grouped into runs so that short
/// documents (one line each) do not pay a vector and a queue step each.
const RUN_BYTES: usize = 256 << 10;

/// The smallest run, but for a last one or a single larger document.
const MIN_RUN_BYTES: usize = 4 << 10;

/// Runs shrink as a batch is cut (guided scheduling): each takes `1 / (GUIDED_SHARE * threads)` of the text not yet
/// cut, between `MIN_RUN_BYTES` and `RUN_BYTES`. Threads take runs in order, so large runs go first and the last
/// ones are small: the threads finish within a small run of each other, and a large batch is still few runs.
const GUIDED_SHARE: usize = 2;

/// The size of the next run when `remaining` bytes of the batch are not yet cut into runs.
fn run_bytes(remaining: usize, threads: usize) -> usize {
    (remaining / (GUIDED_SHARE * threads).max(1)).clamp(MIN_RUN_BYTES, RUN_BYTES)
}

/// [`threads_for_text`] for a batch of `texts`.
pub fn threads_for_texts<S: AsRef<str>>(texts: &[S], threads: usize) -> usize {
    threads_for_text(total_bytes(texts), threads)
}

/// The bytes of all `texts`.
fn total_bytes<S: AsRef<str>>(texts: &[S]) -> usize {
    texts.iter().map(|text| text.as_ref().len()).sum()
}

/// Consecutive ranges of `texts` holding about [`run_bytes`] of text each (at least one document).
fn runs<S: AsRef<str>>(texts: &[S], threads: usize) -> Vec<Range<usize>> {
    let mut remaining = total_bytes(texts);
    let mut target = run_bytes(remaining, threads);
    let mut runs = Vec::new();
    let mut start = 0;
    let mut held = 0;
    for (index, text) in texts.iter().enumerate() {
        held += text.as_ref().len();
        if held >= target {
            runs.push(start..index + 1);
            start = index + 1;
            remaining -= held;
            held = 0;
            target = run_bytes(remaining, threads);
        }
    }
    if start < texts.len() {
        runs.push(start..texts.len());
    }
    runs
}

/// `data` cut into consecutive byte ranges of about [`run_bytes`] each, every one but the last ending just after a
/// line feed, so that [`lines`] of the ranges, one after another, are the lines of the whole.
fn line_runs(data: &[u8], threads: usize) -> Vec<Range<usize>> {
    let mut runs = Vec::new();
    let mut start = 0;
    while start < data.len() {
        let cut = (start + run_bytes(data.len() - start, threads)).min(data.len());
        let end = data[cut - 1..].iter().position(|&byte| byte == b'\n').map_or(data.len(), |at| cut + at);
        runs.push(start..end);
        start = end;
    }
    runs
}

/// Output bytes below which [`FlatBatch::write_tokens`] adds no thread: starting one costs tens of microseconds,
/// about what copying a MiB takes.
const WRITE_BYTES_PER_THREAD: usize = 1 << 20;

/// The width of the integers an array output is written with, little-endian.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenWidth {
    /// `uint16`: only for encodings whose largest id is below 65536.
    U16,
    /// `uint32`: any token.
    U32,
}

impl TokenWidth {
    /// Bytes per token.
    pub fn bytes(self) -> usize {
        match self {
            TokenWidth::U16 => 2,
            TokenWidth::U32 => 4,
        }
    }

    /// Writes `tokens` little-endian into `out`, which holds exactly `tokens.len() * self.bytes()` bytes.
    pub fn write(self, tokens: &[Rank], out: &mut [u8]) {
        match self {
            TokenWidth::U16 => {
                for (chunk, &token) in out.chunks_exact_mut(2).zip(tokens) {
                    let token = u16::try_from(token).expect("uint16 output is chosen only when every id fits");
                    chunk.copy_from_slice(&token.to_le_bytes());
                }
            }
            TokenWidth::U32 => {
                for (chunk, &token) in out.chunks_exact_mut(4).zip(tokens) {
                    chunk.copy_from_slice(&token.to_le_bytes());
                }
            }
        }
    }
}

/// Tries to lock `mutex` [`LOCK_TRIES`] times at most, for the state that batch threads share between calls (the
/// caches' depot, spare token vectors). Its users never wait for good, because after a fork a lock that a vanished
/// thread held stays locked; but a single `try_lock` is not enough: the workers of a batch finish within microseconds
/// of each other, and on the 16-core machine (6 MB calls on 16 threads) one of them found another's push under way
/// in about every second call, dropped its caches, and left a worker of the next call to start empty: 1,147 page
/// faults per call on average and a slow worker (`encode_batch_to_numpy` 1,128 MB/s, median of medians, against
/// 1,571 trying this way).
pub(crate) fn lock_briefly<T>(mutex: &Mutex<T>) -> Option<MutexGuard<'_, T>> {
    for _ in 0..LOCK_TRIES {
        match mutex.try_lock() {
            Ok(guard) => return Some(guard),
            Err(TryLockError::WouldBlock) => std::hint::spin_loop(),
            Err(TryLockError::Poisoned(_)) => return None,
        }
    }
    None
}

/// How many times [`lock_briefly`] tries: its users hold a lock only to push or pop a vector, and giving up on a lock
/// held throughout took 28 us (best of 200, this 2-core machine).
const LOCK_TRIES: usize = 1000;

/// Token vectors of dropped [`FlatBatch`]es, emptied, for the runs of later batches: a run's vector that outgrew its
/// first guess (a third of its text's bytes) moved to memory fresh from the system, and freeing it gave that memory
/// back. Measured on the 16-core machine, 6 MB of multilingual text in 4 KiB documents on one thread, cl100k_base:
/// 3,567 page faults per call without them, 70 with them. Never waited on for long ([`lock_briefly`]): a thread
/// that still finds it locked allocates (or frees) as before.
static SPARE_TOKENS: Mutex<SpareTokens> = Mutex::new(SpareTokens::new());

/// The most tokens of room [`SPARE_TOKENS`] keeps (64 MiB): one token per byte of the 16 MiB of text that
/// `bytepair encode` hands to a batch, so its batches run on reused memory.
const SPARE_TOKENS_LIMIT: usize = 16 << 20;

struct SpareTokens {
    vectors: Vec<Vec<Rank>>,
    /// Their capacities added up.
    capacity: usize,
}

impl SpareTokens {
    const fn new() -> Self {
        SpareTokens { vectors: Vec::new(), capacity: 0 }
    }
}

/// An empty token vector with room for `capacity` tokens: the smallest spare one that has it, else the largest
/// spare one grown to it, else a new one.
fn token_vector(capacity: usize) -> Vec<Rank> {
    token_vector_from(&SPARE_TOKENS, capacity)
}

fn token_vector_from(spares: &Mutex<SpareTokens>, capacity: usize) -> Vec<Rank> {
    let spare = lock_briefly(spares).and_then(|mut spare| {
        let by_room = |(_, vector): &(usize, &Vec<Rank>)| vector.capacity();
        let vectors = spare.vectors.iter().enumerate();
        let fits = vectors.clone().filter(|(_, vector)| vector.capacity() >= capacity).min_by_key(by_room);
        let (at, _) = fits.or_else(|| vectors.max_by_key(by_room))?;
        let vector = spare.vectors.swap_remove(at);
        spare.capacity -= vector.capacity();
        Some(vector)
    });
    let mut vector = spare.unwrap_or_default();
    vector.reserve(capacity);
    vector
}

/// Keeps `tokens`' memory for a later [`token_vector`], while [`SPARE_TOKENS`] has room.
fn spare_tokens(tokens: Vec<Rank>) {
    spare_tokens_in(&SPARE_TOKENS, tokens);
}

fn spare_tokens_in(spares: &Mutex<SpareTokens>, mut tokens: Vec<Rank>) {
    tokens.clear();
    if let Some(mut spare) = lock_briefly(spares) {
        if spare.capacity + tokens.capacity() <= SPARE_TOKENS_LIMIT {
            spare.capacity += tokens.capacity();
            spare.vectors.push(tokens);
        }
    }
}

/// The tokens of a batch of documents laid end to end, and where each document starts.
///
/// The tokens stay in the per-run vectors the threads filled; writers copy them once, straight into their output
/// (a Python `bytearray`, a file), instead of first concatenating them here.
#[derive(Debug, Default)]
pub struct FlatBatch {
    runs: Vec<Vec<Rank>>,
    offsets: Vec<u64>,
}

impl Drop for FlatBatch {
    fn drop(&mut self) {
        self.runs.drain(..).for_each(spare_tokens);
    }
}

impl FlatBatch {
    /// The batch of the runs' tokens laid end to end, from each run's tokens and its documents' token counts
    /// (`documents` in all).
    fn from_runs(encoded: Vec<(Vec<Rank>, Vec<u64>)>, documents: usize) -> Self {
        let mut offsets = Vec::with_capacity(documents + 1);
        offsets.push(0);
        let mut runs = Vec::with_capacity(encoded.len());
        let mut end = 0;
        for (tokens, lengths) in encoded {
            for length in lengths {
                end += length;
                offsets.push(end);
            }
            runs.push(tokens);
        }
        FlatBatch { runs, offsets }
    }

    /// Document `i` is `tokens[offsets[i]..offsets[i + 1]]`: one more offset than documents, the first 0 and the
    /// last the token count.
    pub fn offsets(&self) -> &[u64] {
        &self.offsets
    }

    /// Tokens in the batch.
    pub fn len(&self) -> usize {
        self.runs.iter().map(Vec::len).sum()
    }

    /// Whether the batch holds no tokens.
    pub fn is_empty(&self) -> bool {
        self.runs.iter().all(Vec::is_empty)
    }

    /// Every token, in order.
    pub fn tokens(&self) -> impl Iterator<Item = Rank> + '_ {
        self.runs.iter().flatten().copied()
    }

    /// Writes every token little-endian into `out`, which holds exactly `self.len() * width.bytes()` bytes, on up to
    /// `threads` threads (0: one per CPU), at most one per MiB of output: on many cores a single-threaded copy of a
    /// large batch would take a good part of the time the encoding took.
    pub fn write_tokens(&self, width: TokenWidth, out: &mut [u8], threads: usize) {
        let threads = resolve_threads(threads).min(out.len() / WRITE_BYTES_PER_THREAD);
        self.write_tokens_split(width, out, threads);
    }

    /// [`write_tokens`](Self::write_tokens) on `threads` threads (at most one per run), however small the output.
    fn write_tokens_split(&self, width: TokenWidth, out: &mut [u8], threads: usize) {
        let threads = threads.clamp(1, self.runs.len().max(1));
        let mut rest = out;
        let mut pieces: Vec<(&[Rank], &mut [u8])> = Vec::with_capacity(self.runs.len());
        for run in &self.runs {
            let (head, tail) = rest.split_at_mut(run.len() * width.bytes());
            pieces.push((run, head));
            rest = tail;
        }
        let write = |group: &mut [(&[Rank], &mut [u8])]| {
            for (run, out) in group {
                width.write(run, out);
            }
        };
        if threads == 1 {
            return write(&mut pieces);
        }
        // Groups of consecutive runs with about the same number of tokens each (runs shrink towards the end).
        let per_group = self.len().div_ceil(threads);
        let mut groups = Vec::with_capacity(threads);
        let mut rest = pieces.as_mut_slice();
        while !rest.is_empty() {
            let mut held = 0;
            let count = rest
                .iter()
                .position(|(run, _)| {
                    held += run.len();
                    held >= per_group
                })
                .map_or(rest.len(), |last| last + 1);
            let (group, tail) = std::mem::take(&mut rest).split_at_mut(count);
            groups.push(group);
            rest = tail;
        }
        std::thread::scope(|scope| {
            let mut groups = groups.into_iter();
            let first = groups.next();
            for group in groups {
                scope.spawn(move || write(group));
            }
            if let Some(group) = first {
                write(group);
            }
        });
    }

    /// Writes the offsets as little-endian `int64` (NumPy's index type) into `out` (`8 * offsets().len()` bytes).
    pub fn write_offsets(&self, out: &mut [u8]) {
        for (chunk, &offset) in out.chunks_exact_mut(8).zip(&self.offsets) {
            let offset = i64::try_from(offset).expect("a token count fits in i64");
            chunk.copy_from_slice(&offset.to_le_bytes());
        }
    }

    /// Lays the documents out as rows of `padding.length` tokens (the longest document when `None`), cutting
    /// longer ones and filling shorter ones with `padding.pad`; writes the rows into `ids` and 1 (token) or 0 (pad)
    /// into `mask`, both row-major, `width` bytes per cell. Returns the row length.
    pub fn write_padded(&self, padding: &Padding, width: TokenWidth, ids: &mut Vec<u8>, mask: &mut Vec<u8>) -> usize {
        let longest = self.offsets.windows(2).map(|pair| pair[1] - pair[0]).max().unwrap_or(0);
        let length = padding.length.unwrap_or(usize::try_from(longest).expect("a document's tokens fit in memory"));
        let documents = self.offsets.len().saturating_sub(1);
        let row_bytes = length * width.bytes();
        let tokens: Vec<Rank> = if self.runs.len() == 1 { Vec::new() } else { self.tokens().collect() };
        let tokens = if self.runs.len() == 1 { &self.runs[0] } else { &tokens };
        ids.resize(documents * row_bytes, 0);
        mask.resize(documents * row_bytes, 0);
        let pad_row: Vec<Rank> = vec![padding.pad; length];
        let ones: Vec<Rank> = vec![1; length];
        for (row, pair) in self.offsets.windows(2).enumerate() {
            let [start, end] = [pair[0], pair[1]].map(|offset| usize::try_from(offset).expect("fits in memory"));
            let document = &tokens[start..end];
            let kept = document.len().min(length);
            let kept = match padding.truncation_side {
                Side::Right => &document[..kept],
                Side::Left => &document[document.len() - kept..],
            };
            let first = match padding.padding_side {
                Side::Right => 0,
                Side::Left => length - kept.len(),
            };
            let ids_row = &mut ids[row * row_bytes..(row + 1) * row_bytes];
            let mask_row = &mut mask[row * row_bytes..(row + 1) * row_bytes];
            width.write(&pad_row, ids_row);
            let cells = first * width.bytes()..(first + kept.len()) * width.bytes();
            width.write(kept, &mut ids_row[cells.clone()]);
            width.write(&ones[..kept.len()], &mut mask_row[cells]);
        }
        length
    }
}

/// Which end of a row `Padding` fills or cuts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The start of the row.
    Left,
    /// The end of the row.
    Right,
}

/// How [`FlatBatch::write_padded`] shapes rows.
#[derive(Debug, Clone)]
pub struct Padding {
    /// Tokens per row; `None`: the longest document's count, so nothing is cut.
    pub length: Option<usize>,
    /// The id written where a row has no token.
    pub pad: Rank,
    /// Where padding goes.
    pub padding_side: Side,
    /// Which end of a longer document is cut.
    pub truncation_side: Side,
}

impl Encoder {
    /// Encodes every text on up to `threads` threads (0: one per CPU) into one [`FlatBatch`], special tokens as
    /// `policy` says (`None`: all ordinary text, as [`encode_ordinary`](Self::encode_ordinary)), with `separator`
    /// appended after each document when given. The first error in input order is returned.
    pub fn encode_batch_flat<S: AsRef<str> + Sync>(
        &self,
        texts: &[S],
        policy: Option<&SpecialPolicy>,
        threads: usize,
        separator: Option<Rank>,
    ) -> Result<FlatBatch, EncodeError> {
        let threads = threads_for_texts(texts, threads);
        let encoded = map_in_parallel(&runs(texts, threads), threads, |run| {
            let texts = &texts[run.clone()];
            let bytes: usize = texts.iter().map(|text| text.as_ref().len()).sum();
            let mut tokens = token_vector(bytes / 3 + texts.len());
            let mut lengths = Vec::with_capacity(texts.len());
            for text in texts {
                let before = tokens.len();
                self.encode_one_into(text.as_ref(), policy, &mut tokens)?;
                tokens.extend(separator);
                lengths.push((tokens.len() - before) as u64);
            }
            Ok((tokens, lengths))
        })?;
        Ok(FlatBatch::from_runs(encoded, texts.len()))
    }

    /// [`encode_batch_flat`](Self::encode_batch_flat) of ordinary text on the lines of `head` and `data` laid end to
    /// end (each line without its line ending, empty lines skipped, as `bytepair encode --split line` reads a file;
    /// `head`: the end of a line that the previous chunk of a file began), which must be UTF-8, and each line's size
    /// in bytes. Taking the two apart spares the caller a copy of the whole chunk to join them.
    ///
    /// The threads also check the UTF-8 and cut the lines (on the calling thread, cutting 16 MiB of English into
    /// lines took 10 ms, a fifth of the time 2 threads took to encode them): `data` is cut into runs after line
    /// feeds, and as the byte `\n` never occurs inside a UTF-8 sequence, each run is UTF-8 exactly when its bytes
    /// are valid on their own. The line that `head` begins is a run of its own, joined in a small buffer.
    pub fn encode_lines_flat(
        &self,
        head: &[u8],
        data: &[u8],
        threads: usize,
        separator: Option<Rank>,
    ) -> Result<(FlatBatch, Vec<u64>), EncodeError> {
        let threads = threads_for_text(head.len() + data.len(), threads);
        let (first, rest, rest_offset) = if head.is_empty() {
            (Vec::new(), data, 0)
        } else {
            let end = data.iter().position(|&byte| byte == b'\n').map_or(data.len(), |at| at + 1);
            ([head, &data[..end]].concat(), &data[end..], head.len() + end)
        };
        // Each run with the offset of its first byte in `head` and `data` laid end to end, for error messages.
        let mut inputs: Vec<(&[u8], usize)> = Vec::new();
        if !first.is_empty() {
            inputs.push((&first, 0));
        }
        inputs.extend(line_runs(rest, threads).into_iter().map(|run| (&rest[run.clone()], rest_offset + run.start)));
        let encoded = map_in_parallel(&inputs, threads, |&(bytes, offset)| {
            let text = std::str::from_utf8(bytes)
                .map_err(|err| EncodeError::NotUtf8 { offset: offset + err.valid_up_to() })?;
            let mut tokens = token_vector(text.len() / 3);
            let (mut lengths, mut sizes) = (Vec::new(), Vec::new());
            for line in lines(text) {
                let before = tokens.len();
                self.encode_ordinary_into(line, &mut tokens)?;
                tokens.extend(separator);
                lengths.push((tokens.len() - before) as u64);
                sizes.push(line.len() as u64);
            }
            Ok((tokens, lengths, sizes))
        })?;
        let documents = encoded.iter().map(|(_, lengths, _)| lengths.len()).sum();
        let mut all_sizes = Vec::with_capacity(documents);
        let mut runs = Vec::with_capacity(encoded.len());
        for (tokens, lengths, sizes) in encoded {
            all_sizes.extend(sizes);
            runs.push((tokens, lengths));
        }
        Ok((FlatBatch::from_runs(runs, documents), all_sizes))
    }

    /// The token count of every text (special tokens as `policy` says; `None`: none), on up to `threads` threads,
    /// without keeping the tokens: each run of texts reuses one buffer.
    pub fn count_tokens_batch<S: AsRef<str> + Sync>(
        &self,
        texts: &[S],
        policy: Option<&SpecialPolicy>,
        threads: usize,
    ) -> Result<Vec<usize>, EncodeError> {
        let threads = threads_for_texts(texts, threads);
        let counted = map_in_parallel(&runs(texts, threads), threads, |run| {
            let texts = &texts[run.clone()];
            let mut buffer = token_vector(texts.iter().map(|text| text.as_ref().len() / 3).max().unwrap_or(0));
            let counts = texts
                .iter()
                .map(|text| {
                    buffer.clear();
                    self.encode_one_into(text.as_ref(), policy, &mut buffer)?;
                    Ok(buffer.len())
                })
                .collect::<Result<Vec<_>, EncodeError>>();
            spare_tokens(buffer);
            counts
        })?;
        Ok(counted.into_iter().flatten().collect())
    }

    fn encode_one_into(
        &self,
        text: &str,
        policy: Option<&SpecialPolicy>,
        out: &mut Vec<Rank>,
    ) -> Result<(), EncodeError> {
        match policy {
            Some(policy) => self.encode_into(text, policy, out)?,
            None => self.encode_ordinary_into(text, out)?,
        };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_drop_their_endings_and_empty_lines() {
        let text = "one\r\ntwo\n\n\r\nthree\r\r\nfour\u{2028}five\x0c\n  \nlast";
        assert_eq!(lines(text).collect::<Vec<_>>(), ["one", "two", "three\r", "four\u{2028}five\x0c", "  ", "last"]);
        assert_eq!(lines("").count(), 0);
        assert_eq!(lines("\n\r\n").count(), 0);
    }

    #[test]
    fn keeps_input_order_and_reports_errors() {
        let inputs: Vec<u32> = (0..1000).collect();
        let doubled = map_in_parallel(&inputs, 4, |&x| Ok::<_, ()>(x * 2)).expect("no errors");
        assert_eq!(doubled, inputs.iter().map(|x| x * 2).collect::<Vec<_>>());
        let failed = map_in_parallel(&inputs, 4, |&x| if x == 500 { Err(x) } else { Ok(x) });
        assert_eq!(failed, Err(500));
    }

    fn tiny() -> Encoder {
        let vocab = include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/tiny.tiktoken"));
        Encoder::from_vocab_file(vocab, r"\S+|\s+", vec![("<|eot|>".to_owned(), 300)]).expect("tiny vocab is valid")
    }

    fn documents() -> Vec<String> {
        // 130 KB: enough text for several threads (a batch starts one per 16 KiB)
        (0..4000).map(|i| "abcd ab cd ".repeat(i % 7) + &"x".repeat(i % 3)).collect()
    }

    #[test]
    fn spare_token_vectors_are_reused_smallest_fitting_first_and_bounded() {
        let spares = Mutex::new(SpareTokens::new());
        let mut pointers = Vec::new();
        for capacity in [10, 100, 1000] {
            let mut tokens = Vec::with_capacity(capacity);
            tokens.extend([1, 2, 3]);
            pointers.push(tokens.as_ptr());
            spare_tokens_in(&spares, tokens);
        }
        let fits = token_vector_from(&spares, 50);
        assert_eq!((fits.as_ptr(), fits.len()), (pointers[1], 0), "the smallest that fits, emptied");
        let grown = token_vector_from(&spares, 5000);
        assert!(grown.capacity() >= 5000 && grown.is_empty(), "the largest left, grown");
        let last = token_vector_from(&spares, 1);
        assert_eq!(last.as_ptr(), pointers[0]);
        assert!(token_vector_from(&spares, 7).capacity() >= 7, "none left: a new one");
        assert_eq!(spares.lock().expect("not poisoned").capacity, 0);

        spare_tokens_in(&spares, Vec::with_capacity(SPARE_TOKENS_LIMIT));
        spare_tokens_in(&spares, Vec::with_capacity(1));
        let kept = spares.lock().expect("not poisoned");
        assert_eq!((kept.vectors.len(), kept.capacity), (1, SPARE_TOKENS_LIMIT), "no more than the limit kept");
    }

    #[test]
    fn lock_briefly_gives_up_on_a_lock_held_for_good() {
        let mutex = Mutex::new(1);
        assert_eq!(lock_briefly(&mutex).as_deref(), Some(&1));
        let held = mutex.lock().expect("not poisoned");
        assert!(std::thread::scope(|scope| scope.spawn(|| lock_briefly(&mutex).is_none()).join().expect("no panic")));
        drop(held);
        let poisoned = std::panic::catch_unwind(|| {
            let _guard = mutex.lock().expect("not poisoned");
            panic!("poisons the lock");
        });
        assert!(poisoned.is_err() && lock_briefly(&mutex).is_none());
    }

    #[test]
    fn flat_batch_equals_one_by_one_with_separators() {
        let encoder = tiny();
        let texts = documents();
        for threads in [1, 2, 5] {
            let flat = encoder.encode_batch_flat(&texts, None, threads, Some(300)).expect("ordinary text");
            let mut expected = Vec::new();
            let mut offsets = vec![0];
            for text in &texts {
                expected.extend(encoder.encode_ordinary(text).expect("ordinary text"));
                expected.push(300);
                offsets.push(expected.len() as u64);
            }
            assert_eq!(flat.tokens().collect::<Vec<_>>(), expected);
            assert_eq!(flat.offsets(), offsets);
            let mut bytes = vec![0; flat.len() * 2];
            flat.write_tokens(TokenWidth::U16, &mut bytes, 1);
            let widened: Vec<Rank> =
                bytes.chunks_exact(2).map(|pair| Rank::from(u16::from_le_bytes([pair[0], pair[1]]))).collect();
            assert_eq!(widened, expected);
        }
    }

    #[test]
    fn small_batches_start_one_thread_per_16_kib() {
        assert_eq!(threads_for_text(0, 8), 1);
        assert_eq!(threads_for_text(MIN_BYTES_PER_THREAD, 8), 1);
        assert_eq!(threads_for_text(MIN_BYTES_PER_THREAD + 1, 8), 2);
        assert_eq!(threads_for_text(100 * MIN_BYTES_PER_THREAD, 8), 8);
        assert_eq!(threads_for_text(usize::MAX, 0), resolve_threads(0));
    }

    #[test]
    fn lines_encoded_in_runs_equal_the_batch_of_the_lines() {
        let encoder = tiny();
        let text: String = (0..6000)
            .map(|i| match i % 6 {
                0 => "abcd ab\r\n".to_string(),
                1 => "\n".to_string(),
                2 => "cd \u{e9}\u{2028}x\n".to_string(),
                3 => "\r\n".to_string(),
                4 => "x ".repeat(i % 37) + "\n",
                _ => "ab\rcd\n".to_string(),
            })
            .collect::<String>()
            + "last line without a line feed";
        let lines: Vec<&str> = lines(&text).collect();
        let expected = encoder.encode_batch_flat(&lines, None, 1, Some(300)).expect("ordinary text");
        let expected_sizes: Vec<u64> = lines.iter().map(|line| line.len() as u64).collect();
        let bytes = text.as_bytes();
        // Where the head ends: nowhere, inside a line, inside a character (the 0xc3 0xa9 of é), just after a line
        // feed, inside the last line, everywhere.
        let e_acute = text.find('\u{e9}').expect("an é") + 1;
        for split in [0, 3, e_acute, 10, bytes.len() - 5, bytes.len()] {
            for threads in [1, 2, 5, 64] {
                let runs = line_runs(bytes, threads);
                assert!(threads == 1 || runs.len() > 8, "{threads} threads: the text must be cut into many runs");
                let (head, data) = bytes.split_at(split);
                let (flat, sizes) = encoder.encode_lines_flat(head, data, threads, Some(300)).expect("UTF-8");
                let case = format!("{threads} threads, head of {split} bytes");
                assert_eq!(flat.tokens().collect::<Vec<_>>(), expected.tokens().collect::<Vec<_>>(), "{case}");
                assert_eq!(flat.offsets(), expected.offsets(), "{case}");
                assert_eq!(sizes, expected_sizes, "{case}");
            }
        }
    }

    #[test]
    fn runs_shrink_towards_the_end_and_cover_the_batch_in_order() {
        let texts: Vec<String> = (0..3000).map(|i| "x".repeat(500 + i % 1000)).collect();
        for threads in [1, 2, 16] {
            let runs = runs(&texts, threads);
            assert_eq!(runs.first().map(|run| run.start), Some(0));
            assert_eq!(runs.last().map(|run| run.end), Some(texts.len()));
            assert!(runs.windows(2).all(|pair| pair[0].end == pair[1].start));
            let sizes: Vec<usize> = runs.iter().map(|run| total_bytes(&texts[run.clone()])).collect();
            let (first, last) = (sizes[0], sizes[sizes.len() - 2]);
            assert!(first >= 8 * last, "{threads} threads: first run {first} bytes, last full run {last}");
            assert!(sizes[..sizes.len() - 1].iter().all(|&size| (MIN_RUN_BYTES..RUN_BYTES + 1500).contains(&size)));
        }
    }

    #[test]
    fn line_runs_cover_the_data_and_end_after_line_feeds() {
        let data = b"ab\ncd\r\n\n\nefgh ijkl mnop\nq".repeat(2_000);
        for threads in [1, 2, 3, 100] {
            let runs = line_runs(&data, threads);
            assert!(runs.len() > 4, "{threads} threads: {} runs", runs.len());
            assert_eq!(runs.first().map(|run| run.start), Some(0));
            assert_eq!(runs.last().map(|run| run.end), Some(data.len()));
            for pair in runs.windows(2) {
                assert_eq!(pair[0].end, pair[1].start);
                assert_eq!(data[pair[0].end - 1], b'\n', "{threads} threads: {runs:?}");
            }
        }
        assert!(line_runs(b"", 4).is_empty());
    }

    #[test]
    fn lines_that_are_not_utf8_name_the_first_bad_byte() {
        let encoder = tiny();
        let mut data = "abcd ab cd\n".repeat(10_000).into_bytes();
        data[55_555] = 0xff;
        data[90_001] = 0xc3; // a lead byte followed by a line feed
        data[90_002] = b'\n';
        for threads in [1, 3, 16] {
            // The offset counts from the head's first byte, whether the bad byte is in the head, in the line the head
            // begins, or further on.
            for split in [0, 20, 55_550, 55_556, 60_000] {
                let (head, rest) = data.split_at(split);
                match encoder.encode_lines_flat(head, rest, threads, None) {
                    Err(EncodeError::NotUtf8 { offset }) => assert_eq!(offset, 55_555, "{threads} threads, {split}"),
                    other => panic!("{threads} threads, {split}: expected NotUtf8, got {other:?}"),
                }
            }
        }
        data[55_555] = b'a';
        let found = encoder.encode_lines_flat(&data[..7], &data[7..], 3, None);
        assert!(matches!(found, Err(EncodeError::NotUtf8 { offset: 90_001 })), "{found:?}");
    }

    #[test]
    fn tokens_written_on_several_threads_equal_one_thread() {
        let encoder = tiny();
        let texts: Vec<String> = (0..3000).map(|i| "abcd ab cd x ".repeat(1 + i % 50)).collect();
        let flat = encoder.encode_batch_flat(&texts, None, 3, Some(300)).expect("ordinary text");
        assert!(flat.runs.len() > 8, "the batch must split into several runs for this test");
        for width in [TokenWidth::U16, TokenWidth::U32] {
            let mut serial = vec![0; flat.len() * width.bytes()];
            flat.write_tokens_split(width, &mut serial, 1);
            let expected: Vec<u8> = match width {
                TokenWidth::U16 => {
                    flat.tokens().flat_map(|token| u16::try_from(token).expect("small ids").to_le_bytes()).collect()
                }
                TokenWidth::U32 => flat.tokens().flat_map(Rank::to_le_bytes).collect(),
            };
            assert_eq!(serial, expected);
            for threads in [2, 3, 7, 1000] {
                let mut split = vec![0; flat.len() * width.bytes()];
                flat.write_tokens_split(width, &mut split, threads);
                assert_eq!(split, expected, "{threads} threads");
            }
        }
    }

    #[test]
    fn flat_batch_reports_the_first_disallowed_special_token() {
        let encoder = tiny();
        let policy = encoder.special_policy([], ["<|eot|>"]);
        let texts = ["ab", "cd <|eot|>", "<|eot|>"];
        let err = encoder.encode_batch_flat(&texts, Some(&policy), 2, None).expect_err("disallowed");
        assert!(matches!(err, EncodeError::DisallowedSpecialToken { offset: 3, .. }), "{err:?}");
    }

    #[test]
    fn counts_equal_encoded_lengths() {
        let encoder = tiny();
        let texts = documents();
        let counts = encoder.count_tokens_batch(&texts, None, 3).expect("ordinary text");
        let expected: Vec<usize> =
            texts.iter().map(|text| encoder.encode_ordinary(text).expect("ordinary").len()).collect();
        assert_eq!(counts, expected);
    }

    #[test]
    fn padded_rows_cut_and_fill_on_the_chosen_sides() {
        // tiny: "ab cd" -> [256, 32, 257]; "abcd" -> [258]
        let encoder = tiny();
        let flat = encoder.encode_batch_flat(&["ab cd", "abcd", ""], None, 1, None).expect("ordinary text");
        let rows = |length, padding_side, truncation_side| {
            let padding = Padding { length, pad: 9, padding_side, truncation_side };
            let (mut ids, mut mask) = (Vec::new(), Vec::new());
            let length = flat.write_padded(&padding, TokenWidth::U32, &mut ids, &mut mask);
            let read = |bytes: &[u8]| -> Vec<u32> {
                bytes.chunks_exact(4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
            };
            (length, read(&ids), read(&mask))
        };
        assert_eq!(
            rows(None, Side::Right, Side::Right),
            (3, vec![256, 32, 257, 258, 9, 9, 9, 9, 9], vec![1, 1, 1, 1, 0, 0, 0, 0, 0])
        );
        assert_eq!(rows(Some(2), Side::Left, Side::Right), (2, vec![256, 32, 9, 258, 9, 9], vec![1, 1, 0, 1, 0, 0]));
        assert_eq!(rows(Some(2), Side::Right, Side::Left), (2, vec![32, 257, 258, 9, 9, 9], vec![1, 1, 1, 0, 0, 0]));
    }
}
