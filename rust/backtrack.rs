//! A byte-pair merge for long pieces in about linear time: a search over token boundaries instead of merging.
//!
//! # Why it gives the same tokens
//!
//! Call a token *reachable* when merging its own bytes ends in that token, and two tokens `a`, `b` *compatible*
//! when merging the bytes of `a` followed by those of `b` ends in exactly `[a, b]`. The merge of a piece is then the
//! only sequence of reachable tokens that spells the piece with every two neighbours compatible (the observation
//! GitHub's `bpe` crate is built on): the merge itself is such a sequence, and merges are local, so a sequence
//! whose every boundary survives the merge of its two neighbours survives the merge of the whole piece.
//!
//! Applied to a prefix of the piece, the same fact says a compatible sequence that spells the first `p` bytes is
//! *the* merge of those bytes; so when the search below cannot continue from a position, no other way of reaching
//! that position would help, and the position is never tried again. Each position is given up at most once, which
//! bounds the search by the number of candidate tokens per position.
//!
//! # Compatibility without merging
//!
//! Merging `a b` ends in `[a, b]` unless at some moment the rightmost part so far of `a` and the leftmost part so far
//! of `b` join into a token before either of them is merged on its own side. Merges happen in rank order, equal
//! ranks left to right (checked when building: every token's rank is above those of the two tokens its last merge
//! joined), so walking both
//! tokens' merges backwards from `(a, b)`, undoing the later one each time, visits every pair of parts that ever
//! met at the boundary, together with the rank of the merge that ended their meeting; the tokens are compatible
//! when no such pair joins into a token of lower rank.

use rustc_hash::FxHashMap;

use crate::vocab::{PackedTable, Rank, Vocab};

/// The merge tables the search needs, built from a vocab on first use.
#[derive(Clone)]
pub struct Backtracker {
    /// `splits[t]`: the two tokens whose merge ends the merge of `t`'s bytes; `(t, t)` for a single byte;
    /// `(UNREACHABLE, UNREACHABLE)` when merging `t`'s bytes does not end in `t` (or no token has rank `t`).
    splits: Vec<(Rank, Rank)>,
    /// [`pair_key`]`(left, right)` -> the token that `splits` says their merge makes.
    joins: PackedTable<u64>,
    /// For each first three bytes (packed `a | b << 8 | c << 16`): where in `lengths` the lengths of the reachable
    /// tokens of three or more bytes that start with them are, longest first. Keyed by three bytes rather than two,
    /// so that a position in text unlike the vocab's tries few lengths that fail (measured on random letters: most
    /// of the search's time went to lookups of lengths no token there had).
    by_prefix: FxHashMap<u32, (u32, u32)>,
    lengths: Vec<u16>,
    /// Bit `a << 8 | b` is set when some token holds the byte `a` directly followed by `b` (see [`Self::next_cut`]).
    inner_pairs: Box<[u64; 1 << 10]>,
}

const UNREACHABLE: Rank = Rank::MAX;

/// A vocab whose merges do not happen in rank order.
struct NotInRankOrder;

impl std::fmt::Debug for Backtracker {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("Backtracker").finish_non_exhaustive()
    }
}

impl Backtracker {
    /// The tables for `vocab`, or `None` when some token's last merge joins a token of higher rank (merges would
    /// not happen in rank order, and the compatibility test above would not hold).
    pub fn new(vocab: &Vocab) -> Option<Self> {
        let mut tables = Self {
            splits: vec![(UNREACHABLE, UNREACHABLE); vocab.max_rank() as usize + 1],
            joins: PackedTable::for_len(vocab.len()),
            by_prefix: FxHashMap::default(),
            lengths: Vec::new(),
            inner_pairs: Box::new([0; 1 << 10]),
        };
        // In rank order, each token's last merge can only join tokens already in the tables (checked below), and
        // merging its bytes without it ends in exactly those two tokens: the only split of its bytes into two
        // reachable, compatible tokens. Finding that split is much cheaper than merging the bytes (measured:
        // merging every token's bytes took 300 ms for o200k_base).
        let mut groups: FxHashMap<u32, Vec<u16>> = FxHashMap::default();
        for (bytes, rank) in vocab.iter() {
            for pair in bytes.windows(2) {
                let bit = usize::from(pair[0]) << 8 | usize::from(pair[1]);
                tables.inner_pairs[bit >> 6] |= 1 << (bit & 63);
            }
            if bytes.len() == 1 {
                tables.splits[rank as usize] = (rank, rank);
                continue;
            }
            let Some((left, right)) = tables.only_split(vocab, bytes).ok()? else { continue };
            tables.splits[rank as usize] = (left, right);
            tables.joins.insert(pair_key(left, right), rank);
            if let [a, b, c, ..] = *bytes {
                groups.entry(prefix_key(a, b, c)).or_default().push(u16::try_from(bytes.len()).ok()?);
            }
        }
        // A token still unreachable that now has such a split needs a token of higher rank: not in rank order.
        for (bytes, rank) in vocab.iter() {
            if bytes.len() > 1
                && tables.splits[rank as usize].0 == UNREACHABLE
                && tables.only_split(vocab, bytes).map_or(true, |split| split.is_some())
            {
                return None;
            }
        }
        for (key, mut group) in groups {
            group.sort_unstable_by(|a, b| b.cmp(a));
            let start = u32::try_from(tables.lengths.len()).ok()?;
            tables.lengths.extend(group);
            tables.by_prefix.insert(key, (start, u32::try_from(tables.lengths.len()).ok()?));
        }
        Some(tables)
    }

