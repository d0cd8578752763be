//! Pair-based byte-pair merge, as Hugging Face's BPE model does it: merge priority comes from the merge list.
//!
//! In a `tokenizer.json` the merge list's order is the priority and need not follow token ids, and one token may be
//! the result of several merges (`"a bc"` and `"ab c"`). So the merge table is keyed by the pair of token ids:
//! `(left, right) -> (priority, merged)`. A piece starts as one token per byte; the adjacent pair with the lowest
//! priority is merged, the leftmost one on ties, until no adjacent pair has a merge. For the merges
//! `["a b", "b c", "ab c"]` the piece `abc` gives `a b c -> ab c -> abc`: `b c` (priority 1) never fires, because
//! `a b` (priority 0) came first. This is the order of `tokenizers`' `Word::merge_all`, whose binary heap pops the
//! lowest (priority, position) and skips stale entries.
//!
//! Short pieces (almost all of them) are merged by rescanning the pair list after each merge, O(n^2) with n the
//! piece's byte count; longer ones use a heap of candidate merges, O(n log n), so a megabyte of one letter does not
//! take quadratic time. `tests::heap_and_scan_agree` holds the two to the same result.

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

use rustc_hash::FxHashMap;

use crate::vocab::{Rank, TokenMap};

/// Pieces with more bytes than this are merged with the heap.
const SCAN_LIMIT: usize = 64;

/// Pieces of at most this many bytes are cached.
const CACHE_PIECE_BYTES: usize = 32;

/// Cached pieces per thread before the cache starts over.
const CACHE_ENTRIES: usize = 1 << 15;

/// One thread's cache: the model it belongs to, and `piece -> symbols` of its recently merged pieces.
struct PieceCache {
    model: u64,
    pieces: FxHashMap<Vec<u8>, Box<[Symbol]>>,
}

thread_local! {
    static CACHE: RefCell<PieceCache> = RefCell::new(PieceCache { model: u64::MAX, pieces: FxHashMap::default() });
}

/// A token of a piece being merged: its id and where its bytes start in the piece.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Symbol {
    /// The token id.
    pub token: Rank,
    /// Byte offset in the piece where the token starts.
    pub start: usize,
    /// Byte offset in the piece where the token ends.
    pub end: usize,
}

/// A byte-level BPE model whose merge priorities are given pair by pair.
#[derive(Debug)]
pub struct PairMerges {
    /// The token of each single byte; `None` where the vocab lacks it (such bytes are dropped, as HF drops
    /// characters it has no token for when there is no unknown token).
    byte_tokens: [Option<Rank>; 256],
    /// `(left << 32 | right) -> (priority, merged)`.
    merges: FxHashMap<u64, (u32, Rank)>,
    /// Whole-piece lookup: a piece that is one of these tokens merges into that token alone. With `ignore_merges`
    /// every token (that is the option); otherwise the tokens whose own bytes merge into exactly themselves, found
    /// by merging each at load. Either way the answer is the merge's own, one probe instead of a merge or a cache
    /// lookup for most pieces of real text.
    whole: TokenMap,
    /// This model's key in the per-thread caches (this module's, and [`crate::cache`]'s for token ids alone).
    id: u64,
}

fn pair_key(left: Rank, right: Rank) -> u64 {
    (u64::from(left) << 32) | u64::from(right)
}

impl PairMerges {
    /// Builds the model from the tokens' bytes and the merges in priority order, as token id triples
    /// `(left, right, merged)`. A later duplicate of a pair replaces the earlier one, as in `tokenizers`.
    pub fn new(
        tokens: &FxHashMap<Vec<u8>, Rank>,
        merges: impl IntoIterator<Item = (Rank, Rank, Rank)>,
        ignore_merges: bool,
    ) -> Self {
        let mut byte_tokens = [None; 256];
        for (byte, slot) in (0..=255u8).zip(byte_tokens.iter_mut()) {
            *slot = tokens.get(&[byte][..]).copied();
        }
        let mut table = FxHashMap::default();
        for (priority, (left, right, merged)) in (0u32..).zip(merges) {
            table.insert(pair_key(left, right), (priority, merged));
        }
        let id = crate::cache::new_owner();
        let mut model = Self { byte_tokens, merges: table, whole: TokenMap::for_tokens(std::iter::empty()), id };
        let mut whole = TokenMap::for_tokens(tokens.keys().map(Vec::as_slice));
        let mut symbols = Vec::new();
        for (bytes, &token) in tokens {
            symbols.clear();
            if !ignore_merges && bytes.len() > 1 {
                model.merge_uncached(bytes, &mut symbols);
                if !matches!(*symbols, [Symbol { token: alone, .. }] if alone == token) {
                    continue; // its bytes merge into something else: leave the piece to the merge
                }
            }
            whole.insert(bytes, token);
        }
        model.whole = whole;
        model
    }

