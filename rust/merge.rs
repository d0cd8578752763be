//! Byte-pair merge of a single piece: repeatedly join the adjacent pair with the lowest rank.
//!
//! # The algorithm
//!
//! A piece starts as one part per byte. While some adjacent pair of parts is itself a token, the pair whose token
//! has the lowest rank is joined (the leftmost such pair when ranks tie, so results equal tiktoken's). With ranks
//! `"ab"=256, "cd"=257, "abcd"=258`, the piece `"abcd"` goes `a b c d -> ab c d -> ab cd -> abcd`: one token, 258.
//! Before merging, [`encode_piece`] looks the whole piece up, as tiktoken does: most pieces of real text are one
//! token, and a token that the merges could not reach is still used when a piece equals it.
//!
//! # Cost
//!
//! For a piece of `n` bytes and `m` merges, the simple form rescans all pairs after each merge: `O(n * m)`, which is
//! the fastest scalar form for the short pieces of ordinary text (tiktoken's choice), and quadratic on a long one (a
//! megabyte of one repeated character is one piece). Pieces longer than [`LINEAR_THRESHOLD`] bytes therefore use a
//! priority queue of candidate pairs over a linked list of parts (a binary heap), so each merge costs `O(log n)` at
//! worst and a piece `O(n log n)`. Where the CPU has AVX2, pieces of up to [`KEY_SCAN_THRESHOLD`] bytes use
//! [`merge_by_key_scan`] instead of both: each pair's rank and position packed into one integer, and a vectorized
//! minimum over all of them per merge, `O(n)` per merge but without branches, eight pairs per instruction. Pieces
//! longer than [`HEAP_THRESHOLD`] are first cut wherever two neighbouring bytes are held together by no token, and the
//! stretches between cuts merged on their own (see [`merge_long`]; a piece that repeats a few bytes repeats the merge
//! of one chunk, see [`merge_repeating`]); long stretches are merged in chunks of [`CHUNK`] bytes (up to four at once,
//! their steps interleaved), joined where the tokens on both sides of a seam are compatible (see [`merge_in_chunks`]),
//! else by the backtracking search of `backtrack.rs`, which finds the same tokens in about linear time without merging;
//! both use tables built on the first such piece. A vocab whose merges do not go in rank order (no bundled one) uses
//! one bucket per rank instead (see `RankQueue`). Stale queue entries are skipped when popped: an entry `(rank, start)`
//! is still valid exactly when the part starting at `start` is alive and its pair with the next part still has that
//! rank (a rank names one byte string, so equal rank at the same start means the same pair). All forms give the same
//! tokens; the tests check them against each other.

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::backtrack::Backtracker;
use crate::cache::PieceCache;
use crate::vocab::{pack_up_to_15, Rank, Vocab};

/// Pieces up to this many bytes use the simple rescanning merge where the key scan does not run; longer ones a queue
/// of candidate pairs. Measured with callgrind on 300 KB of the multilingual sample (cl100k_base, encode_ordinary):
/// 190 M instructions with 128 here and no heap, 173 M with 32, 175 M with 16.
pub const LINEAR_THRESHOLD: usize = 32;

/// Pieces up to this many bytes keep their candidate pairs in a binary heap (small enough to stay in cache);
/// longer ones are merged in chunks (see [`merge_in_chunks`]) or by the backtracking search of `backtrack.rs` (or,
/// for a vocab that cannot use either, the per-rank buckets of [`RankQueue`]). The search takes fewer instructions
/// than the heap from about 16 bytes up (callgrind, 300 KB multilingual, cl100k_base: 40 M against 62 M), but its
/// tables are large, and in wall-clock time it lost on mid-length pieces (6 MB multilingual, o200k_base: 6.0 s
/// against 3.3 s for six passes, cache misses); on long pieces it wins by far (1 MiB of one letter: 75 MB/s against
/// 7.5, of spaces 190 against 6), and so do chunks.
pub const HEAP_THRESHOLD: usize = 4096;

/// Pieces up to this many bytes are merged without looking in the piece cache, and not kept there: their merge
/// (a pair or two looked up) costs about what a cache lookup that misses and the insert after it cost, and short
/// pieces rarely repeat where the merge would matter (a piece of two or three bytes that is not a token is mostly
/// random text). Measured with that and the 16-key buffers of `merge_by_key_scan_if_fast` for pieces of up to 8
/// bytes (alternating process runs, best of 3 passes, 3-4 runs, this 2-core machine): 1 MiB of random ASCII letters
/// with o200k_base (pieces of a few letters) 23.5 -> 29.4 MB/s to a list, the cache skip alone 22 -> 25.6 (skipping
/// it up to 6 bytes cost warm multilingual text 20%: its pieces of two CJK characters repeat); the benchmark corpora,
/// warm and on first meeting, within noise.
const UNCACHED_MAX: usize = 4;

/// No pair: the two parts do not join into a token.
const NO_PAIR: Rank = crate::vocab::NO_RANK;

/// Pieces up to this many bytes go to [`merge_by_key_scan`] where it runs on AVX2, instead of the rescanning merge
/// and the heap: up to two chunks of [`merge_in_chunks`] (a chunk and what a seam takes back), whose merges were the
/// heap's slowest case. Measured with the Rust harness (this 2-core machine, warm, best of 2 or 3; cl100k_base /
/// o200k_base): with the key scan for pieces of 33 bytes and more, against the heap, 1 MiB as one document: random
/// letters 18.5 -> 33 MB/s on cl100k_base (o200k_base cuts them into short pieces: unchanged), emoji 35 -> 40.5
/// and 19.5 -> 22.2, English, code and multilingual text within noise; then for shorter pieces too, against the
/// rescanning merge, 6 MB in 4 KiB documents: multilingual 34.4 -> 36.6 and 29.8 -> 31.9, English and code within
/// 1%, random letters and emoji 3-5% faster. A threshold of 128 or 512 bytes made no measurable difference on
/// multilingual text.
pub const KEY_SCAN_THRESHOLD: usize = 1 << POSITION_BITS;

/// The bits of a [`merge_by_key_scan`] key that hold its pair's position.
const POSITION_BITS: u32 = 8;
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))] // see `merge_by_key_scan`
const POSITION_MASK: u32 = (1 << POSITION_BITS) - 1;

/// No pair in [`merge_by_key_scan`]: above every key.
const NO_KEY: u32 = u32::MAX;

// Every rank, at every position a pair can start at (the last part starts none), makes a key below NO_KEY.
#[allow(clippy::cast_possible_truncation)] // 254
const _: () = assert!((crate::vocab::MAX_RANK << POSITION_BITS | (KEY_SCAN_THRESHOLD - 2) as u32) < NO_KEY);

/// Appends the tokens of one piece: the piece itself when it is a token, else its byte-pair merge, taken from
/// `cache` when the piece was merged recently (and remembered there otherwise).
#[inline]
pub fn encode_piece(vocab: &Vocab, piece: &[u8], out: &mut Vec<Rank>, cache: Option<&mut PieceCache>) {
    if let Some(rank) = vocab.rank(piece) {
        out.push(rank);
        return;
    }
    merge_piece(vocab, piece, out, cache);
}

/// [`encode_piece`] of `text[start..end]`: the encoder's path for a piece that its hot table does not hold (see
/// `cache::HotSet`). A piece of up to seven bytes is packed by [`Vocab::piece_rank_in`] in one load, without the
/// branches on its length that packing the piece alone takes: callgrind's branch simulation counted 1.17 mispredicted
/// branches per piece on English with cl100k_base (1 MB in documents, `encode_to_numpy`), half of them on the length
/// (in `pack_short` and in [`Vocab::rank`]'s test for a single byte), and 0.67 with this (243,000 pieces per MB).
/// Measured with `benches/side_by_side.py` (together with the encoder's `Pieces`, which made it inline for sure):
/// `encode_to_numpy` 1.05-1.18x on English and code, 1.00-1.10x on multilingual text; lists 1.03-1.08x.
#[allow(clippy::inline_always)] // a call per piece: see above
#[inline(always)]
pub fn encode_piece_in(
    vocab: &Vocab,
    text: &[u8],
    start: usize,
    end: usize,
    out: &mut Vec<Rank>,
    cache: Option<&mut PieceCache>,
) {
    if let Some(rank) = vocab.piece_rank_in(text, start, end) {
        out.push(rank);
        return;
    }
    merge_piece(vocab, &text[start..end], out, cache);
}

/// The tokens of a piece that is not a token itself: its merge, from `cache` when the piece is there. Kept out of
/// line: [`encode_piece_in`] is inlined into the scanners' loops, and most pieces are one token and never get here.
#[inline(never)]
fn merge_piece(vocab: &Vocab, piece: &[u8], out: &mut Vec<Rank>, cache: Option<&mut PieceCache>) {
    match piece.len() {
        3 => return merge_three(vocab, piece, out),
        4 => return merge_four(vocab, piece, out),
        _ => {}
    }
    let Some(cache) = cache else {
        return byte_pair_encode(vocab, piece, out);
    };
    if piece.len() <= UNCACHED_MAX {
        return byte_pair_encode(vocab, piece, out);
    }
    if piece.len() > HEAP_THRESHOLD {
        // Too long to keep whole; its chunks are kept instead (a long piece of repeated text has few distinct ones).
        return merge_long(vocab, piece, out, Some(cache));
    }
    if !cache.worth_a_lookup() {
        return byte_pair_encode(vocab, piece, out);
    }
    if !cache.get_counted(piece, out) {
        let before = out.len();
        byte_pair_encode(vocab, piece, out);
        cache.insert(piece, &out[before..]);
    }
}

/// The merge of a 3-byte piece that is not a token: its first merge is the last (the two parts it leaves join into
/// the whole piece, which is not a token), so it takes the two byte pairs' ranks and no lookup of longer strings.
#[inline]
fn merge_three(vocab: &Vocab, piece: &[u8], out: &mut Vec<Rank>) {
    let [a, b, c] = [piece[0], piece[1], piece[2]];
    let (ab, bc) = (vocab.byte_pair_rank(a, b), vocab.byte_pair_rank(b, c));
    match (ab, bc) {
        (NO_PAIR, NO_PAIR) => out.extend([vocab.byte_rank(a), vocab.byte_rank(b), vocab.byte_rank(c)]),
        // Ranks name distinct tokens, so they tie only as NO_PAIR; `<=` keeps the leftmost pair all the same.
        (ab, bc) if ab <= bc => out.extend([ab, vocab.byte_rank(c)]),
        (_, bc) => out.extend([vocab.byte_rank(a), bc]),
    }
}

