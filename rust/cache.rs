//! `PieceCache`: the tokens of recently merged pieces, bounded tables per thread.
//!
//! Real text is Zipfian: the pieces that are not a token by themselves (and so need a byte-pair merge, the costly
//! step) repeat. Measured with callgrind on English with cl100k_base, 6% of the pieces needed a merge and cost 35%
//! of the encoding instructions, about 1,700 each; a cached piece costs a hash and a compare.
//!
//! Pieces of up to 15 bytes go to a table of 65,536 entries of 32 bytes (2 MiB) in two-way sets; longer ones to
//! [`LongPieces`] (at most 11 MiB), which also keeps the tokens of short pieces that merge into more than
//! [`MAX_TOKENS`]. A thread keeps the caches of at most [`CACHES_PER_THREAD`] encoders, so memory is bounded and a
//! long run never grows it. The sizes were measured on the benchmark corpora (6 MB each, 4 KiB documents,
//! cl100k_base, a warm second pass, best of 3): against 4,096 entries of the earlier 60-byte layout, 65,536
//! direct-mapped entries encoded English 16% faster, code 10%, multilingual 3% (32,768 gave 10% and 4% on English and
//! code); two-way sets and the long pieces then added 14%, 7% and 6% (best of 4). The long pieces' arenas were
//! 256 KiB of bytes and 64 Ki tokens at first, enough for English and code, where a cache four times larger gained
//! nothing measurable; on multilingual text (text without spaces makes long pieces, and a third of its bytes are in
//! pieces of more than four tokens) it holds 4 MiB and 1 Mi tokens, so that the pieces of a few megabytes of such
//! text stay (see [`LONG_BYTES`]). An entry holds the piece's bytes (packed, see [`pack_up_to_15`], or in an arena)
//! and is used only when they are equal to the piece being encoded, and only by the encoder that filled it, so the
//! cache can never change a result: it only skips recomputing one.

use std::cell::RefCell;
use std::hash::Hasher as _;
use std::sync::atomic::{AtomicU64, Ordering};

use rustc_hash::FxHasher;

use crate::vocab::{pack_up_to_15, Rank, NO_RANK};

/// The most tokens an entry of the short-piece table holds itself; a short piece that merges into more keeps them
/// in the token arena of [`LongPieces`].
pub const MAX_TOKENS: usize = 4;
/// Entries per cache: a power of two.
const SLOTS: usize = 1 << SLOT_BITS;
const SLOT_BITS: u32 = 16;
/// Caches per thread, one per encoder, the least recently used replaced: a program that alternates between two
/// encodings (say cl100k_base and a Hugging Face model) keeps both warm.
const CACHES_PER_THREAD: usize = 2;

/// A piece (its bytes packed into two integers, see [`pack_up_to_15`]) and its tokens, padded with [`NO_RANK`].
#[derive(Clone, Copy)]
#[repr(C)]
struct Entry {
    /// `[0, 0]` for an empty entry (no piece packs to it).
    key: [u64; 2],
    tokens: [Rank; MAX_TOKENS],
}

/// The two entries that a piece may occupy, most recently used first: 64 bytes, one cache line, so a lookup reads
/// one line. On English (6 MB, cl100k_base) a warm pass missed 13,500 of its 93,000 merged pieces of up to 15 bytes
/// in a direct-mapped table of the same size, 9,000 in this one (four ways were no faster).
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Set([Entry; 2]);

/// One encoder's cache on one thread.
pub struct PieceCache {
    /// The [`owner id`](new_owner) of the encoder whose pieces the entries hold.
    owner: u64,
    sets: Box<[Set]>,
    long: LongPieces,
}

thread_local! {
    /// Most recently used first.
    static CACHES: RefCell<Vec<PieceCache>> = const { RefCell::new(Vec::new()) };
}