    /// Whether `before` then `after` is a cut (see [`next_cut`](Self::next_cut)).
    #[cfg(test)]
    pub(crate) fn is_cut(&self, before: u8, after: u8) -> bool {
        is_cut_in(&self.inner_pairs, before, after)
    }

    /// The first cut after `from` and before the end of `piece`, if any: a place between two bytes that no token
    /// holds next to each other. Every part of a merge is a token or a byte, so no part ever spans a cut: the merge of
    /// a piece is the merges of the two sides laid end to end (each side merged on its own, without looking it up
    /// whole first).
    #[inline]
    pub(crate) fn next_cut(&self, piece: &[u8], from: usize) -> Option<usize> {
        let inner_pairs: &[u64; 1 << 10] = &self.inner_pairs;
        let mut before = *piece.get(from)?;
        for (at, &after) in piece.iter().enumerate().skip(from + 1) {
            if is_cut_in(inner_pairs, before, after) {
                return Some(at);
            }
            before = after;
        }
        None
    }

    /// The split of `bytes` into two reachable, compatible tokens, if there is one; an error when there are two
    /// (which a vocab whose merges go in rank order never has).
    fn only_split(&self, vocab: &Vocab, bytes: &[u8]) -> Result<Option<(Rank, Rank)>, NotInRankOrder> {
        let mut found = None;
        for at in 1..bytes.len() {
            let (Some(left), Some(right)) = (self.reachable(vocab, &bytes[..at]), self.reachable(vocab, &bytes[at..]))
            else {
                continue;
            };
            if self.compatible(left, right) {
                if found.is_some() {
                    return Err(NotInRankOrder);
                }
                found = Some((left, right));
            }
        }
        Ok(found)
    }

    /// Appends the merge of `piece` (two or more bytes) to `out`; false, with `out` as it was, if the search fails
    /// (it cannot for a vocab [`new`](Self::new) accepted; the caller then merges the usual way).
    pub fn encode(&self, vocab: &Vocab, piece: &[u8], out: &mut Vec<Rank>) -> bool {
        let base = out.len();
        let n = piece.len();
        // dead[p]: no compatible continuation exists from position p.
        let mut dead = vec![false; n];
        let mut token_lengths: Vec<usize> = Vec::with_capacity(n / 2);
        let mut at = 0;
        // At `at`, only candidates shorter than this are left to try.
        let mut shorter_than = usize::MAX;
        while at < n {
            let last = out[base..].last().copied();
            let found = self.candidates(piece, at, shorter_than).find_map(|length| {
                let end = at + length;
                if end < n && dead[end] {
                    return None;
                }
                let token = self.reachable(vocab, &piece[at..end])?;
                last.map_or(true, |last| self.compatible(last, token)).then_some((token, length))
            });
            if let Some((token, length)) = found {
                out.push(token);
                token_lengths.push(length);
                at += length;
                shorter_than = usize::MAX;
            } else {
                dead[at] = true;
                let Some(length) = token_lengths.pop() else {
                    out.truncate(base);
                    return false;
                };
                out.pop();
                at -= length;
                shorter_than = length;
            }
        }
        true
    }