/// The merge of a 4-byte piece that is not a token: after the first merge, one pair of the three parts left is a
/// 3-byte string at most (the other a byte pair), and a second merge leaves two parts that join into the whole piece,
/// which is not a token. So at most two lookups of 3-byte strings, against the key scan's setup and three lookups.
/// Measured with [`merge_three`] (alternating process runs, best of 4 texts, 5 runs, this 2-core machine): 1 MiB of
/// random ASCII letters with o200k_base (44% of its pieces are 3 or 4 bytes) 22.7 -> 27.8 MB/s to a list; callgrind
/// on 300 KB of English and multilingual text (two passes): 0.05-0.4% fewer instructions in the extension.
#[inline]
fn merge_four(vocab: &Vocab, piece: &[u8], out: &mut Vec<Rank>) {
    let [a, b, c, d] = [piece[0], piece[1], piece[2], piece[3]];
    let (ab, bc, cd) = (vocab.byte_pair_rank(a, b), vocab.byte_pair_rank(b, c), vocab.byte_pair_rank(c, d));
    let byte = |byte: u8| vocab.byte_rank(byte);
    let triple = |at: usize| vocab.rank(&piece[at..at + 3]).unwrap_or(NO_PAIR);
    // The first merge: the smallest of the three pair ranks, the leftmost on a tie (only NO_PAIR ties).
    if ab <= bc && ab <= cd {
        if ab == NO_PAIR {
            return out.extend([byte(a), byte(b), byte(c), byte(d)]);
        }
        // ab c d: then abc or cd.
        match (triple(0), cd) {
            (NO_PAIR, NO_PAIR) => out.extend([ab, byte(c), byte(d)]),
            (abc, cd) if abc <= cd => out.extend([abc, byte(d)]),
            (_, cd) => out.extend([ab, cd]),
        }
    } else if bc <= cd {
        // a bc d: then abc or bcd.
        match (triple(0), triple(1)) {
            (NO_PAIR, NO_PAIR) => out.extend([byte(a), bc, byte(d)]),
            (abc, bcd) if abc <= bcd => out.extend([abc, byte(d)]),
            (_, bcd) => out.extend([byte(a), bcd]),
        }
    } else {
        // a b cd: then ab or bcd.
        match (ab, triple(1)) {
            (NO_PAIR, NO_PAIR) => out.extend([byte(a), byte(b), cd]),
            (ab, bcd) if ab <= bcd => out.extend([ab, cd]),
            (_, bcd) => out.extend([byte(a), bcd]),
        }
    }
}

/// Appends the byte-pair merge of `piece`, without first looking the whole piece up.
pub fn byte_pair_encode(vocab: &Vocab, piece: &[u8], out: &mut Vec<Rank>) {
    match piece.len() {
        0 => {}
        1 => out.push(vocab.byte_rank(piece[0])),
        // A pair is a token or two bytes: no merge to run.
        2 => match vocab.byte_pair_rank(piece[0], piece[1]) {
            NO_PAIR => out.extend([vocab.byte_rank(piece[0]), vocab.byte_rank(piece[1])]),
            pair => out.push(pair),
        },
        n if n <= KEY_SCAN_THRESHOLD && merge_by_key_scan_if_fast(vocab, piece, out) => {}
        n if n <= LINEAR_THRESHOLD => merge_by_rescanning(vocab, piece, out),
        n if n <= HEAP_THRESHOLD => merge_with_heap(vocab, piece, out),
        _ => merge_long(vocab, piece, out, None),
    }
}

/// The merge of a piece longer than [`HEAP_THRESHOLD`]: cut between every two bytes that no token holds next to each
/// other (see [`Backtracker::next_cut`]), and each stretch between cuts merged on its own. Text unlike the vocab's has
/// many such cuts: 1 MiB of random emoji falls mostly into stretches of one to four bytes (38 distinct ones with
/// cl100k_base), random ASCII letters into stretches of about four. The first [`CUT_SAMPLE`] bytes decide whether the
/// rest goes on stretch by stretch (then joined into stretches of at least [`JOINED_STRETCH`] bytes) or whole to the
/// chunks. A vocab whose merges are not in rank order (no bundled one) merges the piece whole with a queue of per-rank
/// buckets.
fn merge_long(vocab: &Vocab, piece: &[u8], out: &mut Vec<Rank>, mut cache: Option<&mut PieceCache>) {
    let Some(backtracker) = vocab.backtracker() else {
        return merge_with_queue(vocab, piece, out, &mut RankQueue::new(vocab.max_rank()), &mut Scratch::default());
    };
    if merge_repeating(vocab, backtracker, piece, out) {
        return;
    }
    let mut start = 0;
    let mut in_short_stretches = 0;
    let mut memo = StretchMemo::new();
    // Cuts are looked for in the first `CUT_SAMPLE` bytes, then in all the piece if the sample says so.
    let mut scanned = CUT_SAMPLE.min(piece.len());
    // Past the sample, a stretch runs to the first cut at least this many bytes on (see `JOINED_STRETCH`).
    let mut shortest = 1;
    loop {
        let end = match backtracker.next_cut(&piece[..scanned], start + shortest - 1) {
            Some(end) => end,
            None if scanned < piece.len() && 2 * in_short_stretches >= CUT_SAMPLE => {
                scanned = piece.len();
                shortest = JOINED_STRETCH;
                continue;
            }
            None => piece.len(),
        };
        let stretch = &piece[start..end];
        if stretch.len() <= SHORT_STRETCH {
            in_short_stretches += stretch.len();
        }
        match pack_up_to_15(stretch) {
            Some(key) => memo.merge(key, out, |out| merge_stretch(vocab, backtracker, stretch, out, None)),
            None => merge_stretch(vocab, backtracker, stretch, out, cache.as_deref_mut()),
        }
        if end == piece.len() {
            return;
        }
        start = end;
    }
}

/// The merge of `piece` when it repeats its first one to [`PERIOD_MAX`] bytes (a megabyte of one character: spaces,
/// "a", "=", "é", an emoji): the merge of a unit of whole periods, about [`CHUNK`] bytes, repeated, then the merge of
/// what is left (the unit's first bytes), when the tokens either side of each seam are compatible (by the fact
/// `backtrack.rs` is built on, as in [`merge_in_chunks`]); false, `out` untouched, otherwise. The chunks would find
/// each other in the piece cache, but every seam would still look for a cut and check compatibility on its own
/// (callgrind, second call of 1 MiB of spaces then "x" with cl100k_base: 5.8 M instructions in `compatible` and 3.5 M
/// in `chunk_end` of 17.7 M; 6.1 M in all this way). Measured (best of 7 calls of the same text, this 2-core
/// machine): that text 684 -> 1,878 MB/s (gigatoken 1,144 in the same process), 1 MiB of "a" with o200k_base 775 ->
/// 1,306. With periods of more than one byte too (best of 5, 1 MiB of one character, cl100k_base / o200k_base): "é"
/// 227 -> 350 / 284 -> 342 MB/s, "中" 319 -> 521 / 436 -> 512, "😀" 247 -> 386 / 279 -> 444 (the scanner's reading of
/// the characters is most of what is left). The test for a period compares the piece with itself shifted (`memcmp`,
/// which stops at the first difference), only for pieces over [`HEAP_THRESHOLD`].
fn merge_repeating(vocab: &Vocab, backtracker: &Backtracker, piece: &[u8], out: &mut Vec<Rank>) -> bool {
    let Some(period) = (1..=PERIOD_MAX).find(|&period| piece[period..] == piece[..piece.len() - period]) else {
        return false;
    };
    let unit_len = CHUNK / period * period;
    let mut unit = Vec::new();
    byte_pair_encode(vocab, &piece[..unit_len], &mut unit);
    // Every unit starts a period, so what follows the last whole unit is the unit's first bytes.
    let mut tail = Vec::new();
    byte_pair_encode(vocab, &piece[..piece.len() % unit_len], &mut tail);
    let (first, last) = (unit[0], unit[unit.len() - 1]);
    if !backtracker.compatible(last, first) || tail.first().is_some_and(|&next| !backtracker.compatible(last, next)) {
        return false;
    }
    out.reserve(piece.len() / unit_len * unit.len() + tail.len());
    for _ in 0..piece.len() / unit_len {
        out.extend_from_slice(&unit);
    }
    out.extend_from_slice(&tail);
    true
}

/// The longest period [`merge_repeating`] looks for: a character of up to four bytes and a variation selector after
/// it (three), or two ASCII characters taking turns.
const PERIOD_MAX: usize = 8;

/// The merges of the stretches of up to 15 bytes that one long piece has met (the last of each few that share a
/// slot), to copy when one comes again: text unlike the vocab's has few distinct stretches (random emoji 38 with
/// cl100k_base, 48 with o200k_base), and a slot here is nearer than the piece cache's, whose lookup costs a hash
/// of its own. Measured (as at [`CUT_SAMPLE`]): random emoji 97 -> 99 MB/s with cl100k_base (whose stretches are
/// shorter, half of them one byte) and 111 -> 124 with o200k_base; random letters, which mostly go to the chunks,
/// within noise.
struct StretchMemo(Box<[MemoSlot; MEMO_SLOTS]>);

/// A stretch's key (see [`pack_up_to_15`]; `[0, 0]`, which no stretch has, when empty) and its up to seven tokens
/// (48 bytes in all).
#[derive(Clone, Copy, Default)]
struct MemoSlot {
    key: [u64; 2],
    count: u32,
    tokens: [Rank; 7],
}

const MEMO_SLOTS: usize = 256;

impl StretchMemo {
    fn new() -> Self {
        Self(Box::new([MemoSlot::default(); MEMO_SLOTS]))
    }