/// A fresh owner id for an encoder: caches filled by one encoder are never read for another.
pub fn new_owner() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Runs `work` with this thread's cache for `owner` (a new, empty one if the thread has none for it), or with
/// `None` when the caches are already in use further up this thread's stack.
pub fn with_cache<R>(owner: u64, work: impl FnOnce(Option<&mut PieceCache>) -> R) -> R {
    CACHES.with(|cell| {
        let Ok(mut caches) = cell.try_borrow_mut() else {
            return work(None);
        };
        match caches.iter().position(|cache| cache.owner == owner) {
            Some(0) => {}
            Some(at) => caches[..=at].rotate_right(1),
            None => {
                if caches.len() == CACHES_PER_THREAD {
                    caches.pop();
                }
                // All-zero entries are empty. Writing the 2 MiB takes about 1 ms, once per encoding and thread
                // (measured in Python: the first `encode("hello")` on a thread 2.2 ms with them, 1.0 with 16 KiB).
                let empty = Entry { key: [0, 0], tokens: [0; MAX_TOKENS] };
                let sets = vec![Set([empty; 2]); SLOTS / 2].into_boxed_slice();
                caches.insert(0, PieceCache { owner, sets, long: LongPieces::new() });
            }
        }
        work(Some(&mut caches[0]))
    })
}

impl PieceCache {
    /// The set of a packed piece: a multiply carries every bit of the key into the top bits that pick it.
    #[inline]
    #[allow(clippy::cast_possible_truncation)] // the shift leaves SLOT_BITS - 1 bits
    fn set(key: [u64; 2]) -> usize {
        ((key[0].wrapping_mul(FIBONACCI) ^ key[1]).wrapping_mul(FIBONACCI) >> (64 - SLOT_BITS + 1)) as usize
    }

    /// Appends the cached tokens of `piece` to `out`; false when the piece is not cached.
    #[inline]
    pub fn get(&mut self, piece: &[u8], out: &mut Vec<Rank>) -> bool {
        let Some(key) = pack_up_to_15(piece) else { return self.long.get(piece, out) };
        let set = &mut self.sets[Self::set(key)].0;
        if set[0].key != key {
            if set[1].key != key {
                return false;
            }
            set.swap(0, 1);
        }
        let tokens = set[0].tokens;
        if tokens[0] == IN_ARENA {
            return self.long.get_tokens(tokens[1], tokens[2], tokens[3], out);
        }
        out.extend(tokens.iter().copied().take_while(|&token| token != NO_RANK));
        true
    }

    /// Remembers that `piece` merges into `tokens` (ignored when they are too many to cache).
    #[inline]
    pub fn insert(&mut self, piece: &[u8], tokens: &[Rank]) {
        let Some(key) = pack_up_to_15(piece) else { return self.long.insert(piece, tokens) };
        let entry_tokens = if tokens.len() > MAX_TOKENS {
            let Some((start, epoch)) = self.long.insert_tokens(tokens) else { return };
            [IN_ARENA, start, position(tokens.len()), epoch]
        } else {
            let mut padded = [NO_RANK; MAX_TOKENS];
            padded[..tokens.len()].copy_from_slice(tokens);
            padded
        };
        let set = &mut self.sets[Self::set(key)].0;
        // The piece is in the first way already when its tokens were in an arena emptied since.
        if set[0].key != key {
            set[1] = set[0];
        }
        set[0].key = key;
        set[0].tokens = entry_tokens;
    }
}

/// The first token of an entry whose tokens are in the long pieces' token arena (above every rank): then come their
/// start, their count and the arena's [epoch](LongPieces::epoch) when they were put there.
const IN_ARENA: Rank = NO_RANK - 1;

/// A position in an arena, as kept in its slots.
fn position(at: usize) -> u32 {
    u32::try_from(at).expect("arenas are far below 4 GiB")
}

/// 2^64 divided by the golden ratio: multiplying by it spreads every input bit into the top bits.
const FIBONACCI: u64 = 0x9E37_79B9_7F4A_7C15;

