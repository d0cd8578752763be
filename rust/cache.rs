//! `PieceCache`: the tokens of recently merged pieces, bounded tables per thread.
//!
//! Real text is Zipfian: the pieces that are not a token by themselves (and so need a byte-pair merge, the costly
//! step) repeat. Measured with callgrind on English with cl100k_base, 6% of the pieces needed a merge and cost 35%
//! of the encoding instructions, about 1,700 each; a cached piece costs a hash and a compare.
//!
//! Each table is direct-mapped with a fixed number of 32-byte entries (2 MiB), and a thread keeps at most
//! [`CACHES_PER_THREAD`] of them, so memory is bounded and a long run never grows it. The size was measured on the
//! benchmark corpora (6 MB each, 4 KiB documents, cl100k_base, a warm second pass, best of 3): against 4,096 entries
//! of the earlier 60-byte layout, 65,536 entries encode English 16% faster, code 10%, multilingual 3%; 32,768
//! entries gave 10% and 4% on English and code. An entry holds the piece's bytes (packed, see [`pack_up_to_15`])
//! and is used only when they are equal to the piece being encoded, and only by the encoder that filled it, so the
//! cache can never change a result: it only skips recomputing one. Pieces longer than 15 bytes or merging into more
//! than [`MAX_TOKENS`] tokens are not cached (pieces over 15 bytes are 0.1% of the merged pieces of 1 MB of English
//! and 4% of code, cl100k_base).

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::vocab::{pack_up_to_15, Rank, NO_RANK};

/// The most tokens a cached piece may merge into.
pub const MAX_TOKENS: usize = 4;
/// Entries per cache: a power of two.
const SLOTS: usize = 1 << SLOT_BITS;
const SLOT_BITS: u32 = 16;
/// Caches per thread, one per encoder, the least recently used replaced: a program that alternates between two
/// encodings (say cl100k_base and a Hugging Face model) keeps both warm.
const CACHES_PER_THREAD: usize = 2;

/// A piece (its bytes packed into two integers, see [`pack_up_to_15`]) and its tokens, padded with [`NO_RANK`].
/// 32 bytes, so two entries share a cache line and a lookup touches one.
#[derive(Clone, Copy)]
#[repr(C, align(32))]
struct Entry {
    /// `[0, 0]` for an empty entry (no piece packs to it).
    key: [u64; 2],
    tokens: [Rank; MAX_TOKENS],
}

/// One encoder's cache on one thread.
pub struct PieceCache {
    /// The [`owner id`](new_owner) of the encoder whose pieces the entries hold.
    owner: u64,
    entries: Box<[Entry]>,
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
                // All-zero entries are empty, so this is a zeroed allocation: pages the cache never uses are never
                // touched.
                let empty = Entry { key: [0, 0], tokens: [0; MAX_TOKENS] };
                caches.insert(0, PieceCache { owner, entries: vec![empty; SLOTS].into_boxed_slice() });
            }
        }
        work(Some(&mut caches[0]))
    })
}

impl PieceCache {
    /// The slot of a packed piece: a multiply carries every bit of the key into the top bits that pick it.
    #[inline]
    #[allow(clippy::cast_possible_truncation)] // the shift leaves SLOT_BITS bits
    fn slot(key: [u64; 2]) -> usize {
        const FIBONACCI: u64 = 0x9E37_79B9_7F4A_7C15;
        ((key[0].wrapping_mul(FIBONACCI) ^ key[1]).wrapping_mul(FIBONACCI) >> (64 - SLOT_BITS)) as usize
    }

    /// Appends the cached tokens of `piece` to `out`; false when the piece is not cached.
    #[inline]
    pub fn get(&self, piece: &[u8], out: &mut Vec<Rank>) -> bool {
        let Some(key) = pack_up_to_15(piece) else { return false };
        let entry = &self.entries[Self::slot(key)];
        if entry.key != key {
            return false;
        }
        out.extend(entry.tokens.iter().copied().take_while(|&token| token != NO_RANK));
        true
    }

    /// Remembers that `piece` merges into `tokens` (ignored when either is too long to cache).
    #[inline]
    pub fn insert(&mut self, piece: &[u8], tokens: &[Rank]) {
        let Some(key) = pack_up_to_15(piece) else { return };
        if tokens.len() > MAX_TOKENS {
            return;
        }
        let entry = &mut self.entries[Self::slot(key)];
        entry.key = key;
        entry.tokens = [NO_RANK; MAX_TOKENS];
        entry.tokens[..tokens.len()].copy_from_slice(tokens);
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
            cache.insert(&[b'x'; 16], &[3]);
            assert!(!cache.get(&[b'x'; 16], &mut out));
            cache.insert(&[b'y'; 15], &[4, 5, 6, 7]);
            assert!(cache.get(&[b'y'; 15], &mut out));
            assert!(cache.get(b"hello", &mut out));
            assert_eq!(out, [7, 1, 2, 4, 5, 6, 7, 1, 2]);
            cache.insert(b"many", &[1; MAX_TOKENS + 1]);
            assert!(!cache.get(b"many", &mut out));
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