    /// Appends the merge of the stretch whose key is `key`: copied from its slot, else made by `merge` (and kept if
    /// it fits).
    #[inline]
    #[allow(clippy::cast_possible_truncation)] // a count of at most seven tokens
    fn merge(&mut self, key: [u64; 2], out: &mut Vec<Rank>, merge: impl FnOnce(&mut Vec<Rank>)) {
        let mixed = (key[0] ^ key[1].rotate_left(31)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let slot = &mut self.0[(mixed >> 56) as usize % MEMO_SLOTS];
        if slot.key == key {
            // All of them, then the unused cut off: a copy of a known size, where a copy of `count` tokens was a
            // call to `memcpy` (10 M instructions per MiB of emoji).
            out.extend_from_slice(&slot.tokens);
            out.truncate(out.len() - (slot.tokens.len() - slot.count as usize));
            return;
        }
        let before = out.len();
        merge(out);
        let made = &out[before..];
        if made.len() <= slot.tokens.len() {
            slot.key = key;
            slot.count = made.len() as u32;
            slot.tokens[..made.len()].copy_from_slice(made);
        }
    }
}

/// Past the sample (see [`CUT_SAMPLE`]), [`merge_long`] takes stretches of at least this many bytes, joining short
/// ones up to the next cut: a joined stretch merges as its parts laid end to end all the same (its inner cuts stay
/// cuts), and with fewer, longer stretches the memo is asked less often and the cuts within the first bytes of each
/// are not looked for. Random emoji with cl100k_base, whose stretches are about two bytes, come in whole emoji this
/// way. Measured (as at [`CUT_SAMPLE`]): random emoji 97.9 -> 112.9 MB/s with cl100k_base and 122.6 -> 143.3 with
/// o200k_base; callgrind, second call of 1 MiB: 106.7 -> 85.4 M instructions (with 3 here 87.7 M, with 6 97.2 M:
/// pairs of emoji as keys miss the memo) and 91.0 -> 78.5 M; random letters, which leave for the chunks after the
/// sample, 110.6 M either way.
const JOINED_STRETCH: usize = 4;

/// Stretches of up to this many bytes are merged without the key scan (see [`merge_three`], [`merge_four`]).
const SHORT_STRETCH: usize = 4;

/// [`merge_long`] goes on stretch by stretch past the first this many bytes of a piece only if at least half of them
/// were in short stretches (see [`SHORT_STRETCH`]); otherwise the rest of the piece (from a cut, so it merges on its
/// own) is merged whole, in chunks four at a time, whose merges wait on each other's lookups less than one stretch
/// after another does. Measured (1 MiB as one piece, `encode_ordinary`, this 2-core machine, best of 6 texts, a
/// fresh `str` per call): random ASCII letters with cl100k_base, whose stretches of about four bytes hold a quarter
/// of the bytes in short ones, 52 MB/s in chunks and 31 stretch by stretch; random emoji, most of whose bytes are in
/// short stretches, 57 -> 97 MB/s with cl100k_base and 43 -> 111 with o200k_base stretch by stretch.
const CUT_SAMPLE: usize = 4096;

/// The merge of `stretch`, the bytes of a long piece between two cuts (see [`merge_long`]): a reachable token when
/// it is one, the short merges of [`merge_piece`], the cache for the rest, and chunks or the backtracking search
/// for a stretch longer than [`HEAP_THRESHOLD`].
fn merge_stretch(
    vocab: &Vocab,
    backtracker: &Backtracker,
    stretch: &[u8],
    out: &mut Vec<Rank>,
    cache: Option<&mut PieceCache>,
) {
    if stretch.len() > HEAP_THRESHOLD {
        if !merge_in_chunks(vocab, backtracker, stretch, out, cache) && !backtracker.encode(vocab, stretch, out) {
            let queue = &mut RankQueue::new(vocab.max_rank());
            merge_with_queue(vocab, stretch, out, queue, &mut Scratch::default());
        }
        return;
    }
    // Unlike a piece, a stretch that is a token its bytes do not merge into is merged all the same.
    if let Some(rank) = backtracker.reachable(vocab, stretch) {
        return out.push(rank);
    }
    // As in `merge_piece`, which these short merges assume: the stretch is no (reachable) token.
    match (stretch.len(), cache) {
        (3, _) => merge_three(vocab, stretch, out),
        (4, _) => merge_four(vocab, stretch, out),
        (length, Some(cache)) if length > UNCACHED_MAX => {
            if !cache.get(stretch, out) {
                let before = out.len();
                byte_pair_encode(vocab, stretch, out);
                cache.insert(stretch, &out[before..]);
            }
        }
        _ => byte_pair_encode(vocab, stretch, out),
    }
}

/// Bytes merged at a time by [`merge_in_chunks`]. Measured on 1 MiB pieces (random letters, random emoji; this
/// 2-core machine, cl100k_base and o200k_base): 64 to 256 within 2%, 32 up to 25% slower (more seams to repair).
/// Measured again once chunks went to the key scan (whose cost per merge grows with the chunk): 64 up to 6% slower,
/// 256 27% slower on random letters.
pub(crate) const CHUNK: usize = 128;

// A chunk merged again with what a seam takes back stays short enough for the key scan and the heap, never back
// here.
const _: () = assert!(2 * CHUNK <= KEY_SCAN_THRESHOLD && KEY_SCAN_THRESHOLD <= HEAP_THRESHOLD);

/// The merge of a long piece, [`CHUNK`] bytes at a time, each chunk kept when its first token is compatible with
/// the token before it: by the fact `backtrack.rs` is built on, a spelling of the piece by reachable tokens with
/// every two neighbours compatible is its merge, and the merge of a chunk is such a spelling of the chunk. Where a
/// seam is not compatible, tokens before it are taken back (2, 4, 8, ...) and their bytes merged again with the
/// chunk. False, with `out` as it was, when that would take back more than a chunk (the search then does it all).
///
/// Why not the search alone: it probes a large table for every candidate token and every compatibility step, and
/// on text unlike the vocab's (random letters, emoji) most probes miss the caches; merging chunks on their own
/// probed less and was faster (Rust, 1 MiB as one piece, cl100k_base, measured before the key filters of
/// `vocab.rs`: random letters 9.9 -> 13.1 MB/s, emoji 22.6 -> 45.5). A chunk also repeats where the piece does, so
/// `cache` keeps them (1 MiB of "a": 121 MB/s with the search, over 1 GB/s). A chunk that is not cached is merged
/// together with up to [`AHEAD`] chunks after it (see [`merge_chunks_together`]).
pub(crate) fn merge_in_chunks(
    vocab: &Vocab,
    backtracker: &Backtracker,
    piece: &[u8],
    out: &mut Vec<Rank>,
    mut cache: Option<&mut PieceCache>,
) -> bool {
    let base = out.len();
    let mut start = 0;
    // Chunks merged ahead of their turn: where each starts (`usize::MAX`: none), and its tokens.
    let mut ahead: [(usize, Vec<Rank>); AHEAD] = std::array::from_fn(|_| (usize::MAX, Vec::new()));
    let mut arrays = [ChunkArrays::new(); AHEAD + 1];
    while start < piece.len() {
        let end = chunk_end(vocab, piece, start);
        // Tokens taken back from before the seam, and their bytes.
        let (mut taken_tokens, mut taken_bytes) = (0, 0);
        loop {
            let seam = out.len();
            let chunk = &piece[start - taken_bytes..end];
            if taken_tokens > 0 {
                // Only whole chunks are kept: a chunk and what a seam took back rarely repeat together.
                byte_pair_encode(vocab, chunk, out);
            } else if let Some((_, tokens)) = ahead.iter().find(|(at, _)| *at == start) {
                out.extend_from_slice(tokens);
                if let Some(cache) = cache.as_deref_mut() {
                    cache.insert(chunk, &out[seam..]);
                }
            } else if !cache.as_deref_mut().is_some_and(|cache| cache.get(chunk, out)) {
                let count = uncached_chunks_ahead(vocab, piece, end, cache.as_deref_mut(), &mut ahead);
                if !merge_chunks_together(vocab, piece, chunk, out, &mut ahead[..count], &mut arrays) {
                    byte_pair_encode(vocab, chunk, out);
                }
                if let Some(cache) = cache.as_deref_mut() {
                    cache.insert(chunk, &out[seam..]);
                }
            }
            if seam == base || backtracker.compatible(out[seam - 1], out[seam]) {
                break;
            }
            out.truncate(seam);
            let more = (2 * taken_tokens).max(2).min(seam - base);
            for _ in 0..more {
                let before_seam = out.pop().expect("tokens before the seam");
                taken_bytes += vocab.token_bytes(before_seam).expect("a merged token has bytes").len();
            }
            taken_tokens += more;
            if taken_bytes > CHUNK {
                out.truncate(base);
                return false;
            }
        }
        start = end;
    }
    true
}

/// The arrays of [`merge_chunks_together`]'s key scans, lent to all the chunks of a piece.
type ChunkArrays = KeyScanArrays<{ CHUNK + 8 }>;

/// The end of the chunk of `piece` that starts at `start`: the end of the piece, or up to [`CUT_SEARCH`] bytes short
/// of [`CHUNK`] bytes on, at the first place (from the end) that starts a UTF-8 character and whose two bytes either
/// side are not a token, else the nearest start of a character (at most three bytes back). A cut inside a character
/// splits every token that holds it, and a cut between two bytes that are a token often splits a longer one; the
/// seam then takes tokens back and merges them again with the chunk, one chunk after another. Measured (alternating
/// process runs, best of 3 passes, 4 runs, compare.py's 1 MiB worst cases, `encode_ordinary`, this 2-core machine),
/// against cuts every 128 bytes: cl100k_base random letters 32.7 -> 39.3 MB/s, random mixed emoji 41.0 -> 48.7;
/// o200k_base emoji 24.1 -> 34.5 (33.0 with character starts alone).
fn chunk_end(vocab: &Vocab, piece: &[u8], start: usize) -> usize {
    let end = start + CHUNK;
    if end >= piece.len() {
        return piece.len();
    }
    let starts_character = |at: usize| !is_continuation(piece[at]);
    (end - CUT_SEARCH..=end)
        .rev()
        .find(|&at| starts_character(at) && vocab.byte_pair_rank(piece[at - 1], piece[at]) == NO_PAIR)
        .or_else(|| (end - 3..=end).rev().find(|&at| starts_character(at)))
        .unwrap_or(end)
}

/// How far short of [`CHUNK`] bytes [`chunk_end`] may cut.
const CUT_SEARCH: usize = 24;

/// Whether `byte` continues a UTF-8 character rather than starting one.
fn is_continuation(byte: u8) -> bool {
    byte & 0xC0 == 0x80
}

/// Chunks merged together with the one [`merge_in_chunks`] is at, at most. Each merge step waits on the one before
/// (its smallest key, then the lookups of the pairs it makes), and the chunks' independent steps fill each other's
/// waits. Measured (alternating process runs, best of 3 passes, 4 runs, 1 MiB as one piece, `encode_ordinary`, this
/// 2-core machine): with 0 / 1 / 3 here, cl100k_base random letters 26.5 / 30.8 / 30.9 MB/s, random emoji 44.9 /
/// 50.9 / 54.2; o200k_base emoji 32.7 / 39.7 / 42.4.
const AHEAD: usize = 3;

/// Marks in `ahead` the chunks after `end` (see [`chunk_end`]) that `cache` does not hold, up to the first that it
/// does (or the end of the piece), at most [`AHEAD`]; returns how many.
fn uncached_chunks_ahead(
    vocab: &Vocab,
    piece: &[u8],
    end: usize,
    mut cache: Option<&mut PieceCache>,
    ahead: &mut [(usize, Vec<Rank>); AHEAD],
) -> usize {
    let (mut count, mut at) = (0, end);
    while count < AHEAD && at < piece.len() {
        let chunk = &piece[at..chunk_end(vocab, piece, at)];
        let tokens = &mut ahead[count].1;
        tokens.clear();
        if cache.as_deref_mut().is_some_and(|cache| cache.get(chunk, tokens)) {
            break;
        }
        ahead[count].0 = at;
        count += 1;
        at += chunk.len();
    }
    for unused in &mut ahead[count..] {
        unused.0 = usize::MAX;
    }
    count
}

/// Merges `chunk` onto `out` and, into the tokens of each entry of `ahead`, the chunk of `piece` that starts where
/// the entry says, by [`merge_many_by_key_scan`]; false, nothing merged, where the key scan does not run or `ahead`
/// is empty.
#[cfg(target_arch = "x86_64")]
fn merge_chunks_together(
    vocab: &Vocab,
    piece: &[u8],
    chunk: &[u8],
    out: &mut Vec<Rank>,
    ahead: &mut [(usize, Vec<Rank>)],
    arrays: &mut [ChunkArrays; AHEAD + 1],
) -> bool {
    if ahead.is_empty() || !std::is_x86_feature_detected!("avx2") {
        return false;
    }
    for (_, tokens) in ahead.iter_mut() {
        tokens.clear();
    }
    let at = |start: usize| &piece[start..chunk_end(vocab, piece, start)];
    // SAFETY: the CPU has AVX2, checked just above.
    unsafe {
        match ahead {
            [a] => merge_many_avx2(vocab, [chunk, at(a.0)], [out, &mut a.1], arrays),
            [a, b] => merge_many_avx2(vocab, [chunk, at(a.0), at(b.0)], [out, &mut a.1, &mut b.1], arrays),
            [a, b, c] => {
                let pieces = [chunk, at(a.0), at(b.0), at(c.0)];
                merge_many_avx2(vocab, pieces, [out, &mut a.1, &mut b.1, &mut c.1], arrays);
            }
            _ => unreachable!("at most AHEAD chunks ahead"),
        }
    }
    true
}

/// Elsewhere: one chunk at a time (see the x86-64 version and `merge_by_key_scan_if_fast`).
#[cfg(not(target_arch = "x86_64"))]
fn merge_chunks_together(
    _vocab: &Vocab,
    _piece: &[u8],
    _chunk: &[u8],
    _out: &mut Vec<Rank>,
    _ahead: &mut [(usize, Vec<Rank>)],
    _arrays: &mut [ChunkArrays; AHEAD + 1],
) -> bool {
    false
}

/// [`merge_many_by_key_scan`] compiled for AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn merge_many_avx2<const N: usize>(
    vocab: &Vocab,
    pieces: [&[u8]; N],
    outs: [&mut Vec<Rank>; N],
    arrays: &mut [ChunkArrays; AHEAD + 1],
) {
    let arrays = arrays.first_chunk_mut::<N>().expect("at most AHEAD + 1 chunks at once");
    merge_many_by_key_scan::<{ CHUNK + 8 }, N>(vocab, pieces, outs, arrays);
}