/// Slots of the cache of pieces longer than 15 bytes: a power of two.
const LONG_SLOTS: usize = 1 << LONG_SLOT_BITS;
const LONG_SLOT_BITS: u32 = 17;
/// The bytes of long pieces a [`LongPieces`] keeps, and their tokens; when either is full, it starts over empty.
/// The benchmark's 6 MB of multilingual text has 53,500 distinct pieces of more than 15 bytes, and its distinct
/// pieces that are longer or merge into more than four tokens hold 1.9 MB and 0.67 M tokens (cl100k_base): these
/// arenas keep them all, and the direct-mapped slots about four in five of the long ones (the others collide), so a
/// warm pass merges little. Measured against 256 KiB and 64 Ki tokens with 4,096 slots
/// (Rust harness, 6 MB in 4 KiB documents, this 2-core machine, best of 5 process runs): multilingual text warm
/// 38.3 -> 50.7 MB/s with cl100k_base, 36.9 -> 49.9 with o200k_base, English and code and the first pass within
/// noise; by callgrind (3 MB multilingual, cl100k_base) the warm pass 339 M -> 185 M instructions, the first 410 M ->
/// 402 M.
const LONG_BYTES: usize = 1 << 22;
const LONG_TOKENS: usize = 1 << 20;

/// The pieces of more than 15 bytes that were merged recently and their tokens: direct-mapped slots that point
/// into two bounded arenas, emptied together when one is full; the token arena also holds the tokens of short
/// pieces that merge into more than [`MAX_TOKENS`] (their entries in the short-piece table point there). Such pieces
/// are few but costly to merge (a run of punctuation, a line of box-drawing characters, text without spaces), and
/// they repeat: in a warm pass over English (6 MB, cl100k_base) 3,500 of them were merged again without this cache,
/// 460 with it.
struct LongPieces {
    slots: Box<[LongSlot]>,
    /// Counts the times the arenas were emptied: an entry of the short-piece table that points into the token arena
    /// is valid only in the epoch it was made in. It cannot wrap around to an old entry's epoch in practice: each
    /// epoch takes in at least 15/16 of an arena, so that takes 2^32 arenas of input, thousands of terabytes.
    epoch: u32,
    bytes: Vec<u8>,
    tokens: Vec<Rank>,
}

/// Where a long piece and its tokens are in the arenas; `len` 0 for an empty slot (no long piece is empty).
#[derive(Clone, Copy, Default)]
struct LongSlot {
    hash: u64,
    start: u32,
    len: u32,
    tokens_start: u32,
    tokens_len: u32,
}

impl LongPieces {
    fn new() -> Self {
        Self {
            // Allocated by the first insert: writing its 3 MiB took 4 ms, which a first call on short text would pay
            // for nothing (measured in Python: the first `encode("hello")` on a thread 6.0-6.5 ms with the slots
            // allocated here, 2.2 with 4,096 slots).
            slots: Box::default(),
            epoch: 0,
            // Allocated once at their bound, so they never grow past it or copy on the way (and pages that stay
            // unused are never touched).
            bytes: Vec::with_capacity(LONG_BYTES),
            tokens: Vec::with_capacity(LONG_TOKENS),
        }
    }

    #[inline]
    fn hash(piece: &[u8]) -> u64 {
        let mut hasher = FxHasher::default();
        hasher.write(piece);
        hasher.finish()
    }

    #[allow(clippy::cast_possible_truncation)] // the shift leaves LONG_SLOT_BITS bits
    fn slot(hash: u64) -> usize {
        (hash.wrapping_mul(FIBONACCI) >> (64 - LONG_SLOT_BITS)) as usize
    }

    fn get(&self, piece: &[u8], out: &mut Vec<Rank>) -> bool {
        let hash = Self::hash(piece);
        let Some(&slot) = self.slots.get(Self::slot(hash)) else { return false };
        let (start, len) = (slot.start as usize, slot.len as usize);
        if slot.hash != hash || len != piece.len() || self.bytes[start..start + len] != *piece {
            return false;
        }
        let tokens_start = slot.tokens_start as usize;
        out.extend_from_slice(&self.tokens[tokens_start..tokens_start + slot.tokens_len as usize]);
        true
    }