    fn merge_of(&self, left: Rank, right: Rank) -> Option<(u32, Rank)> {
        self.merges.get(&pair_key(left, right)).copied()
    }

    /// Appends the tokens of one piece (its bytes) to `out`, from this thread's cache when the piece was merged
    /// before.
    ///
    /// Most pieces of a text are words seen many times, so each thread keeps the merges of up to
    /// [`CACHE_ENTRIES`] short pieces of the model it ran last (cleared when full or when another model runs on the
    /// thread: bounded memory, no locking). Measured with
    /// `benches/huggingface.py` (shared 2-CPU machine, so only roughly): GPT-2 5.3 -> 5.5 MB/s, Qwen2 3.2 -> 4.6 MB/s
    /// together with the NFC quick check; `tokenizers` caches words the same way.
    pub fn merge_piece(&self, piece: &[u8], out: &mut Vec<Symbol>) {
        if let Some(token) = self.whole.get(piece) {
            out.push(Symbol { token, start: 0, end: piece.len() });
            return;
        }
        if piece.len() > CACHE_PIECE_BYTES {
            self.merge_uncached(piece, out);
            return;
        }
        CACHE.with(|cache| {
            let mut cache = cache.borrow_mut();
            if cache.model != self.id {
                // Another model used this thread last: start over rather than mix their pieces.
                cache.model = self.id;
                cache.pieces.clear();
            }
            if let Some(symbols) = cache.pieces.get(piece) {
                out.extend_from_slice(symbols);
                return;
            }
            let first = out.len();
            self.merge_uncached(piece, out);
            if cache.pieces.len() >= CACHE_ENTRIES {
                cache.pieces.clear();
            }
            cache.pieces.insert(piece.to_vec(), out[first..].into());
        });
    }

    /// Appends the token ids of each piece that `for_each_piece` yields from `text` to `out`, when no offsets are
    /// wanted. One borrow of this thread's [`crate::cache::PieceCache`] (fixed-size entries of ids alone) serves all
    /// the pieces, where [`Self::merge_piece`] looks its cache up per piece: measured with callgrind, a cached piece
    /// cost about 220 instructions that way.
    pub fn merge_pieces<E>(
        &self,
        text: &[u8],
        for_each_piece: impl FnOnce(&mut dyn FnMut(usize, usize)) -> Result<(), E>,
        out: &mut Vec<Rank>,
    ) -> Result<(), E> {
        let mut symbols = Vec::new();
        crate::cache::with_cache(self.id, |mut cache| {
            for_each_piece(&mut |from, to| {
                let piece = &text[from..to];
                if let Some(token) = self.whole.get(piece) {
                    out.push(token);
                    return;
                }
                if let Some(cache) = cache.as_deref_mut() {
                    if cache.get(piece, out) {
                        return;
                    }
                }
                symbols.clear();
                self.merge_uncached(piece, &mut symbols);
                let first = out.len();
                out.extend(symbols.iter().map(|symbol| symbol.token));
                if let Some(cache) = cache.as_deref_mut() {
                    cache.insert(piece, &out[first..]);
                }
            })
        })
    }

    fn merge_uncached(&self, piece: &[u8], out: &mut Vec<Symbol>) {
        let first = out.len();
        for (start, &byte) in piece.iter().enumerate() {
            if let Some(token) = self.byte_tokens[usize::from(byte)] {
                out.push(Symbol { token, start, end: start + 1 });
            }
        }
        let dropped = out.len() - first < piece.len();
        if out.len() - first <= SCAN_LIMIT {
            self.merge_by_scan(out, first);
        } else {
            let merged = self.merge_by_heap(&out[first..]);
            out.truncate(first);
            out.extend(merged);
        }
        if dropped {
            self.shift_past_dropped_bytes(piece, &mut out[first..]);
        }
    }