/// [`merge_by_key_scan`] compiled for AVX2, when the CPU has it; false (`out` untouched) otherwise. Without AVX2
/// the scan measured slower than the heap on emoji (SSE2: 35 -> 30 MB/s, cl100k_base), so the caller keeps the
/// rescanning merge and the heap there; other architectures are unmeasured and keep them too.
#[cfg(target_arch = "x86_64")]
#[inline]
fn merge_by_key_scan_if_fast(vocab: &Vocab, piece: &[u8], out: &mut Vec<Rank>) -> bool {
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2, checked just above.
        unsafe {
            if piece.len() <= 8 {
                // Most pieces that need a merge are this short (a word not in the vocab, a rare character or two):
                // buffers of 16 keys, not 40, measured with the cache skip above (`UNCACHED_MAX`).
                merge_by_key_scan_avx2::<16>(vocab, piece, out);
            } else if piece.len() <= LINEAR_THRESHOLD {
                merge_by_key_scan_avx2::<{ LINEAR_THRESHOLD + 8 }>(vocab, piece, out);
            } else if piece.len() <= CHUNK {
                // Every step scans all the buffer's keys (see `KeyScan`): without this tier, pieces of 33-128 bytes
                // took 5% more instructions in buffers of 264 keys.
                merge_by_key_scan_avx2::<{ CHUNK + 8 }>(vocab, piece, out);
            } else {
                merge_by_key_scan_avx2::<{ KEY_SCAN_THRESHOLD + 8 }>(vocab, piece, out);
            }
        }
        return true;
    }
    false
}

/// Elsewhere: the rescanning merge and the heap (see the x86-64 version).
#[cfg(not(target_arch = "x86_64"))]
#[allow(clippy::ptr_arg)] // the signature of the x86-64 version, whose merge appends to `out`
fn merge_by_key_scan_if_fast(_vocab: &Vocab, _piece: &[u8], _out: &mut Vec<Rank>) -> bool {
    false
}

/// [`merge_by_key_scan`] with AVX2, in buffers of `SIZE` (a piece of up to `SIZE - 8` bytes). Short pieces get small
/// buffers: with the large ones for every piece, the scan was no faster than the rescanning merge on English (115
/// against 117 MB/s), where the small ones are level with it and faster on multilingual text.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn merge_by_key_scan_avx2<const SIZE: usize>(vocab: &Vocab, piece: &[u8], out: &mut Vec<Rank>) {
    merge_by_key_scan::<SIZE>(vocab, piece, out);
}

/// The merge of a piece of 2 to [`KEY_SCAN_THRESHOLD`] bytes (and at most `SIZE - 8`) by a scan for the smallest
/// key per merge.
///
/// Each part, named by its first byte's position, keeps the key `rank << POSITION_BITS | position` of the pair it
/// starts (its token joined with the next part's), [`NO_KEY`] when there is none or the part was merged away. The
/// smallest key is the pair to merge: lowest rank, and of equal ranks the leftmost, as the other forms choose. The
/// keys stay in place (a merged part's key becomes [`NO_KEY`]), so the scan is a plain minimum over one array, which
/// the compiler vectorizes; inlined into [`merge_by_key_scan_avx2`], eight keys per instruction.
#[allow(clippy::inline_always)] // the AVX2 copy exists only if the body is inlined into it
#[inline(always)]
#[allow(clippy::cast_possible_truncation)] // positions are below KEY_SCAN_THRESHOLD, 256
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))] // there only the tests run it
pub(crate) fn merge_by_key_scan<const SIZE: usize>(vocab: &Vocab, piece: &[u8], out: &mut Vec<Rank>) {
    // Plain arrays on the stack, lent to the state: a state that owned them was copied when made (up to 3 KiB), and
    // made the merge of multilingual text take 5% more instructions.
    let mut arrays = KeyScanArrays::<SIZE>::new();
    let mut scan = KeyScan::start(vocab, piece, &mut arrays);
    while scan.step(vocab) {}
    scan.append_to(out);
}

/// `N` pieces merged by [`merge_by_key_scan`] at once, one step of each in turn: each merge waits on the last (its
/// smallest key, then the lookups of the new pairs), and independent chains fill each other's waits. Each piece is
/// merged in its own `arrays`, whose keys must all be [`NO_KEY`] (as new ones are, and as every merge leaves them).
#[allow(clippy::inline_always)] // as merge_by_key_scan
#[inline(always)]
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(crate) fn merge_many_by_key_scan<const SIZE: usize, const N: usize>(
    vocab: &Vocab,
    pieces: [&[u8]; N],
    outs: [&mut Vec<Rank>; N],
    arrays: &mut [KeyScanArrays<SIZE>; N],
) {
    let mut arrays = pieces.into_iter().zip(arrays.iter_mut());
    let mut scans: [KeyScan<'_, SIZE>; N] = std::array::from_fn(|_| {
        let (piece, arrays) = arrays.next().expect("N of each");
        KeyScan::start(vocab, piece, arrays)
    });
    // In lockstep while every piece has a pair left (chunks of about equal length: most of the steps), with no
    // account of which are done; then what is left of each. A finished scan's step does nothing and says false.
    // (A plain loop: `Iterator::all` stayed out of line, compiled without AVX2.)
    'lockstep: loop {
        for scan in &mut scans {
            if !scan.step(vocab) {
                break 'lockstep;
            }
        }
    }
    let mut live = [true; N];
    while live.iter().any(|&live| live) {
        for (scan, live) in scans.iter_mut().zip(&mut live) {
            if *live {
                *live = scan.step(vocab);
            }
        }
    }
    for (scan, out) in scans.iter().zip(outs) {
        scan.append_to(out);
    }
}

/// The parts' links before any merge: `PART_AFTER[at]` is `at + 1`, `PART_BEFORE[at]` is `at - 1` (wrapped for the
/// first part). A [`KeyScan`] starts by copying them rather than computing them byte by byte.
const PART_AFTER: [u16; KEY_SCAN_THRESHOLD + 8] = part_links(1);
const PART_BEFORE: [u16; KEY_SCAN_THRESHOLD + 8] = part_links(u16::MAX);

/// `at + step` (wrapping) at every `at`.
#[allow(clippy::cast_possible_truncation)] // below KEY_SCAN_THRESHOLD + 8
const fn part_links(step: u16) -> [u16; KEY_SCAN_THRESHOLD + 8] {
    let mut links = [0; KEY_SCAN_THRESHOLD + 8];
    let mut at = 0;
    while at < links.len() {
        links[at] = (at as u16).wrapping_add(step);
        at += 1;
    }
    links
}