    fn insert(&mut self, piece: &[u8], tokens: &[Rank]) {
        if piece.len() > LONG_BYTES / 16 {
            return;
        }
        if self.bytes.len() + piece.len() > LONG_BYTES {
            self.clear();
        }
        // After the bytes' check: keeping the tokens may empty both arenas too.
        let Some((tokens_start, _)) = self.insert_tokens(tokens) else { return };
        if self.slots.is_empty() {
            self.slots = vec![LongSlot::default(); LONG_SLOTS].into_boxed_slice();
        }
        let hash = Self::hash(piece);
        self.slots[Self::slot(hash)] = LongSlot {
            hash,
            start: position(self.bytes.len()),
            len: position(piece.len()),
            tokens_start,
            tokens_len: position(tokens.len()),
        };
        self.bytes.extend_from_slice(piece);
    }

    fn clear(&mut self) {
        self.slots.fill(LongSlot::default());
        self.bytes.clear();
        self.tokens.clear();
        self.epoch = self.epoch.wrapping_add(1);
    }

    /// Keeps `tokens` in the token arena: their start and the epoch, `None` when they are too many to keep.
    fn insert_tokens(&mut self, tokens: &[Rank]) -> Option<(u32, u32)> {
        if tokens.len() > LONG_TOKENS / 16 {
            return None;
        }
        if self.tokens.len() + tokens.len() > LONG_TOKENS {
            self.clear();
        }
        let start = position(self.tokens.len());
        self.tokens.extend_from_slice(tokens);
        Some((start, self.epoch))
    }