    /// Gives symbols the positions `tokenizers` gives them when some bytes had no token and were dropped.
    ///
    /// There a word's symbols carry lengths, not positions, so each symbol's offset is the sum of the lengths (in the
    /// byte-level string's UTF-8) of the symbols before it: a dropped character shifts everything after it to the left.
    /// Offsets of such pieces are then computed from those shifted positions, so this mirrors them exactly.
    fn shift_past_dropped_bytes(&self, piece: &[u8], symbols: &mut [Symbol]) {
        // `ends[i]`: where byte i's character ends in the byte-level string.
        let ends: Vec<usize> = piece
            .iter()
            .scan(0, |end, &byte| {
                *end += byte_level_width(byte);
                Some(*end)
            })
            .collect();
        let byte_at = |position: usize| ends.partition_point(|&end| end <= position).min(piece.len() - 1);
        let mut position = 0;
        for symbol in symbols {
            // A merged symbol's length counts only the bytes that had tokens, not dropped ones between them.
            let width: usize = piece[symbol.start..symbol.end]
                .iter()
                .filter(|&&byte| self.byte_tokens[usize::from(byte)].is_some())
                .map(|&byte| byte_level_width(byte))
                .sum();
            symbol.start = byte_at(position);
            symbol.end = byte_at(position + width - 1) + 1;
            position += width;
        }
    }

    /// Rescans the adjacent pairs' priorities after each merge; fastest for short pieces (at most [`SCAN_LIMIT`]
    /// symbols). Each pair's merge is looked up once and again only when a merge changes one of its two symbols, so
    /// a piece of n bytes costs O(n) table lookups and O(n^2) comparisons of integers in one small array.
    fn merge_by_scan(&self, out: &mut Vec<Symbol>, first: usize) {
        const NONE: (u32, Rank) = (u32::MAX, 0); // no merge for this pair; priorities are below u32::MAX
        let mut len = out.len() - first;
        if len < 2 {
            return;
        }
        let pair = |out: &[Symbol], at: usize| self.merge_of(out[at].token, out[at + 1].token).unwrap_or(NONE);
        // pairs[i]: (priority, merged token) of symbols i and i + 1; on the stack for the pieces this is meant for.
        let mut on_stack = [NONE; SCAN_LIMIT];
        let mut on_heap = Vec::new();
        let pairs: &mut [(u32, Rank)] = if len <= SCAN_LIMIT {
            &mut on_stack
        } else {
            on_heap.resize(len, NONE);
            &mut on_heap
        };
        for (at, slot) in pairs[..len - 1].iter_mut().enumerate() {
            *slot = pair(&out[first..], at);
        }
        loop {
            let (mut lowest, mut at) = (u32::MAX, 0);
            for (index, &(priority, _)) in pairs[..len - 1].iter().enumerate() {
                // Strictly lower only: on ties the leftmost pair, found first, stays.
                if priority < lowest {
                    (lowest, at) = (priority, index);
                }
            }
            if lowest == u32::MAX {
                return;
            }
            let symbols = &mut out[first..];
            symbols[at] = Symbol { token: pairs[at].1, start: symbols[at].start, end: symbols[at + 1].end };
            out.remove(first + at + 1);
            if at + 2 < len - 1 {
                pairs.copy_within(at + 2..len - 1, at + 1);
            }
            len -= 1;
            let symbols = &out[first..];
            if at + 1 < len {
                pairs[at] = pair(symbols, at);
            }
            if at > 0 {
                pairs[at - 1] = pair(symbols, at - 1);
            }
        }
    }

    /// A heap of candidate merges over a linked list of symbols; stale candidates are skipped when popped.
    fn merge_by_heap(&self, symbols: &[Symbol]) -> Vec<Symbol> {
        let n = symbols.len();
        let mut live: Vec<Symbol> = symbols.to_vec();
        let mut prev: Vec<usize> = (0..n).map(|i| i.wrapping_sub(1)).collect();
        let mut next: Vec<usize> = (1..=n).collect();
        let mut alive = vec![true; n];
        // (priority, position of the left symbol, merged token), smallest first.
        let mut heap: BinaryHeap<Reverse<(u32, usize, Rank)>> = BinaryHeap::with_capacity(n);
        for at in 0..n.saturating_sub(1) {
            if let Some((priority, merged)) = self.merge_of(live[at].token, live[at + 1].token) {
                heap.push(Reverse((priority, at, merged)));
            }
        }
        while let Some(Reverse((priority, at, merged))) = heap.pop() {
            let right = next[at];
            // Stale: the left symbol was absorbed, or the pair no longer makes this merge.
            if !alive[at] || right >= n || self.merge_of(live[at].token, live[right].token) != Some((priority, merged))
            {
                continue;
            }
            live[at] = Symbol { token: merged, start: live[at].start, end: live[right].end };
            alive[right] = false;
            next[at] = next[right];
            if next[at] < n {
                prev[next[at]] = at;
            }
            if prev[at] < n {
                let left = prev[at];
                if let Some((p, m)) = self.merge_of(live[left].token, merged) {
                    heap.push(Reverse((p, left, m)));
                }
            }
            if next[at] < n {
                if let Some((p, m)) = self.merge_of(merged, live[next[at]].token) {
                    heap.push(Reverse((p, at, m)));
                }
            }
        }
        live.into_iter().zip(alive).filter_map(|(symbol, alive)| alive.then_some(symbol)).collect()
    }
}