/// The arrays of one [`KeyScan`], which it borrows. Between merges every key is [`NO_KEY`] (a merge ends when its
/// smallest key is), and the other arrays are written before they are read, so arrays can be lent again without
/// being cleared: [`merge_in_chunks`] lends the same ones to all the chunks of a piece. Cleared for every merge
/// of four chunks they cost 7 KiB of `memset`; lent again, callgrind counts for `encode_ordinary` of 1 MiB as one
/// piece went 135.1 -> 123.6 M instructions for random letters with cl100k_base, 153.3 -> 142.0 M and 205.7 -> 193.1 M
/// for random emoji with cl100k_base and o200k_base (wall clock, this 2-core machine, 3 alternating runs: o200k_base
/// emoji 33.3 -> 37.6 MB/s, cl100k_base letters within noise).
#[derive(Clone, Copy)]
pub(crate) struct KeyScanArrays<const SIZE: usize> {
    /// The piece, with eight spare bytes, as in `merge_by_rescanning`.
    padded: [u8; SIZE],
    keys: [u32; SIZE],
    tokens: [Rank; SIZE],
    /// The positions of the next and previous parts of each live part (`n` after the last, wrapped before the first).
    next: [u16; SIZE],
    prev: [u16; SIZE],
}

impl<const SIZE: usize> KeyScanArrays<SIZE> {
    #[allow(clippy::inline_always)] // as merge_by_key_scan
    #[inline(always)]
    pub(crate) fn new() -> Self {
        Self { padded: [0; SIZE], keys: [NO_KEY; SIZE], tokens: [0; SIZE], next: [0; SIZE], prev: [0; SIZE] }
    }
}

/// The state of one [`merge_by_key_scan`], in arrays its caller lends. The arrays' length is known when compiled, and
/// the scan for the smallest key runs over all `SIZE` keys (those past the piece stay [`NO_KEY`]): the compiler
/// unrolls it, with no loop for the keys past a multiple of eight. Measured against a scan of the piece's `n` keys
/// (callgrind, 1 MiB as one piece, o200k_base): emoji 183 -> 141 M instructions in the chunk merge; on
/// ordinary text (English, code, multilingual) 0.1-0.7% fewer in all.
struct KeyScan<'a, const SIZE: usize> {
    n: usize,
    arrays: &'a mut KeyScanArrays<SIZE>,
}

#[allow(clippy::cast_possible_truncation)] // positions are below KEY_SCAN_THRESHOLD, 256
impl<'a, const SIZE: usize> KeyScan<'a, SIZE> {
    #[allow(clippy::inline_always)]
    #[inline(always)]
    fn key(rank: Rank, position: usize) -> u32 {
        match rank {
            NO_PAIR => NO_KEY,
            rank => rank << POSITION_BITS | position as u32,
        }
    }

    /// The merge of `piece` (2 bytes to 8 fewer than the arrays hold), in arrays whose keys are all [`NO_KEY`].
    #[allow(clippy::inline_always)]
    #[inline(always)]
    fn start(vocab: &Vocab, piece: &[u8], arrays: &'a mut KeyScanArrays<SIZE>) -> Self {
        let n = piece.len();
        debug_assert!((2..=KEY_SCAN_THRESHOLD.min(SIZE - 8)).contains(&n));
        debug_assert!(arrays.keys.iter().all(|&key| key == NO_KEY), "arrays lent back mid-merge");
        let KeyScanArrays { padded, keys, tokens, next, prev } = arrays;
        padded[..n].copy_from_slice(piece);
        next[..n].copy_from_slice(&PART_AFTER[..n]);
        prev[..n].copy_from_slice(&PART_BEFORE[..n]);
        for (token, &byte) in tokens.iter_mut().zip(piece) {
            *token = vocab.byte_rank(byte);
        }
        for (at, (key, pair)) in keys.iter_mut().zip(piece.windows(2)).enumerate() {
            *key = Self::key(vocab.byte_pair_rank(pair[0], pair[1]), at);
        }
        Self { n, arrays }
    }

    #[allow(clippy::inline_always)]
    #[inline(always)]
    fn pair_key(&self, vocab: &Vocab, start: usize, end: usize) -> u32 {
        Self::key(vocab.rank_in(&self.arrays.padded, start, end).unwrap_or(NO_PAIR), start)
    }

    /// Merges the pair with the smallest key; false when no pair is left.
    #[allow(clippy::inline_always)]
    #[inline(always)]
    fn step(&mut self, vocab: &Vocab) -> bool {
        let n = self.n;
        let smallest = self.arrays.keys.iter().fold(NO_KEY, |smallest, &key| smallest.min(key));
        if smallest == NO_KEY {
            return false;
        }
        let at = (smallest & POSITION_MASK) as usize;
        let merged = usize::from(self.arrays.next[at]);
        let after = usize::from(self.arrays.next[merged]);
        self.arrays.tokens[at] = smallest >> POSITION_BITS;
        self.arrays.keys[merged] = NO_KEY;
        self.arrays.next[at] = after as u16;
        self.arrays.keys[at] = if after < n {
            self.arrays.prev[after] = at as u16;
            self.pair_key(vocab, at, usize::from(self.arrays.next[after]))
        } else {
            NO_KEY
        };
        if at > 0 {
            let before = usize::from(self.arrays.prev[at]);
            self.arrays.keys[before] = self.pair_key(vocab, before, after);
        }
        true
    }

    fn append_to(&self, out: &mut Vec<Rank>) {
        let mut at = 0;
        while at < self.n {
            out.push(self.arrays.tokens[at]);
            at = usize::from(self.arrays.next[at]);
        }
    }
}

/// The simple merge; also the reference the other forms are tested against.
pub(crate) fn merge_by_rescanning(vocab: &Vocab, piece: &[u8], out: &mut Vec<Rank>) {
    // A fixed array on the stack for the short pieces this is used for: a heap allocation per piece showed up in
    // profiles (malloc and free were 6% of the instructions of encoding English). Longer pieces (only the tests
    // send them here, as the reference the queue-based merge is checked against) get a vector.
    let mut on_stack = [Part::END; LINEAR_THRESHOLD + 1];
    let mut on_heap = Vec::new();
    let parts: &mut [Part] = if piece.len() <= LINEAR_THRESHOLD {
        &mut on_stack[..=piece.len()]
    } else {
        on_heap.resize(piece.len() + 1, Part::END);
        &mut on_heap
    };
    // A short piece is looked up in a copy with eight spare bytes, so that `Vocab::rank_in` reads the bytes of a
    // pair of up to seven bytes in one load (callgrind, English, cl100k_base: a pair lookup took 64 instructions
    // with the bytes packed one length at a time, 48 this way).
    let mut padded = [0; LINEAR_THRESHOLD + 8];
    let text = if piece.len() <= LINEAR_THRESHOLD {
        padded[..piece.len()].copy_from_slice(piece);
        &padded[..]
    } else {
        piece
    };
    let position = |at: usize| u32::try_from(at).expect("pieces merged by rescanning are short");
    for (at, pair) in piece.windows(2).enumerate() {
        parts[at] =
            Part { start: position(at), token: vocab.byte_rank(pair[0]), pair: vocab.byte_pair_rank(pair[0], pair[1]) };
    }
    let last = piece.len() - 1;
    parts[last] = Part { start: position(last), token: vocab.byte_rank(piece[last]), pair: NO_PAIR };
    parts[piece.len()] = Part { start: position(piece.len()), ..Part::END };
    // parts[..len] are the parts and, last, the end marker.
    let mut len = piece.len() + 1;
    loop {
        let mut best = (NO_PAIR, 0);
        for (i, part) in parts[..len - 1].iter().enumerate() {
            if part.pair < best.0 {
                best = (part.pair, i);
            }
        }
        let (rank, i) = best;
        if rank == NO_PAIR {
            break;
        }
        parts[i].token = rank;
        // Element by element: a `copy_within` of these few parts was a `memmove` call.
        for at in i + 1..len - 1 {
            parts[at] = parts[at + 1];
        }
        len -= 1;
        parts[i].pair = pair_rank(vocab, text, &parts[..len], i);
        if i > 0 {
            parts[i - 1].pair = pair_rank(vocab, text, &parts[..len], i - 1);
        }
    }
    out.extend(parts[..len - 1].iter().map(|part| part.token));
}

/// The rank of the token joining parts `i` and `i + 1` of a piece in `text`, or [`NO_PAIR`].
#[inline]
fn pair_rank(vocab: &Vocab, text: &[u8], parts: &[Part], i: usize) -> Rank {
    match parts.get(i + 2) {
        Some(after) => vocab.rank_in(text, parts[i].start as usize, after.start as usize).unwrap_or(NO_PAIR),
        None => NO_PAIR,
    }
}

/// One part of a piece being merged by rescanning: where it starts, its token, and the rank of the token that would
/// join it with the next part ([`NO_PAIR`] if none). Keeping each part's token saves looking the parts up again at
/// the end.
#[derive(Clone, Copy)]
struct Part {
    start: u32,
    token: Rank,
    pair: Rank,
}

impl Part {
    /// The marker after the last part (its `start` is the end of the piece).
    const END: Part = Part { start: 0, token: NO_PAIR, pair: NO_PAIR };
}