    /// The lengths of the tokens that may start at `at`, longest first, all shorter than `shorter_than`: those of
    /// three or more bytes that start with the same three bytes, then 2, then 1 (every byte is a token).
    fn candidates<'a>(&'a self, piece: &[u8], at: usize, shorter_than: usize) -> impl Iterator<Item = usize> + 'a {
        let room = piece.len() - at;
        let longer: &[u16] = match piece.get(at..at + 3) {
            Some(&[a, b, c]) => match self.by_prefix.get(&prefix_key(a, b, c)) {
                Some(&(start, end)) => &self.lengths[start as usize..end as usize],
                None => &[],
            },
            _ => &[],
        };
        longer
            .iter()
            .map(|&length| usize::from(length))
            .chain([2, 1])
            .filter(move |&length| length <= room && length < shorter_than)
    }

    /// The rank of `bytes` if they are a reachable token.
    #[inline]
    pub(crate) fn reachable(&self, vocab: &Vocab, bytes: &[u8]) -> Option<Rank> {
        let rank = match *bytes {
            // Every position may try two bytes: a table load, not a hash probe.
            [first, second] => Some(vocab.byte_pair_rank(first, second)).filter(|&rank| rank != crate::vocab::NO_RANK),
            _ => vocab.rank(bytes),
        };
        rank.filter(|&rank| self.splits[rank as usize].0 != UNREACHABLE)
    }

    /// Whether merging the bytes of `left` then `right` ends in `[left, right]` (see the module documentation).
    pub(crate) fn compatible(&self, mut left: Rank, mut right: Rank) -> bool {
        // A boundary pair joining into a token of rank below this would have joined before the current meeting
        // of `left` and `right` ended (none ends the last one).
        let mut ended_by = Rank::MAX;
        loop {
            if self.joins.get(pair_key(left, right)).is_some_and(|joined| joined < ended_by) {
                return false;
            }
            let (left_split, right_split) = (self.splits[left as usize], self.splits[right as usize]);
            let left_merged = left_split.0 != left;
            let right_merged = right_split.0 != right;
            // Undo whichever of the two was made last (of equal ranks, the right one: merges of equal rank go left
            // to right); a single byte was never made.
            if left_merged && (!right_merged || left > right) {
                ended_by = left;
                left = left_split.1;
            } else if right_merged {
                // Merges of equal rank go left to right, so a boundary pair of the same rank as `right` joins first.
                ended_by = right + 1;
                right = right_split.0;
            } else {
                return true;
            }
        }
    }
}

fn prefix_key(a: u8, b: u8, c: u8) -> u32 {
    u32::from(a) | u32::from(b) << 8 | u32::from(c) << 16
}

/// Whether no token holds `before` directly followed by `after`, by the map of the byte pairs inside tokens.
#[inline]
fn is_cut_in(inner_pairs: &[u64; 1 << 10], before: u8, after: u8) -> bool {
    let bit = usize::from(before) << 8 | usize::from(after);
    inner_pairs[bit >> 6] & 1 << (bit & 63) == 0
}

/// Two tokens as one table key; never 0, the table's empty key (ranks are below 2^24).
fn pair_key(left: Rank, right: Rank) -> u64 {
    (u64::from(left) + 1) << 32 | u64::from(right)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merge::merge_by_rescanning;

    fn random_pieces(alphabet: &[&str], count: usize, max_chars: usize) -> Vec<Vec<u8>> {
        let mut next = crate::testing::xorshift(0x9E37_79B9);
        (0..count)
            .map(|_| {
                let chars = 2 + next() % max_chars;
                (0..chars).flat_map(|_| alphabet[next() % alphabet.len()].bytes()).collect()
            })
            .collect()
    }

    fn assert_same_as_rescanning(vocab: &Vocab, pieces: &[Vec<u8>]) {
        let backtracker = Backtracker::new(vocab).expect("merges in rank order");
        for piece in pieces {
            let (mut expected, mut found) = (Vec::new(), Vec::new());
            merge_by_rescanning(vocab, piece, &mut expected);
            assert!(
                backtracker.encode(vocab, piece, &mut found),
                "search failed on {:?}",
                String::from_utf8_lossy(piece)
            );
            assert_eq!(found, expected, "piece {:?}", String::from_utf8_lossy(piece));
        }
    }

    #[test]
    fn agrees_with_the_simple_merge_on_a_small_vocab() {
        let merges = ["aa", "ab", "ba", "aaaa", "abab", "bb", "aab", "baa", "aaaaaaaa", "abba", "bbbb", "ca", "cab"];
        let bytes = (0..=255u8).map(|byte| (Box::from([byte]), Rank::from(byte)));
        let tokens = merges.iter().zip(256..).map(|(token, rank)| (Box::from(token.as_bytes()), rank));
        let vocab = Vocab::from_ranks(bytes.chain(tokens)).expect("valid test vocab");
        assert_same_as_rescanning(&vocab, &random_pieces(&["a", "b", "c"], 3000, 200));
    }

    #[test]
    fn agrees_with_the_simple_merge_on_cl100k_base() {
        let vocab = crate::testing::cl100k_base();
        let alphabet =
            ["a", "e", "s", "t", "x", "q", "\u{e9}", "\u{4e2d}", "\u{6587}", "\u{3042}", "\u{0e01}", "\u{1f600}", "0"];
        assert_same_as_rescanning(&vocab, &random_pieces(&alphabet, 400, 120));
        assert_same_as_rescanning(&vocab, &[vec![b'a'; 5000], b"ab".repeat(3000)]);
    }

    #[test]
    fn rejects_a_vocab_whose_merges_are_not_in_rank_order() {
        // "aab" (256) is made by joining "aa" (257), a token of higher rank.
        let bytes = (0..=255u8).map(|byte| (Box::from([byte]), Rank::from(byte)));
        let tokens = [(Box::from(&b"aab"[..]), 256), (Box::from(&b"aa"[..]), 257)];
        let vocab = Vocab::from_ranks(bytes.chain(tokens)).expect("valid vocab");
        assert!(Backtracker::new(&vocab).is_none());
    }
}