    /// Appends the tokens that [`insert_tokens`](Self::insert_tokens) kept; false when the arena was emptied since.
    fn get_tokens(&self, start: u32, len: u32, epoch: u32, out: &mut Vec<Rank>) -> bool {
        let tokens = self.tokens.get(start as usize..(start + len) as usize);
        match tokens.filter(|_| epoch == self.epoch) {
            Some(tokens) => {
                out.extend_from_slice(tokens);
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returns_what_was_inserted_and_only_for_the_same_bytes() {
        with_cache(new_owner(), |cache| {
            let cache = cache.expect("not in use");
            let mut out = vec![7];
            assert!(!cache.get(b"hello", &mut out));
            cache.insert(b"hello", &[1, 2]);
            assert!(cache.get(b"hello", &mut out));
            assert_eq!(out, [7, 1, 2]);
            assert!(!cache.get(b"hellp", &mut out));
            assert!(!cache.get(b"hell", &mut out));
            cache.insert(&[b'y'; 15], &[4, 5, 6, 7]);
            assert!(cache.get(&[b'y'; 15], &mut out));
            assert!(cache.get(b"hello", &mut out));
            assert_eq!(out, [7, 1, 2, 4, 5, 6, 7, 1, 2]);
            out.clear();
            cache.insert(b"many", &[1, 2, 3, 4, 5]);
            assert!(cache.get(b"many", &mut out), "more than MAX_TOKENS, in the arena");
            assert_eq!(out, [1, 2, 3, 4, 5]);
            assert!(!cache.get(b"manx", &mut out));
        });
    }

    #[test]
    fn short_pieces_in_the_token_arena_are_dropped_with_it() {
        with_cache(new_owner(), |cache| {
            let cache = cache.expect("not in use");
            let mut out = Vec::new();
            let many: Vec<Rank> = (100..108).collect();
            assert!(many.len() > MAX_TOKENS);
            cache.insert(b"short", &many);
            assert!(cache.get(b"short", &mut out));
            assert_eq!(out, many);
            // Fill the token arena past its end with long pieces: it starts over, and the short piece's entry, which
            // still points into it, must miss rather than read what is there now.
            let per_piece = LONG_TOKENS / 64;
            for n in 0..=64 {
                cache.insert(format!("{n:0>40}").as_bytes(), &vec![7; per_piece]);
            }
            out.clear();
            assert!(!cache.get(b"short", &mut out), "its arena was emptied");
            assert!(out.is_empty());
            cache.insert(b"short", &many[1..]);
            assert!(cache.get(b"short", &mut out));
            assert_eq!(out, many[1..]);
            let set = &cache.sets[PieceCache::set(pack_up_to_15(b"short").expect("short"))].0;
            assert_ne!(set[0].key, set[1].key, "inserted again in place, not in both ways");
        });
    }

    #[test]
    fn a_set_keeps_the_two_pieces_used_last() {
        // Three pieces that fall into one set.
        let set_of = |piece: &[u8]| PieceCache::set(pack_up_to_15(piece).expect("short"));
        let pieces: Vec<Vec<u8>> = (0u32..).map(|n| format!("p{n}").into_bytes()).take(200_000).collect();
        let target = set_of(&pieces[0]);
        let same: Vec<&[u8]> =
            pieces.iter().map(Vec::as_slice).filter(|piece| set_of(piece) == target).take(3).collect();
        let [first, second, third] = same[..] else { panic!("200,000 pieces over 32,768 sets give three in one") };
        with_cache(new_owner(), |cache| {
            let cache = cache.expect("not in use");
            let mut out = Vec::new();
            cache.insert(first, &[1]);
            cache.insert(second, &[2]);
            assert!(cache.get(first, &mut out), "both ways hold a piece");
            // `second` is now the least recently used, so `third` replaces it.
            cache.insert(third, &[3]);
            assert!(cache.get(first, &mut out));
            assert!(cache.get(third, &mut out));
            assert!(!cache.get(second, &mut out));
            assert_eq!(out, [1, 1, 3]);
        });
    }

    #[test]
    fn long_pieces_are_kept_until_their_arena_is_full() {
        with_cache(new_owner(), |cache| {
            let cache = cache.expect("not in use");
            let mut out = Vec::new();
            let long = |n: usize| format!("{n:0>40}").into_bytes();
            assert!(!cache.get(&long(1), &mut out), "nothing kept yet (no slots either)");
            cache.insert(&long(1), &[10, 11, 12, 13, 14, 15]);
            assert!(cache.get(&long(1), &mut out));
            assert_eq!(out, [10, 11, 12, 13, 14, 15]);
            assert!(!cache.get(&long(2), &mut out), "same length, other bytes");
            assert!(!cache.get(&long(1)[1..], &mut out), "a part of a cached piece");
            // Fill the byte arena past its end: it starts over, and what is inserted after that is found.
            for n in 0..=LONG_BYTES / 40 {
                cache.insert(&long(n), &[Rank::try_from(n).expect("small")]);
            }
            out.clear();
            let last = LONG_BYTES / 40;
            assert!(cache.get(&long(last), &mut out));
            assert_eq!(out, [Rank::try_from(last).expect("small")]);
            assert!(!cache.get(&long(1), &mut out), "inserted before the arena started over");
            let huge = vec![b'x'; LONG_BYTES];
            cache.insert(&huge, &[1]);
            assert!(!cache.get(&huge, &mut out), "a piece too long to keep");
        });
    }

    #[test]
    fn another_owner_starts_empty_and_nested_use_gets_none() {
        let (first, second) = (new_owner(), new_owner());
        with_cache(first, |cache| cache.expect("not in use").insert(b"piece", &[1]));
        with_cache(second, |cache| {
            assert!(!cache.expect("not in use").get(b"piece", &mut Vec::new()));
            with_cache(second, |nested| assert!(nested.is_none()));
        });
    }

    #[test]
    fn a_thread_keeps_the_caches_of_the_two_encoders_used_last() {
        let [first, second, third] = [new_owner(), new_owner(), new_owner()];
        let cached = |owner: u64| {
            let mut out = Vec::new();
            with_cache(owner, |cache| cache.expect("not in use").get(b"piece", &mut out));
            out
        };
        with_cache(first, |cache| cache.expect("not in use").insert(b"piece", &[1]));
        with_cache(second, |cache| cache.expect("not in use").insert(b"piece", &[2]));
        assert_eq!(cached(first), [1]);
        // first was used after second, so the third encoder's cache replaces second's.
        with_cache(third, |cache| cache.expect("not in use").insert(b"piece", &[3]));
        assert_eq!(cached(first), [1]);
        assert_eq!(cached(third), [3]);
        assert_eq!(cached(second), Vec::<Rank>::new());
    }
}