/// The buffers of [`merge_with_queue`], kept per thread for the heap merge, so that a piece costs no allocation
/// (callgrind, 1 MB of multilingual text, cl100k_base: malloc and free were 7.5% of the instructions). They grow to
/// the longest piece merged with the heap, at most [`HEAP_THRESHOLD`] bytes: about 200 KiB.
#[derive(Default)]
struct Scratch {
    nodes: Vec<Node>,
    padded: Vec<u8>,
    heap: Vec<Reverse<u64>>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// [`merge_with_queue`] with a [`HeapQueue`], in this thread's [`Scratch`] buffers (or new ones when they are in use
/// further up the stack).
fn merge_with_heap(vocab: &Vocab, piece: &[u8], out: &mut Vec<Rank>) {
    SCRATCH.with(|cell| {
        let Ok(mut scratch) = cell.try_borrow_mut() else {
            let mut queue = HeapQueue::with_capacity(3 * piece.len());
            return merge_with_queue(vocab, piece, out, &mut queue, &mut Scratch::default());
        };
        let mut heap = std::mem::take(&mut scratch.heap);
        heap.clear();
        heap.reserve(3 * piece.len());
        let mut queue = HeapQueue(BinaryHeap::from(heap));
        merge_with_queue(vocab, piece, out, &mut queue, &mut scratch);
        scratch.heap = queue.0.into_vec();
    });
}

fn merge_with_queue(
    vocab: &Vocab,
    piece: &[u8],
    out: &mut Vec<Rank>,
    queue: &mut impl PairQueue,
    scratch: &mut Scratch,
) {
    let n = piece.len();
    // A doubly linked list of parts, each identified by its start byte: nodes[i] describes the part starting at i
    // while that part is alive. One vector of nodes rather than one per field: the fields of a part are read together.
    let nodes = &mut scratch.nodes;
    nodes.clear();
    nodes.extend((0..n).map(|i| Node {
        prev: i.wrapping_sub(1),
        next: i + 1,
        token: vocab.byte_rank(piece[i]),
        pair: piece.get(i + 1).map_or(NO_PAIR, |&second| vocab.byte_pair_rank(piece[i], second)),
    }));
    for (i, node) in nodes.iter().enumerate() {
        queue.push(node.pair, i);
    }
    // Pairs are looked up in a copy with eight spare bytes, as in `merge_by_rescanning`.
    let padded = &mut scratch.padded;
    padded.clear();
    padded.extend_from_slice(piece);
    padded.resize(n + 8, 0);
    let padded = &*padded;
    let rank_after = |nodes: &[Node], i: usize| -> Rank {
        let j = nodes[i].next;
        if j >= n {
            return NO_PAIR;
        }
        vocab.rank_in(padded, i, nodes[j].next).unwrap_or(NO_PAIR)
    };
    while let Some((rank, i)) = queue.pop() {
        // A part merged into the one before it has pair NO_PAIR, which no queued entry has.
        if nodes[i].pair != rank {
            continue;
        }
        let j = nodes[i].next;
        let after = nodes[j].next;
        nodes[j].pair = NO_PAIR;
        nodes[i].next = after;
        nodes[i].token = rank;
        if after < n {
            nodes[after].prev = i;
        }
        nodes[i].pair = rank_after(nodes, i);
        queue.push(nodes[i].pair, i);
        let before = nodes[i].prev;
        if before < n {
            nodes[before].pair = rank_after(nodes, before);
            queue.push(nodes[before].pair, before);
        }
    }
    let mut start = 0;
    while start < n {
        out.push(nodes[start].token);
        start = nodes[start].next;
    }
}

/// A part of a piece in [`merge_with_queue`]'s linked list.
struct Node {
    /// Start of the preceding part (`usize::MAX` for the first).
    prev: usize,
    /// Start of the following part (the piece's length for the last).
    next: usize,
    /// The part's token.
    token: Rank,
    /// The rank of the token joining this part with the next one; [`NO_PAIR`] if none, or if this part was merged
    /// into the one before it.
    pair: Rank,
}

/// A priority queue of candidate pairs `(rank, position)`: smallest rank first, leftmost position among equal
/// ranks. Entries are never removed early: the caller skips the stale ones it pops.
trait PairQueue {
    /// Adds a candidate; `NO_PAIR` is ignored.
    fn push(&mut self, rank: Rank, position: usize);
    /// Takes the smallest candidate.
    fn pop(&mut self) -> Option<(Rank, usize)>;
}

/// A binary heap of `rank << 32 | position`: one integer comparison orders rank, then position.
struct HeapQueue(BinaryHeap<Reverse<u64>>);

impl HeapQueue {
    /// A queue with room for `capacity` candidates before it grows (a piece of `n` bytes pushes at most `n - 1` at
    /// the start and two per merge, so at most `3 * n` in all).
    fn with_capacity(capacity: usize) -> Self {
        Self(BinaryHeap::with_capacity(capacity))
    }
}

impl PairQueue for HeapQueue {
    #[inline]
    fn push(&mut self, rank: Rank, position: usize) {
        if rank != NO_PAIR {
            self.0.push(Reverse((u64::from(rank) << 32) | position as u64));
        }
    }

    #[inline]
    fn pop(&mut self) -> Option<(Rank, usize)> {
        let Reverse(key) = self.0.pop()?;
        Some(((key >> 32) as Rank, (key & 0xFFFF_FFFF) as usize))
    }
}

/// The [`PairQueue`] for long pieces.
///
/// A binary heap of all candidate pairs costs a cache miss per level on a megabyte-long piece (measured: 0.6 s
/// for 1 MiB of one letter, 1.3 s for 1 MiB of random letters, cl100k_base). Here each rank has its own bucket and
/// a two-level bitmap over the rank space finds the smallest non-empty bucket. Positions pushed in increasing order
/// (all of them at the start, most of them later) extend a sorted run that pops from its front; the others go to a
/// small per-bucket heap. Entries are never removed early: the caller skips the stale ones it pops.
struct RankQueue {
    /// `bucket_of[rank]`: 1 + the index in `buckets` of the rank's bucket, 0 before its first use. A zeroed vector
    /// (its pages are mapped on first touch) rather than a hash map: one load per push, no hashing.
    bucket_of: Vec<u32>,
    buckets: Vec<Bucket>,
    /// Bit `r` is set when bucket `r` may be non-empty.
    words: Vec<u64>,
    /// Bit `w` is set when `words[w]` may be non-zero.
    summary: Vec<u64>,
    /// No bit of `summary` below this word is set: the search for the smallest rank starts here.
    lowest: usize,
}

#[derive(Default)]
struct Bucket {
    run: Vec<usize>,
    head: usize,
    rest: BinaryHeap<Reverse<usize>>,
}

impl Bucket {
    fn push(&mut self, position: usize) {
        if self.run.last().map_or(true, |&last| last < position) {
            self.run.push(position);
        } else {
            self.rest.push(Reverse(position));
        }
    }

    fn pop(&mut self) -> Option<usize> {
        let from_run = self.run.get(self.head).copied();
        match (from_run, self.rest.peek()) {
            (Some(run), Some(&Reverse(heap))) if heap < run => self.rest.pop().map(|Reverse(position)| position),
            (Some(run), _) => {
                self.head += 1;
                Some(run)
            }
            (None, _) => self.rest.pop().map(|Reverse(position)| position),
        }
    }
}

impl PairQueue for RankQueue {
    fn push(&mut self, rank: Rank, position: usize) {
        if rank == NO_PAIR {
            return;
        }
        let slot = &mut self.bucket_of[rank as usize];
        if *slot == 0 {
            self.buckets.push(Bucket::default());
            *slot = u32::try_from(self.buckets.len()).expect("fewer buckets than ranks");
        }
        self.buckets[*slot as usize - 1].push(position);
        let word = rank as usize / 64;
        self.words[word] |= 1 << (rank % 64);
        self.summary[word / 64] |= 1 << (word % 64);
        self.lowest = self.lowest.min(word / 64);
    }

    fn pop(&mut self) -> Option<(Rank, usize)> {
        loop {
            let rank = self.min_rank()?;
            let bucket = &mut self.buckets[self.bucket_of[rank as usize] as usize - 1];
            if let Some(position) = bucket.pop() {
                return Some((rank, position));
            }
            let word = rank as usize / 64;
            self.words[word] &= !(1 << (rank % 64));
            if self.words[word] == 0 {
                self.summary[word / 64] &= !(1 << (word % 64));
            }
        }
    }
}

impl RankQueue {
    fn new(max_rank: Rank) -> Self {
        let words = max_rank as usize / 64 + 1;
        Self {
            bucket_of: vec![0; max_rank as usize + 1],
            buckets: Vec::new(),
            words: vec![0; words],
            summary: vec![0; words / 64 + 1],
            lowest: 0,
        }
    }