/// Width in UTF-8 of the byte-level character that stands for `byte` (printable ASCII is itself, one byte).
fn byte_level_width(byte: u8) -> usize {
    if (0x21..=0x7E).contains(&byte) {
        1
    } else {
        2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes `a`, `b`, `c` are tokens 0, 1, 2; merges `a b` -> 3, `b c` -> 4, `ab c` -> 5, `a bc` -> 5.
    fn model(ignore_merges: bool) -> PairMerges {
        let tokens: FxHashMap<Vec<u8>, Rank> = [("a", 0), ("b", 1), ("c", 2), ("ab", 3), ("bc", 4), ("abc", 5)]
            .into_iter()
            .map(|(token, rank)| (token.as_bytes().to_vec(), rank))
            .collect();
        PairMerges::new(&tokens, [(0, 1, 3), (1, 2, 4), (3, 2, 5), (0, 4, 5)], ignore_merges)
    }

    fn tokens(model: &PairMerges, piece: &str) -> Vec<Rank> {
        let mut out = Vec::new();
        model.merge_piece(piece.as_bytes(), &mut out);
        out.iter().map(|symbol| symbol.token).collect()
    }

    #[test]
    fn lowest_priority_merges_first_and_leftmost_wins_ties() {
        let model = model(false);
        assert_eq!(tokens(&model, "abc"), [5]);
        assert_eq!(tokens(&model, "bcab"), [4, 3]);
        assert_eq!(tokens(&model, "aab"), [0, 3]);
        // Bytes without a token are dropped.
        assert_eq!(tokens(&model, "axb"), [3]);
    }

    #[test]
    fn ignore_merges_takes_a_whole_token_first() {
        let tokens_of = |model: &PairMerges, piece: &str| tokens(model, piece);
        assert_eq!(tokens_of(&model(true), "bc"), [4]);
        assert_eq!(tokens_of(&model(true), "abc"), [5]);
    }

    #[test]
    fn a_token_its_own_bytes_do_not_merge_into_is_not_taken_whole() {
        // `b c` comes first, so `abc` merges to `a bc`, and no merge joins those: the token `abc` (made by
        // `ab c`) is not what its bytes merge into, unless `ignore_merges` says to take it whole.
        let vocab: FxHashMap<Vec<u8>, Rank> = [("a", 0), ("b", 1), ("c", 2), ("ab", 3), ("bc", 4), ("abc", 5)]
            .into_iter()
            .map(|(token, rank)| (token.as_bytes().to_vec(), rank))
            .collect();
        let merges = [(1, 2, 4), (0, 1, 3), (3, 2, 5)];
        let (by_merges, whole) = (PairMerges::new(&vocab, merges, false), PairMerges::new(&vocab, merges, true));
        assert_eq!(tokens(&by_merges, "abc"), [0, 4]);
        assert_eq!(tokens(&whole, "abc"), [5]);
        assert_eq!(tokens(&by_merges, "ab"), [3]);
    }

    #[test]
    fn heap_and_scan_agree() {
        let model = model(false);
        let mut next = crate::testing::xorshift(0x2545_F491);
        for _ in 0..2000 {
            let state = next();
            let len = state % 200;
            let piece: Vec<u8> = (0..len).map(|i| b"abc"[(state >> (i % 29)) % 3]).collect();
            let mut symbols: Vec<Symbol> = piece
                .iter()
                .enumerate()
                .map(|(start, &b)| Symbol { token: Rank::from(b - b'a'), start, end: start + 1 })
                .collect();
            let by_heap = model.merge_by_heap(&symbols);
            model.merge_by_scan(&mut symbols, 0);
            assert_eq!(by_heap, symbols, "piece {:?}", String::from_utf8_lossy(&piece));
        }
    }
}
