//! `PieceCache`: the tokens of recently merged pieces, one bounded table per thread.
//!
//! Real text is Zipfian: the pieces that are not a token by themselves (and so need a byte-pair merge, the costly
//! step) repeat. Measured with callgrind on English with cl100k_base, 6% of the pieces needed a merge and cost 35%
//! of the encoding instructions, about 1,700 each; a cached piece costs a hash and a compare.
//!
//! The table is direct-mapped with a fixed number of fixed-size entries, so its memory is bounded (about 240 KiB
//! per thread that encodes) and a long run never grows it. An entry holds the piece's bytes and is used only when
//! they are equal to the piece being encoded, and only by the encoder that filled it, so the cache can never change a
//! result: it only skips recomputing one. Pieces longer than [`MAX_PIECE`] bytes or merging into more than
//! [`MAX_TOKENS`] tokens are not cached.

use std::cell::RefCell;
use std::hash::Hasher as _;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::vocab::Rank;

/// The longest piece cached, in bytes.
pub const MAX_PIECE: usize = 24;
/// The most tokens a cached piece may merge into.
pub const MAX_TOKENS: usize = 8;
/// Entries per thread: a power of two.
const SLOTS: usize = 4096;

/// A piece and its tokens.
#[derive(Clone, Copy)]
struct Entry {
    /// Length of the piece in bytes; 0 marks an empty entry (no piece is empty).
    len: u8,
    tokens_len: u8,
    bytes: [u8; MAX_PIECE],
    tokens: [Rank; MAX_TOKENS],
}

const EMPTY: Entry = Entry { len: 0, tokens_len: 0, bytes: [0; MAX_PIECE], tokens: [0; MAX_TOKENS] };

/// One thread's cache, holding the pieces of one encoder at a time.
pub struct PieceCache {
    /// The [`owner id`](new_owner) of the encoder whose pieces the entries hold.
    owner: u64,
    entries: Box<[Entry]>,
}

thread_local! {
    static CACHE: RefCell<Option<PieceCache>> = const { RefCell::new(None) };
}

/// A fresh owner id for an encoder: caches filled by one encoder are never read for another.
pub fn new_owner() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Runs `work` with this thread's cache for `owner` (emptied first if another encoder filled it), or with `None`
/// when the cache is already in use further up this thread's stack.
pub fn with_cache<R>(owner: u64, work: impl FnOnce(Option<&mut PieceCache>) -> R) -> R {
    CACHE.with(|cell| {
        let Ok(mut slot) = cell.try_borrow_mut() else {
            return work(None);
        };
        let cache = slot.get_or_insert_with(|| PieceCache { owner, entries: vec![EMPTY; SLOTS].into_boxed_slice() });
        if cache.owner != owner {
            cache.entries.fill(EMPTY);
            cache.owner = owner;
        }
        work(Some(cache))
    })
}

impl PieceCache {
    /// The slot a piece maps to.
    #[inline]
    #[allow(clippy::cast_possible_truncation)] // the mask keeps the low bits
    fn slot(piece: &[u8]) -> usize {
        let mut hasher = rustc_hash::FxHasher::default();
        hasher.write(piece);
        hasher.finish() as usize & (SLOTS - 1)
    }

    /// Appends the cached tokens of `piece` to `out`; false when the piece is not cached.
    #[inline]
    pub fn get(&self, piece: &[u8], out: &mut Vec<Rank>) -> bool {
        if piece.len() > MAX_PIECE {
            return false;
        }
        let entry = &self.entries[Self::slot(piece)];
        if usize::from(entry.len) != piece.len() || entry.bytes[..piece.len()] != *piece {
            return false;
        }
        out.extend_from_slice(&entry.tokens[..usize::from(entry.tokens_len)]);
        true
    }

    /// Remembers that `piece` merges into `tokens` (ignored when either is too long to cache).
    #[inline]
    #[allow(clippy::cast_possible_truncation)] // both lengths are checked against small bounds first
    pub fn insert(&mut self, piece: &[u8], tokens: &[Rank]) {
        if piece.is_empty() || piece.len() > MAX_PIECE || tokens.len() > MAX_TOKENS {
            return;
        }
        let entry = &mut self.entries[Self::slot(piece)];
        entry.len = piece.len() as u8;
        entry.tokens_len = tokens.len() as u8;
        entry.bytes[..piece.len()].copy_from_slice(piece);
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
            cache.insert(&[b'x'; MAX_PIECE + 1], &[3]);
            assert!(!cache.get(&[b'x'; MAX_PIECE + 1], &mut out));
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
}