    fn min_rank(&mut self) -> Option<Rank> {
        let group = self.lowest + self.summary[self.lowest..].iter().position(|&bits| bits != 0)?;
        self.lowest = group;
        let word = group * 64 + self.summary[group].trailing_zeros() as usize;
        let bit = self.words[word].trailing_zeros() as usize;
        Some(Rank::try_from(word * 64 + bit).expect("bits index ranks"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocab(merges: &[&str]) -> Vocab {
        let bytes = (0..=255u8).map(|byte| (Box::from([byte]), Rank::from(byte)));
        let tokens = merges.iter().zip(256..).map(|(token, rank)| (Box::from(token.as_bytes()), rank));
        Vocab::from_ranks(bytes.chain(tokens)).expect("valid test vocab")
    }

    /// The merge by rescanning, and the merge with each queue (checked equal to each other and, for pieces it
    /// takes, to the key scan).
    fn both(vocab: &Vocab, piece: &[u8]) -> (Vec<Rank>, Vec<Rank>) {
        let (mut simple, mut heap, mut buckets) = (Vec::new(), Vec::new(), Vec::new());
        if piece.len() > 1 {
            merge_by_rescanning(vocab, piece, &mut simple);
            merge_with_queue(vocab, piece, &mut heap, &mut HeapQueue::with_capacity(0), &mut Scratch::default());
            merge_with_queue(
                vocab,
                piece,
                &mut buckets,
                &mut RankQueue::new(vocab.max_rank()),
                &mut Scratch::default(),
            );
        }
        assert_eq!(heap, buckets, "piece {:?}", String::from_utf8_lossy(piece));
        if (2..=KEY_SCAN_THRESHOLD).contains(&piece.len()) {
            let mut scanned = Vec::new();
            merge_by_key_scan::<{ KEY_SCAN_THRESHOLD + 8 }>(vocab, piece, &mut scanned);
            assert_eq!(scanned, heap, "key scan, piece {:?}", String::from_utf8_lossy(piece));
            let mut fast = Vec::new();
            if merge_by_key_scan_if_fast(vocab, piece, &mut fast) {
                assert_eq!(fast, heap, "vectorized key scan, piece {:?}", String::from_utf8_lossy(piece));
            }
        }
        // The form `byte_pair_encode` picks, in this thread's reused buffers for the pieces that go to the heap.
        let mut picked = Vec::new();
        byte_pair_encode(vocab, piece, &mut picked);
        assert_eq!(picked, heap, "piece {:?}", String::from_utf8_lossy(piece));
        (simple, heap)
    }

    #[test]
    fn merges_follow_rank_order() {
        let vocab = vocab(&["ab", "cd", "abcd"]);
        let mut out = Vec::new();
        byte_pair_encode(&vocab, b"abcd", &mut out);
        assert_eq!(out, [258]);
    }

    #[test]
    fn ties_merge_leftmost_first() {
        // "aaa": both pairs are "aa" (256); the left one merges, leaving "aa" + "a".
        let vocab = vocab(&["aa"]);
        let (simple, queued) = both(&vocab, b"aaa");
        assert_eq!(simple, [256, 97]);
        assert_eq!(queued, simple);
    }

    #[test]
    fn whole_piece_lookup_wins_over_merges() {
        // "abc" is a token, but no merge reaches it ("ab" and "bc" are not tokens).
        let vocab = vocab(&["abc"]);
        let mut out = Vec::new();
        encode_piece(&vocab, b"abc", &mut out, None);
        assert_eq!(out, [256]);
        out.clear();
        byte_pair_encode(&vocab, b"abc", &mut out);
        assert_eq!(out, [97, 98, 99]);
    }

    #[test]
    fn both_forms_agree_on_many_pieces() {
        let vocab = vocab(&["aa", "ab", "ba", "aaaa", "abab", "bb", "aab", "baa", "aaaaaaaa", "abba", "bbbb"]);
        let mut next = crate::testing::xorshift(0x2545_f491);
        // Lengths up, then down: the heap merge's reused buffers must not carry anything from a longer piece.
        for len in (2..300).chain((2..300).rev()) {
            for _ in 0..5 {
                let piece: Vec<u8> = (0..len).map(|_| [b'a', b'b', b'a', b'c'][next() % 4]).collect();
                let (simple, queued) = both(&vocab, &piece);
                assert_eq!(simple, queued, "piece {:?}", String::from_utf8_lossy(&piece));
            }
        }
    }

    #[test]
    fn pieces_of_three_and_four_bytes_merge_as_the_general_merge() {
        // Every piece of 3 and 4 bytes over three letters, in vocabs of random 2- and 3-byte tokens in random rank
        // order (some 3-byte tokens unreachable, some byte pairs missing), against the rescanning merge.
        let mut next = crate::testing::xorshift(0x3c6e_f372);
        let strings =
            |len: u32| (0..3usize.pow(len)).map(move |n| (0..len).map(move |i| b"abc"[n / 3usize.pow(i) % 3]));
        let candidates: Vec<Vec<u8>> = strings(2).chain(strings(3)).map(Iterator::collect).collect();
        let pieces: Vec<Vec<u8>> = strings(3).chain(strings(4)).map(Iterator::collect).collect();
        for _ in 0..200 {
            let mut tokens: Vec<&[u8]> = candidates.iter().filter(|_| next() % 3 != 0).map(Vec::as_slice).collect();
            for i in (1..tokens.len()).rev() {
                tokens.swap(i, next() % (i + 1));
            }
            let tokens: Vec<&str> = tokens.iter().map(|token| std::str::from_utf8(token).expect("ascii")).collect();
            let vocab = vocab(&tokens);
            for piece in pieces.iter().filter(|piece| vocab.rank(piece).is_none()) {
                let (mut short, mut general) = (Vec::new(), Vec::new());
                merge_piece(&vocab, piece, &mut short, None);
                merge_by_rescanning(&vocab, piece, &mut general);
                assert_eq!(short, general, "piece {:?}, tokens {tokens:?}", String::from_utf8_lossy(piece));
            }
        }
    }

    /// The merge of `piece` in chunks, checked against the backtracking search and the heap, without and then with a
    /// piece cache (twice, so that the second time the chunks come from it).
    fn assert_chunks_agree(vocab: &Vocab, piece: &[u8]) {
        let backtracker = vocab.backtracker().expect("merges in rank order");
        let (mut searched, mut heap) = (Vec::new(), Vec::new());
        assert!(backtracker.encode(vocab, piece, &mut searched));
        merge_with_queue(vocab, piece, &mut heap, &mut HeapQueue::with_capacity(0), &mut Scratch::default());
        assert_eq!(searched, heap, "piece {:?}", String::from_utf8_lossy(piece));
        let mut chunked = vec![7];
        assert!(merge_in_chunks(vocab, backtracker, piece, &mut chunked, None));
        assert_eq!(chunked[1..], heap, "piece {:?}", String::from_utf8_lossy(piece));
        crate::cache::with_cache(crate::cache::new_owner(), |cache| {
            let cache = cache.expect("a fresh thread's cache is free");
            for _ in 0..2 {
                let mut cached = vec![7];
                assert!(merge_in_chunks(vocab, backtracker, piece, &mut cached, Some(&mut *cache)));
                assert_eq!(cached[1..], heap, "piece {:?}", String::from_utf8_lossy(piece));
            }
        });
        assert_long_merge_agrees(vocab, piece, &heap);
    }

    /// `merge_long` (cut into stretches, then chunks or the search) gives `expected`, with and without the cache.
    fn assert_long_merge_agrees(vocab: &Vocab, piece: &[u8], expected: &[Rank]) {
        let mut long = vec![7];
        merge_long(vocab, piece, &mut long, None);
        assert_eq!(long[1..], *expected, "piece {:?}", String::from_utf8_lossy(piece));
        crate::cache::with_cache(crate::cache::new_owner(), |cache| {
            let cache = cache.expect("a fresh thread's cache is free");
            for _ in 0..2 {
                let mut cached = vec![7];
                merge_long(vocab, piece, &mut cached, Some(&mut *cache));
                assert_eq!(cached[1..], *expected, "piece {:?}", String::from_utf8_lossy(piece));
            }
        });
    }

    #[test]
    fn cuts_fall_between_bytes_that_no_token_holds_together() {
        let vocab = vocab(&["ab", "bc", "abc", "xyz"]);
        let backtracker = vocab.backtracker().expect("merges in rank order");
        let inner = [(b'a', b'b'), (b'b', b'c'), (b'x', b'y'), (b'y', b'z')];
        for before in 0..=255 {
            for after in 0..=255 {
                assert_eq!(backtracker.is_cut(before, after), !inner.contains(&(before, after)), "{before} {after}");
            }
        }
        assert_eq!(backtracker.next_cut(b"abcab", 0), Some(3));
        assert_eq!(backtracker.next_cut(b"abcab", 3), None);
        assert_eq!(backtracker.next_cut(b"", 0), None);
    }

    #[test]
    fn stretches_between_cuts_merge_as_the_whole_piece() {
        // "xyz" is a token that its bytes do not merge into (no pair of them is one): a stretch of exactly those
        // bytes must be merged, not looked up, as it would be if it were the whole piece.
        let vocab = vocab(&["ab", "bc", "abc", "xyz", "ca"]);
        let mut next = crate::testing::xorshift(0x1b87_3593);
        let words: [&[u8]; 6] = [b"xyz", b"abc", b"ab", b"q", b"cab", b"xyzabc"];
        let mut piece = |len: usize| -> Vec<u8> {
            let mut piece = Vec::new();
            while piece.len() < len {
                piece.extend_from_slice(words[next() % words.len()]);
            }
            piece
        };
        // Long stretches of letters first (the rest goes whole to the chunks), then short ones first (stretch by
        // stretch to the end, joined into stretches of at least `JOINED_STRETCH` bytes past the sample), then both
        // after each other.
        let long_first = [b"abcabcab".repeat(CUT_SAMPLE / 8 + 1), piece(3 * CUT_SAMPLE)].concat();
        let short_first = [b"xyzq".repeat(CUT_SAMPLE / 4), b"ab".repeat(3 * CUT_SAMPLE)].concat();
        let joined = [b"xyzq".repeat(CUT_SAMPLE / 4), piece(3 * CUT_SAMPLE)].concat();
        for piece in [piece(2 * CUT_SAMPLE), piece(5 * CUT_SAMPLE), long_first, short_first, joined] {
            let mut heap = Vec::new();
            merge_with_queue(&vocab, &piece, &mut heap, &mut HeapQueue::with_capacity(0), &mut Scratch::default());
            assert_long_merge_agrees(&vocab, &piece, &heap);
        }
    }

    #[test]
    fn a_piece_cache_that_overflows_never_changes_a_merge() {
        let vocab = vocab(&["aa", "ab", "ba", "aaaa", "abab", "bb", "aab", "baa", "aaaaaaaa", "abba", "bbbb", "abc"]);
        let mut next = crate::testing::xorshift(0x9e37_79b9);
        // More distinct pieces of up to 15 bytes than the short-piece table has entries, and as many longer ones:
        // both tables replace pieces, and the second pass finds some and merges the others again.
        let pieces: Vec<Vec<u8>> = (0..300_000)
            .map(|n| {
                let len = if n % 2 == 0 { 12 + next() % 4 } else { 16 + next() % 24 };
                (0..len).map(|_| [b'a', b'b', b'c'][next() % 3]).collect()
            })
            .collect();
        crate::cache::with_cache(crate::cache::new_owner(), |cache| {
            let cache = cache.expect("a fresh thread's cache is free");
            for _ in 0..2 {
                for piece in &pieces {
                    let (mut cached, mut merged) = (vec![7], vec![7]);
                    encode_piece(&vocab, piece, &mut cached, Some(&mut *cache));
                    byte_pair_encode(&vocab, piece, &mut merged);
                    assert_eq!(cached, merged, "piece {:?}", String::from_utf8_lossy(piece));
                }
            }
        });
    }

    #[test]
    fn chunks_rejoin_where_a_seam_splits_a_token() {
        // Every other chunk ends in the middle of an "ab": the seam's "a" and "b" are not compatible.
        let vocab = vocab(&["ab", "abab", "ca"]);
        let mut piece = b"c".to_vec();
        piece.extend(b"ab".repeat(3 * CHUNK));
        assert_chunks_agree(&vocab, &piece);
    }

    #[test]
    fn chunks_give_way_to_the_search_when_a_seam_reaches_far_back() {
        // Runs of "a" merge into powers of two up to 512: two chunks' tokens join into one more than a chunk long.
        let runs: Vec<String> = (1..=9).map(|power| "a".repeat(1 << power)).collect();
        let vocab = vocab(&runs.iter().map(String::as_str).collect::<Vec<_>>());
        let piece = vec![b'a'; 1000];
        let backtracker = vocab.backtracker().expect("merges in rank order");
        let mut out = vec![7];
        assert!(!merge_in_chunks(&vocab, backtracker, &piece, &mut out, None));
        assert_eq!(out, [7], "given up with out as it was");
        let (mut picked, mut heap) = (Vec::new(), Vec::new());
        byte_pair_encode(&vocab, &piece, &mut picked);
        merge_with_queue(&vocab, &piece, &mut heap, &mut HeapQueue::with_capacity(0), &mut Scratch::default());
        assert_eq!(picked, heap);
        assert_eq!(picked, [264, 263, 262, 261, 260, 258]); // 512 + 256 + 128 + 64 + 32 + 8
        let mut long = Vec::new();
        merge_long(&vocab, &piece, &mut long, None);
        assert_eq!(long, heap, "the search after the chunks gave up");
    }

    #[test]
    fn a_piece_of_one_repeated_unit_repeats_its_merge_where_the_seams_allow() {
        let cl100k = crate::testing::cl100k_base();
        let backtracker = cl100k.backtracker().expect("merges in rank order");
        // The merge of `piece` by repeating a unit (where the seams allow) and by `merge_long`, against the heap's;
        // whether the unit was repeated.
        let check = |piece: &[u8], what: &str| -> bool {
            let mut heap = Vec::new();
            merge_with_queue(&cl100k, piece, &mut heap, &mut HeapQueue::with_capacity(0), &mut Scratch::default());
            let mut long = Vec::new();
            merge_long(&cl100k, piece, &mut long, None);
            assert_eq!(long, heap, "{what}");
            let mut fast = vec![7];
            let repeated = merge_repeating(&cl100k, backtracker, piece, &mut fast);
            assert_eq!(&fast[1..], if repeated { &heap[..] } else { &[] }, "{what}: all or nothing appended");
            repeated
        };
        // Every byte, with nothing, one byte and most of a chunk after the last whole chunk.
        let mut repeated = 0;
        for byte in 0..=u8::MAX {
            for len in [HEAP_THRESHOLD + CHUNK, HEAP_THRESHOLD + 1, HEAP_THRESHOLD + CHUNK - 1] {
                repeated += usize::from(check(&vec![byte; len], &format!("{len} times {byte:#04x}")));
            }
        }
        assert!(repeated > 700, "only {repeated} of 768 runs merged by repeating a chunk");
        // Periods of two to eight bytes: characters of two, three and four bytes, one with a variation selector (all
        // of which repeat their merge), and ASCII characters taking turns (where some seams do not allow); whole
        // periods and a cut one after the last whole unit.
        let characters = ["\u{e9}", "\u{436}", "\u{4e2d}", "\u{1f600}", "\u{2764}\u{fe0f}"];
        for unit in characters.into_iter().chain(["ab", "a b", " \n", "0123"]) {
            for len in [HEAP_THRESHOLD + CHUNK, HEAP_THRESHOLD + 1, HEAP_THRESHOLD + 2 * CHUNK + 5] {
                let piece: Vec<u8> = unit.bytes().cycle().take(len).collect();
                let repeated = check(&piece, &format!("{len} bytes of {unit:?}"));
                assert!(repeated || !characters.contains(&unit), "{len} bytes of {unit:?} merged without repeating");
            }
        }
        let nine: Vec<u8> = b"abcdefghi".iter().copied().cycle().take(HEAP_THRESHOLD + 1).collect();
        assert!(!merge_repeating(&cl100k, backtracker, &nine, &mut Vec::new()), "a period longer than PERIOD_MAX");
        for at in [0, 1, 64, HEAP_THRESHOLD + CHUNK - 1] {
            let mut one_other = vec![b' '; HEAP_THRESHOLD + CHUNK];
            one_other[at] = b'x';
            assert!(!merge_repeating(&cl100k, backtracker, &one_other, &mut Vec::new()), "x at {at}");
        }
        // "aa" and "aaa": 128 bytes merge into 64 "aa", and one more "a" after them into "aaa" with the last of them,
        // so a single "a" after the chunks is not compatible with the "aa" before it.
        let aa_aaa = vocab(&["aa", "aaa"]);
        let backtracker = aa_aaa.backtracker().expect("merges in rank order");
        let piece = vec![b'a'; HEAP_THRESHOLD + 1];
        assert!(!merge_repeating(&aa_aaa, backtracker, &piece, &mut Vec::new()));
        let mut long = Vec::new();
        merge_long(&aa_aaa, &piece, &mut long, None);
        assert_eq!(long, [[256].repeat(HEAP_THRESHOLD / 2 - 1), vec![257]].concat());
        // Runs of 2, 4, ... 256 "a": a chunk merges into one token, and two of them into a longer one.
        let runs: Vec<String> = (1..=8).map(|power| "a".repeat(1 << power)).collect();
        let powers = vocab(&runs.iter().map(String::as_str).collect::<Vec<_>>());
        let backtracker = powers.backtracker().expect("merges in rank order");
        let piece = vec![b'a'; HEAP_THRESHOLD];
        assert!(!merge_repeating(&powers, backtracker, &piece, &mut Vec::new()));
        let mut long = Vec::new();
        merge_long(&powers, &piece, &mut long, None);
        assert_eq!(long, [263].repeat(HEAP_THRESHOLD / 256));
    }

    #[test]
    fn chunks_agree_with_the_search_on_cl100k_base() {
        let vocab = crate::testing::cl100k_base();
        let mut next = crate::testing::xorshift(0x2545_f491);
        let mut random_text = |alphabet: &[&str], chars: usize| -> Vec<u8> {
            (0..chars).flat_map(|_| alphabet[next() % alphabet.len()].bytes()).collect()
        };
        let letters: Vec<String> = ('a'..='z').chain('A'..='Z').map(String::from).collect();
        let letters: Vec<&str> = letters.iter().map(String::as_str).collect();
        let mixed =
            ["a", "e", "s", "t", "x", "\u{e9}", "\u{4e2d}", "\u{6587}", "\u{3042}", "\u{0e01}", "\u{1f600}", "0"];
        let emoji = ["\u{1f600}", "\u{1f44d}", "\u{1f3fd}", "\u{2764}\u{fe0f}", "\u{1f468}\u{200d}\u{1f469}"];
        for _ in 0..3 {
            assert_chunks_agree(&vocab, &random_text(&letters, 20_000));
            assert_chunks_agree(&vocab, &random_text(&mixed, 5_000));
            assert_chunks_agree(&vocab, &random_text(&emoji, 3_000));
        }
        assert_chunks_agree(&vocab, &[b' '; 10_000]);
        assert_chunks_agree(&vocab, &b"ab".repeat(5_000));
    }

    #[test]
    fn pieces_merged_together_merge_as_each_alone() {
        let vocab = vocab(&["aa", "ab", "ba", "aaaa", "abab", "bb", "aab", "baa", "aaaaaaaa", "abba", "bbbb"]);
        let mut next = crate::testing::xorshift(0x51ed_270b);
        let mut piece = |len: usize| -> Vec<u8> { (0..len).map(|_| [b'a', b'b', b'c'][next() % 3]).collect() };
        // Lengths that finish in every order, so each chain goes on alone after the others end; the same arrays for
        // all, so that each lane also merges a piece shorter than the one before in what that one left.
        let mut arrays = [KeyScanArrays::<{ KEY_SCAN_THRESHOLD + 8 }>::new(); 4];
        for lens in [[2, 256, 40, 7], [256, 2, 3, 256], [100, 100, 256, 9], [5, 6, 7, 250]] {
            let pieces = lens.map(&mut piece);
            let mut outs: [Vec<Rank>; 4] = std::array::from_fn(|_| vec![7]);
            let [a, b, c, d] = &mut outs;
            merge_many_by_key_scan::<{ KEY_SCAN_THRESHOLD + 8 }, 4>(
                &vocab,
                [&pieces[0], &pieces[1], &pieces[2], &pieces[3]],
                [a, b, c, d],
                &mut arrays,
            );
            for (piece, out) in pieces.iter().zip(&outs) {
                let mut alone = vec![7];
                merge_by_key_scan::<{ KEY_SCAN_THRESHOLD + 8 }>(&vocab, piece, &mut alone);
                assert_eq!(*out, alone, "piece {:?}", String::from_utf8_lossy(piece));
            }
        }
    }

    #[test]
    fn chunks_merged_ahead_agree_where_some_are_cached() {
        // Some chunks of the piece are in the cache beforehand, so that runs of 0 to AHEAD uncached chunks follow a
        // chunk being merged; the tokens must be those of the piece's merge all the same.
        let vocab = vocab(&["ab", "abab", "ca", "bc", "abc", "cab", "bcab"]);
        let backtracker = vocab.backtracker().expect("merges in rank order");
        let mut next = crate::testing::xorshift(0x2f6b_1c93);
        let piece: Vec<u8> = (0..40 * CHUNK + 17).map(|_| [b'a', b'b', b'c'][next() % 3]).collect();
        let mut heap = Vec::new();
        merge_with_queue(&vocab, &piece, &mut heap, &mut HeapQueue::with_capacity(0), &mut Scratch::default());
        // The chunks as `merge_in_chunks` cuts them, so that the cached ones are found.
        let mut chunks = Vec::new();
        let mut start = 0;
        while start < piece.len() {
            let end = chunk_end(&vocab, &piece, start);
            chunks.push(&piece[start..end]);
            start = end;
        }
        assert!(chunks.len() > 40, "some chunks end short of CHUNK bytes");
        for pattern in [0b1000_0100_0010_0001_u64, 0b0110_1101, 0b1_0000_0000_1000, u64::MAX >> 1] {
            crate::cache::with_cache(crate::cache::new_owner(), |cache| {
                let cache = cache.expect("a fresh thread's cache is free");
                for (_, chunk) in chunks.iter().enumerate().filter(|(n, _)| pattern >> n & 1 != 0) {
                    let mut tokens = Vec::new();
                    byte_pair_encode(&vocab, chunk, &mut tokens);
                    cache.insert(chunk, &tokens);
                }
                let mut cached = vec![7];
                assert!(merge_in_chunks(&vocab, backtracker, &piece, &mut cached, Some(&mut *cache)));
                assert_eq!(cached[1..], heap, "cached chunks {pattern:#b}");
            });
        }
    }

    #[test]
    fn chunks_end_between_characters_and_short_of_a_chunk_by_little() {
        let vocab = vocab(&["ab", "\u{e9}", "\u{1f600}"]);
        let piece = "abababa\u{e9}\u{1f600}".repeat(200);
        let piece = piece.as_bytes();
        let mut start = 0;
        while start < piece.len() {
            let end = chunk_end(&vocab, piece, start);
            assert!(end > start && end - start <= CHUNK, "chunk {start}..{end}");
            assert!(end == piece.len() || end - start >= CHUNK - CUT_SEARCH, "chunk {start}..{end}");
            assert!(std::str::from_utf8(&piece[start..end]).is_ok(), "chunk {start}..{end} cuts a character");
            // Not between the two bytes of "ab", a token, where the rest of the text allows it.
            assert_ne!(&piece[end - 1..=end.min(piece.len() - 1)], b"ab", "chunk {start}..{end}");
            start = end;
        }
    }

    #[test]
    fn a_long_run_of_one_byte_merges_quickly() {
        let vocab = vocab(&["aa", "aaaa", "aaaaaaaa"]);
        let mut out = Vec::new();
        byte_pair_encode(&vocab, &vec![b'a'; 1 << 20], &mut out);
        assert_eq!(out.len(), (1 << 20) / 8);
        assert!(out.iter().all(|&rank| rank == 258));
    }
}
