//! `Vocab`: the bytes <-> rank table of the mergeable tokens, and the parser for `.tiktoken` rank files.

use std::fmt::Write as _;
use std::sync::OnceLock;

use base64::Engine as _;
use rustc_hash::FxHashMap;

use crate::backtrack::Backtracker;
use crate::error::VocabError;
use crate::table::{prefetch_line, LargeTable};

/// A token id. In byte-level BPE the id is also the merge priority (lower merges first).
pub type Rank = u32;

/// `(token bytes, rank)` pairs, as a rank file lists them.
pub type RankEntries = Vec<(Box<[u8]>, Rank)>;

/// The largest rank a vocab may use: ranks index a dense decode table, so a stray huge rank would cost gigabytes.
pub const MAX_RANK: Rank = (1 << 24) - 1;

/// The mergeable tokens: each token's bytes and its rank, both ways.
///
/// Invariants, checked at construction: every single byte has a rank, tokens and ranks are unique, no token is
/// empty, every rank is at most `MAX_RANK` (2^24 - 1).
#[derive(Debug, Clone)]
pub struct Vocab {
    tokens: TokenMap,
    /// `token_bytes[starts[r]..starts[r + 1]]` are the bytes of rank `r`; empty where no token has rank `r`.
    /// [`DECODE_CHUNK`] spare bytes follow the last token.
    starts: Vec<u32>,
    token_bytes: Vec<u8>,
    byte_ranks: [Rank; 256],
    /// `byte_pairs[a << 8 | b]`: the rank of the two-byte token `[a, b]`, or [`NO_RANK`]. A merge starts with one
    /// lookup per adjacent byte pair; an array load is cheaper than a hash probe, and the table (256 KiB) stays in
    /// cache. An array, not a slice: every index of two bytes is in it, with no bounds check.
    byte_pairs: Box<[Rank; 1 << 16]>,
    /// The tables of the linear-time merge for long pieces, built on the first long piece (`None`: this vocab's
    /// merges do not happen in rank order, so long pieces use the queue-based merge).
    backtracker: OnceLock<Option<Backtracker>>,
}

/// Tokens up to this long are decoded by a fixed-size copy; the decode table has this many spare bytes at its end.
const DECODE_CHUNK: usize = 16;

/// No token: the entry of [`Vocab::byte_pair_rank`]'s table for a byte pair that is not a token.
pub const NO_RANK: Rank = Rank::MAX;

impl Vocab {
    /// Parses a `.tiktoken` rank file: one `<base64 token> <rank>` per line, blank lines ignored.
    ///
    /// ```
    /// let mut file = String::new();
    /// for byte in 0..=255u8 {
    ///     use base64::Engine as _;
    ///     file += &format!("{} {byte}\n", base64::engine::general_purpose::STANDARD.encode([byte]));
    /// }
    /// let vocab = bytepair::Vocab::parse(file.as_bytes())?;
    /// assert_eq!(vocab.rank(b"a"), Some(97));
    /// # Ok::<(), bytepair::VocabError>(())
    /// ```
    pub fn parse(file: &[u8]) -> Result<Self, VocabError> {
        let (entries, lines) = read_rank_file(file)?;
        Self::build(&entries, Some(&lines))
    }

    /// Builds a vocab from `(token bytes, rank)` pairs, validating them.
    pub fn from_ranks(entries: impl IntoIterator<Item = (Box<[u8]>, Rank)>) -> Result<Self, VocabError> {
        Self::build(&entries.into_iter().collect::<RankEntries>(), None)
    }

    fn build(entries: &[(Box<[u8]>, Rank)], lines: Option<&[usize]>) -> Result<Self, VocabError> {
        let (tokens, by_rank) = index_unique(entries, lines)?;
        let mut byte_ranks = [0; 256];
        for byte in 0..=255u8 {
            byte_ranks[byte as usize] = tokens.get(&[byte]).ok_or(VocabError::MissingByte { byte })?;
        }
        let mut starts = Vec::with_capacity(by_rank.len() + 1);
        let mut token_bytes = Vec::with_capacity(entries.iter().map(|(token, _)| token.len()).sum());
        for slot in &by_rank {
            starts.push(u32::try_from(token_bytes.len()).map_err(|_| VocabError::TooLarge)?);
            if let Some(index) = slot {
                token_bytes.extend_from_slice(&entries[*index].0);
            }
        }
        starts.push(u32::try_from(token_bytes.len()).map_err(|_| VocabError::TooLarge)?);
        token_bytes.extend_from_slice(&[0; DECODE_CHUNK]);
        let mut byte_pairs: Box<[Rank; 1 << 16]> =
            vec![NO_RANK; 1 << 16].into_boxed_slice().try_into().expect("a slice of 2^16 ranks");
        for (token, rank) in entries {
            if let [first, second] = **token {
                byte_pairs[usize::from(first) << 8 | usize::from(second)] = *rank;
            }
        }
        Ok(Self { tokens, starts, token_bytes, byte_ranks, byte_pairs, backtracker: OnceLock::new() })
    }

    /// The rank of a token, if `bytes` is one.
    #[inline]
    pub fn rank(&self, bytes: &[u8]) -> Option<Rank> {
        match bytes {
            [byte] => Some(self.byte_ranks[*byte as usize]),
            _ => self.tokens.get(bytes),
        }
    }

    /// The rank of `text[start..end]`, if it is a token: [`rank`](Self::rank), reading the bytes of up to seven in
    /// one load when the text has eight bytes from `start` (the merges look their pairs up in a copy of the piece
    /// with spare bytes at the end), where packing the bytes alone branches on their length.
    ///
    /// Always inlined: the merges call it for every pair, and left to itself the compiler kept it out of line.
    /// Measured inlined (Rust harness, 6 MB in 4 KiB documents, warm, best of 3, this 2-core machine): o200k_base
    /// English 105.0 -> 109.7 MB/s, code 111.5 -> 116.6, multilingual 31.9 -> 33.0; cl100k_base multilingual 36.4 ->
    /// 37.7, English and code 1-2% slower.
    #[allow(clippy::inline_always)] // measured: see above
    #[inline(always)]
    pub fn rank_in(&self, text: &[u8], start: usize, end: usize) -> Option<Rank> {
        match short_key_in(text, start, end) {
            Some(key) => self.tokens.short.get(key),
            None => self.tokens.get(&text[start..end]),
        }
    }

    /// [`rank_in`](Self::rank_in) for a whole piece: a piece of up to seven bytes reads its home slot in the token
    /// table first and the key filter only when another key is there. Most pieces are tokens, most of them found in
    /// their home slot, for which the filter costs a second random read and a branch (the filter still spares a piece
    /// that is no token a walk to the next empty slot). Measured with `benches/side_by_side.py` against the filter
    /// first (and its word prefetched with the slot), two runs: `encode_to_numpy` English 1.09x/1.12x with
    /// cl100k_base and 1.06x/1.08x with o200k_base, code 1.03x, multilingual 1.03-1.04x with o200k_base and
    /// 0.98-0.99x with cl100k_base; lists English 1.07-1.09x, multilingual 0.97x/1.02x with cl100k_base. Reading
    /// the slots alone, without the filter, took cl100k_base's multilingual text to 0.92-0.98x.
    #[allow(clippy::inline_always)] // a call per piece: see `merge::encode_piece_in`
    #[inline(always)]
    pub fn piece_rank_in(&self, text: &[u8], start: usize, end: usize) -> Option<Rank> {
        match short_key_in(text, start, end) {
            Some(key) => self.tokens.short.get_home_first(key),
            None => self.tokens.get(&text[start..end]),
        }
    }

    /// Asks the memory for the token table's home slot of a piece of up to seven bytes, packed (see
    /// [`short_key_in`]), which [`piece_rank_in`](Self::piece_rank_in) will read, so that the lookup, made a few dozen
    /// pieces later, finds it in cache. Measured with `benches/side_by_side.py` (pieces prefetched a block of 64 bytes
    /// ahead, tables in huge pages; the key filter's word was asked for too then): `encode_to_numpy` on English
    /// 1.13-1.21x with cl100k_base and 1.09-1.10x with o200k_base, multilingual text 1.08-1.12x with o200k_base and
    /// 1.01x with cl100k_base, code 0.98-1.05x, lists 1.01-1.07x. Without huge pages the same prefetches gave
    /// 0.97-0.99x, perf's samples piling up right after the prefetch instructions: likely a prefetch whose page was not
    /// in the TLB waiting for the page walk (no hardware counters here to confirm it).
    #[inline]
    pub(crate) fn prefetch_short_rank(&self, key: u64) {
        self.tokens.short.prefetch_slot(key);
    }

    /// [`prefetch_short_rank`](Self::prefetch_short_rank) for a piece that [`short_key_in`] does not pack (of 8 bytes
    /// or more, or too near the end of the text for a single load): the key filter's word and the home slot of a piece
    /// of 8 to 15 bytes. One that the filter says is no token is also handed to `not_token`, packed (see
    /// [`pack_up_to_15`]); a piece of more than 15 bytes, longer than the tokens of those tables, only to `longer`.
    /// Out of line: most pieces are shorter, and inlined, it kept the compiler from inlining the encoding of a piece
    /// into the scanners' loops (callgrind, 1 MB of code in documents, o200k_base, `encode_to_numpy`: 44.4 M
    /// instructions against 41.9 M).
    #[inline(never)]
    pub(crate) fn prefetch_rank_of_longer(
        &self,
        piece: &[u8],
        not_token: impl FnOnce([u64; 2]),
        longer: impl FnOnce(&[u8]),
    ) {
        if (MEDIUM_TOKEN_MIN..=MEDIUM_TOKEN_MAX).contains(&piece.len()) {
            let key = pack_medium(piece);
            self.tokens.medium.prefetch(key);
            if !self.tokens.medium.may_contain(key) {
                not_token(key);
            }
        } else if piece.len() > MEDIUM_TOKEN_MAX {
            longer(piece);
        }
    }

    /// The linear-time merge's tables (see `backtrack.rs`), built on first use; `None` if this vocab cannot use it.
    pub fn backtracker(&self) -> Option<&Backtracker> {
        self.backtracker.get_or_init(|| Backtracker::new(self)).as_ref()
    }

    /// The rank of the two-byte token `[first, second]`, or `NO_RANK` (`u32::MAX`).
    #[inline]
    pub fn byte_pair_rank(&self, first: u8, second: u8) -> Rank {
        self.byte_pairs[usize::from(first) << 8 | usize::from(second)]
    }

    /// The rank of a single byte; every byte has one.
    #[inline]
    pub fn byte_rank(&self, byte: u8) -> Rank {
        self.byte_ranks[byte as usize]
    }

    /// The bytes of the token with rank `rank`, if there is one.
    #[inline]
    pub fn token_bytes(&self, rank: Rank) -> Option<&[u8]> {
        let rank = rank as usize;
        let (&start, &end) = (self.starts.get(rank)?, self.starts.get(rank + 1)?);
        (start < end).then(|| &self.token_bytes[start as usize..end as usize])
    }

    /// Appends the bytes of the token with rank `rank` to `out`; false (and nothing appended) if there is none.
    #[inline]
    pub fn extend_with_token_bytes(&self, rank: Rank, out: &mut Vec<u8>) -> bool {
        let rank = rank as usize;
        let (Some(&start), Some(&end)) = (self.starts.get(rank), self.starts.get(rank + 1)) else {
            return false;
        };
        let (start, len) = (start as usize, (end - start) as usize);
        if len == 0 {
            return false;
        }
        if len <= DECODE_CHUNK {
            // A fixed-size copy is one vector move where a variable-size one is a `memcpy` call (measured: the call
            // was a third of decoding); the table ends with DECODE_CHUNK spare bytes, so the chunk always exists.
            out.extend_from_slice(&self.token_bytes[start..start + DECODE_CHUNK]);
            out.truncate(out.len() - DECODE_CHUNK + len);
        } else {
            out.extend_from_slice(&self.token_bytes[start..start + len]);
        }
        true
    }

    /// The number of mergeable tokens.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// Whether the vocab is empty (never true: every vocab has the 256 single bytes).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The largest rank.
    pub fn max_rank(&self) -> Rank {
        Rank::try_from(self.starts.len().saturating_sub(2)).expect("ranks are at most MAX_RANK")
    }

    /// Every `(token bytes, rank)`, in rank order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], Rank)> + '_ {
        (0..=self.max_rank()).filter_map(|rank| Some((self.token_bytes(rank)?, rank)))
    }
}

/// Token bytes -> rank, in three tables by length. Tokens of up to 15 bytes are keyed by their bytes packed into
/// integers with the length in the top byte ([`pack_short`], [`pack_medium`]): nearly every lookup is that short, and
/// an integer key hashes in a multiply or two and compares without a `memcmp` (measured: hash lookups were 19% of
/// encode time on English with byte-string keys). Longer tokens keep their bytes as the key.
#[derive(Debug, Clone)]
pub(crate) struct TokenMap {
    short: PackedTable<u64>,
    medium: PackedTable<[u64; 2]>,
    long: FxHashMap<Box<[u8]>, Rank>,
    /// A bit per [`long_key`] of the long tokens, 16 bits per token: most pieces of more than 15 bytes (words of
    /// scripts that take two or three bytes a letter, runs of punctuation) are no token, and hashing the whole piece
    /// for the map cost more than merging many of them (perf, multilingual text with cl100k_base, lists: the map's
    /// lookup and its `memcmp` 6.5% of the time).
    long_filter: KeyFilter,
}

impl TokenMap {
    /// A map sized for `tokens` without growing.
    pub(crate) fn for_tokens<'a>(tokens: impl Iterator<Item = &'a [u8]>) -> Self {
        let (mut short, mut medium, mut long) = (0, 0, 0);
        for token in tokens {
            match token.len() {
                ..=SHORT_TOKEN_MAX => short += 1,
                MEDIUM_TOKEN_MIN..=MEDIUM_TOKEN_MAX => medium += 1,
                _ => long += 1,
            }
        }
        Self {
            short: PackedTable::for_len(short),
            medium: PackedTable::for_len(medium),
            long: FxHashMap::default(),
            long_filter: KeyFilter::for_len(2 * long),
        }
    }

    /// The rare long-token case is out of line: in one function, the lookup spent more on saving and restoring the
    /// registers it needs than on probing. (Left to the compiler to inline: forced, it was 5% slower.)
    #[inline]
    pub(crate) fn get(&self, bytes: &[u8]) -> Option<Rank> {
        match bytes.len() {
            // Empty bytes pack to the empty-slot key, and no token is empty.
            0 => None,
            1..=SHORT_TOKEN_MAX => self.short.get(pack_short(bytes)),
            MEDIUM_TOKEN_MIN..=MEDIUM_TOKEN_MAX => self.medium.get(pack_medium(bytes)),
            _ => self.get_long(bytes),
        }
    }

    #[cold]
    #[inline(never)]
    fn get_long(&self, bytes: &[u8]) -> Option<Rank> {
        if !self.long_filter.may_contain(long_key(bytes)) {
            return None;
        }
        self.long.get(bytes).copied()
    }

    /// Adds a token; each token is inserted once (callers check uniqueness first).
    pub(crate) fn insert(&mut self, bytes: &[u8], rank: Rank) {
        match bytes.len() {
            ..=SHORT_TOKEN_MAX => self.short.insert(pack_short(bytes), rank),
            MEDIUM_TOKEN_MIN..=MEDIUM_TOKEN_MAX => self.medium.insert(pack_medium(bytes), rank),
            _ => {
                self.long_filter.insert(long_key(bytes));
                self.long.insert(bytes.into(), rank);
            }
        }
    }

    fn len(&self) -> usize {
        self.short.len + self.medium.len + self.long.len()
    }
}

/// A key of a [`PackedTable`]: token bytes packed into integers.
pub(crate) trait PackedKey: Copy + Eq {
    /// The key of an empty slot; no token packs to it (its length is never 0).
    const EMPTY: Self;
    /// The key folded into one integer, before the table's own multiply.
    fn fold(self) -> u64;
}

impl PackedKey for u64 {
    const EMPTY: Self = 0;

    #[inline]
    fn fold(self) -> u64 {
        self
    }
}

impl PackedKey for [u64; 2] {
    const EMPTY: Self = [0, 0];

    #[inline]
    fn fold(self) -> u64 {
        self[0].wrapping_mul(FIBONACCI) ^ self[1]
    }
}

/// 2^64 divided by the golden ratio: multiplying by it spreads every input bit into the top bits.
const FIBONACCI: u64 = 0x9E37_79B9_7F4A_7C15;

/// Packed tokens -> rank: open addressing with linear probing, at most 70% full, behind a [`KeyFilter`].
///
/// A general-purpose map answered a lookup in 65 instructions (callgrind, English, cl100k_base), this one in about
/// 20. Most lookups that miss end in the filter; with it, tables filled to 50-70% ran as fast as the 25-50% before
/// it (English, code, multilingual, random letters: within 2.5%, noise level) in half the memory (the short-token
/// table of o200k_base: 4 MiB instead of 8).
#[derive(Debug, Clone)]
pub(crate) struct PackedTable<K: Copy> {
    slots: LargeTable<(K, Rank)>,
    /// Sized for the `len` the table was made for; it stays valid (if fuller) when the table grows past that.
    filter: KeyFilter,
    len: usize,
    /// `64 - log2(slots.len())`: the hash keeps the top bits of the product.
    shift: u32,
}

impl<K: PackedKey> PackedTable<K> {
    /// An empty table for `len` keys.
    pub(crate) fn for_len(len: usize) -> Self {
        Self::with_slots((len * 10 / 7 + 1).next_power_of_two().max(16), KeyFilter::for_len(len))
    }

    fn with_slots(slots: usize, filter: KeyFilter) -> Self {
        debug_assert!(slots.is_power_of_two());
        Self { slots: LargeTable::filled(slots, (K::EMPTY, 0)), filter, len: 0, shift: 64 - slots.trailing_zeros() }
    }

    /// Fibonacci hashing: the multiply carries every byte of the key into the top bits that pick the slot.
    #[inline]
    #[allow(clippy::cast_possible_truncation)] // the shift leaves at most log2(slots.len()) bits
    fn slot_of(&self, key: K) -> usize {
        (key.fold().wrapping_mul(FIBONACCI) >> self.shift) as usize
    }

    #[inline]
    pub(crate) fn get(&self, key: K) -> Option<Rank> {
        if !self.filter.may_contain(key) {
            return None;
        }
        self.probe_from(self.slot_of(key), key)
    }

    /// [`get`](Self::get), reading the key's home slot before the filter.
    #[inline]
    pub(crate) fn get_home_first(&self, key: K) -> Option<Rank> {
        let at = self.slot_of(key);
        let (found, rank) = self.slots[at];
        if found == key {
            return Some(rank);
        }
        if found == K::EMPTY || !self.filter.may_contain(key) {
            return None;
        }
        self.probe_from((at + 1) & (self.slots.len() - 1), key)
    }

    /// The rank of `key`, probing from slot `at` to the first empty slot.
    #[inline]
    fn probe_from(&self, mut at: usize, key: K) -> Option<Rank> {
        let mask = self.slots.len() - 1;
        loop {
            let (found, rank) = self.slots[at];
            if found == key {
                return Some(rank);
            }
            if found == K::EMPTY {
                return None;
            }
            at = (at + 1) & mask;
        }
    }

    /// Asks for the home slot of `key`.
    #[inline]
    fn prefetch_slot(&self, key: K) {
        prefetch_line(self.slots.as_ptr().wrapping_add(self.slot_of(key)));
    }

    /// Asks for the filter word and the home slot of `key` (see [`Vocab::prefetch_rank_of_longer`]).
    #[inline]
    fn prefetch(&self, key: K) {
        prefetch_line(self.filter.word_of(key));
        prefetch_line(self.slots.as_ptr().wrapping_add(self.slot_of(key)));
    }

    /// False when no key of the table is `key` (see [`KeyFilter`]); read by prefetches that want to know.
    #[inline]
    fn may_contain(&self, key: K) -> bool {
        self.filter.may_contain(key)
    }

    /// Sets the rank of `key` (not [`PackedKey::EMPTY`]), replacing any earlier one.
    pub(crate) fn insert(&mut self, key: K, rank: Rank) {
        if 10 * (self.len + 1) > 7 * self.slots.len() {
            let mut grown = Self::with_slots(self.slots.len() * 2, self.filter.clone());
            for &(key, rank) in self.slots.iter().filter(|(key, _)| *key != K::EMPTY) {
                grown.insert(key, rank);
            }
            *self = grown;
        }
        let mask = self.slots.len() - 1;
        let mut at = self.slot_of(key);
        while self.slots[at].0 != K::EMPTY && self.slots[at].0 != key {
            at = (at + 1) & mask;
        }
        if self.slots[at].0 == K::EMPTY {
            self.len += 1;
        }
        self.filter.insert(key);
        self.slots[at] = (key, rank);
    }
}

/// One bit per hash of a packed key, set for the key of every entry of a [`PackedTable`]: most lookups that miss
/// (a merge's pairs, pieces that are not tokens) end in this bitset (8 bits per key, so it stays in cache: 160 KiB
/// for cl100k_base's two tables) instead of at a slot of the much larger table. Measured (Rust, 6 MB in 4 KiB
/// documents, warm, best of 3, this 2-core machine): filtering the merges' lookups, multilingual 28.4 -> 33.6 MB/s
/// with cl100k_base and 23.6 -> 28.9 with o200k_base, English cl100k_base 102 -> 108, and the merge of 1 MiB of
/// random letters, nearly all misses, 13 -> 18; filtering the pieces' lookups too, English cl100k_base 108 -> 117
/// and o200k_base 97 -> 110.
#[derive(Debug, Clone)]
struct KeyFilter {
    words: Box<[u64]>,
    /// `64 - log2(bits)`.
    shift: u32,
}

impl KeyFilter {
    fn for_len(len: usize) -> Self {
        let bits = (8 * len).next_power_of_two().max(64);
        Self { words: vec![0; bits / 64].into_boxed_slice(), shift: 64 - bits.trailing_zeros() }
    }

    #[inline]
    #[allow(clippy::cast_possible_truncation)] // the shift leaves at most log2(bits) bits
    fn bit_of(&self, key: impl PackedKey) -> usize {
        (key.fold().wrapping_mul(FIBONACCI) >> self.shift) as usize
    }

    fn insert(&mut self, key: impl PackedKey) {
        let bit = self.bit_of(key);
        self.words[bit / 64] |= 1 << (bit % 64);
    }

    /// The address of the word that holds `key`'s bit.
    #[inline]
    fn word_of(&self, key: impl PackedKey) -> *const u64 {
        self.words.as_ptr().wrapping_add(self.bit_of(key) / 64)
    }

    /// False when no token has this key; true for every token's key (and a few others).
    #[inline]
    fn may_contain(&self, key: impl PackedKey) -> bool {
        let bit = self.bit_of(key);
        self.words[bit / 64] >> (bit % 64) & 1 != 0
    }
}

/// The longest token kept in the one-integer table.
const SHORT_TOKEN_MAX: usize = 7;
/// The shortest and the longest token kept in the two-integer table.
const MEDIUM_TOKEN_MIN: usize = SHORT_TOKEN_MAX + 1;
const MEDIUM_TOKEN_MAX: usize = 15;

/// Up to 7 bytes as one integer: the bytes in the low bytes (little-endian), the length in the top byte, so no two
/// byte strings share a key.
///
/// Read with at most two overlapping loads instead of a copy into a buffer: a variable-length copy is a `memcpy`
/// call, which was a third of the cost of a lookup.
#[inline]
fn pack_short(bytes: &[u8]) -> u64 {
    let len = bytes.len();
    let low = match len {
        0 => 0,
        1 => u64::from(bytes[0]),
        2 | 3 => {
            let first = u64::from(u16::from_le_bytes([bytes[0], bytes[1]]));
            let last = u64::from(bytes[len - 1]);
            first | (last << ((len - 1) * 8))
        }
        _ => {
            let first = u64::from(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]));
            let last = u64::from(u32::from_le_bytes([bytes[len - 4], bytes[len - 3], bytes[len - 2], bytes[len - 1]]));
            first | (last << ((len - 4) * 8))
        }
    };
    low | ((len as u64) << 56)
}

/// The [`pack_short`] key of `text[start..end]` when it has 1 to 7 bytes and the text has 8 bytes from `start`: one
/// load, masked.
#[inline]
pub(crate) fn short_key_in(text: &[u8], start: usize, end: usize) -> Option<u64> {
    let len = end - start;
    let word = text.get(start..start + 8).filter(|_| (1..=SHORT_TOKEN_MAX).contains(&len))?;
    Some(short_key_of_word(word, len))
}

/// [`pack_up_to_15`] of the `len` bytes at `at` in a window of 64 + 16 bytes (`at` below 64), `[0, 0]` for more than
/// 15 bytes: two loads, masked, without the bounds checks (every `at` has 16 bytes in the window) and without a
/// branch on the length. With a `match` on it (one load for up to seven bytes, `pack_medium`'s for more), callgrind's
/// branch simulation counted 36,000 mispredicted branches per MB of English there (cl100k_base, 4 KiB documents),
/// the most of any line: the pieces of up to seven bytes and the longer ones come in no order a predictor learns.
#[inline]
pub(crate) fn hot_key_in_window(window: &[u8; 80], at: usize, len: usize) -> [u64; 2] {
    let at = at % 64;
    let word = |from: usize| u64::from_le_bytes(window[from..from + 8].try_into().expect("eight bytes"));
    let [first_mask, first_length, second_mask, second_length] = HOT_KEY_PARTS[len.min(MEDIUM_TOKEN_MAX + 1)];
    [word(at) & first_mask | first_length, word(at + 8) & second_mask | second_length]
}

/// For each length up to 16, what [`hot_key_in_window`] keeps of the two words at a piece's start and the length it
/// adds to each: the bytes of the piece and the length where [`pack_up_to_15`] puts them, nothing from 16 bytes on.
/// Table lookups rather than a `match` or arithmetic on the length: with arithmetic masks that gave the same keys,
/// callgrind counted 517.6 M instructions against 461.0 M with the table (whole process, two passes over 6 MB of
/// English in 4 KiB documents, cl100k_base, `encode_to_bytes`). Against the `match`, counting the extension's own
/// functions over one such pass (OPENBLAS_NUM_THREADS=1: NumPy's idle threads move whole-process counts by millions):
/// 182.1 -> 189.2 M instructions (+3.9%), 0.73 -> 0.51 M mispredicted conditional branches.
const HOT_KEY_PARTS: [[u64; 4]; MEDIUM_TOKEN_MAX + 2] = {
    let mut parts = [[0; 4]; MEDIUM_TOKEN_MAX + 2];
    let mut len = 1;
    while len <= MEDIUM_TOKEN_MAX {
        let length = (len as u64) << 56;
        parts[len] = if len <= SHORT_TOKEN_MAX {
            [u64::MAX >> (64 - 8 * len), length, 0, 0]
        } else {
            [u64::MAX, 0, !(u64::MAX << (8 * (len - 8))), length]
        };
        len += 1;
    }
    parts
};

/// The [`pack_short`] key of the first `len` (1 to 7) of eight bytes.
#[inline]
fn short_key_of_word(word: &[u8], len: usize) -> u64 {
    let word = u64::from_le_bytes(word.try_into().expect("eight bytes"));
    (word & (u64::MAX >> (64 - 8 * len))) | ((len as u64) << 56)
}

/// The [`TokenMap::long_filter`] key of more than 15 bytes: the first and the last eight, and the length.
#[inline]
fn long_key(bytes: &[u8]) -> [u64; 2] {
    let len = bytes.len();
    let first = u64::from_le_bytes(bytes[..8].try_into().expect("more than eight bytes"));
    let last = u64::from_le_bytes(bytes[len - 8..].try_into().expect("more than eight bytes"));
    [first, last ^ (len as u64).rotate_right(8)]
}

/// Up to [`MEDIUM_TOKEN_MAX`] bytes (at least one) as two integers, distinct for distinct byte strings: the
/// [`pack_short`] key and 0 for up to seven bytes (no medium key has a 0 second word: its top byte is the length),
/// else the [`pack_medium`] key. `None` for longer byte strings.
#[inline]
pub(crate) fn pack_up_to_15(bytes: &[u8]) -> Option<[u64; 2]> {
    match bytes.len() {
        1..=SHORT_TOKEN_MAX => Some([pack_short(bytes), 0]),
        MEDIUM_TOKEN_MIN..=MEDIUM_TOKEN_MAX => Some(pack_medium(bytes)),
        _ => None,
    }
}

/// 8 to 15 bytes as two integers: the first eight bytes, then the rest with the length in the top byte.
#[inline]
fn pack_medium(bytes: &[u8]) -> [u64; 2] {
    let len = bytes.len();
    let first = u64::from_le_bytes(bytes[..8].try_into().expect("at least eight bytes"));
    // The last eight bytes overlap the first eight; shifting drops the overlap, leaving bytes[8..] at the bottom
    // (in two steps: a shift by 64, for eight bytes, would overflow).
    let last = u64::from_le_bytes(bytes[len - 8..].try_into().expect("at least eight bytes"));
    [first, ((last >> 8) >> ((15 - len) * 8)) | ((len as u64) << 56)]
}

/// Parses a `.tiktoken` rank file into validated `(token bytes, rank)` pairs: well-formed lines, unique tokens and
/// unique ranks. Unlike [`Vocab::parse`], it does not require the 256 single bytes (tiktoken's loader does not).
pub fn parse_rank_file(file: &[u8]) -> Result<RankEntries, VocabError> {
    let (entries, lines) = read_rank_file(file)?;
    index_unique(&entries, Some(&lines))?;
    Ok(entries)
}

/// The entries of a rank file and the line number of each.
fn read_rank_file(file: &[u8]) -> Result<(RankEntries, Vec<usize>), VocabError> {
    let mut entries = Vec::with_capacity(file.len() / 12);
    let mut lines = Vec::with_capacity(file.len() / 12);
    let mut token = Vec::new();
    for (index, line) in file.split(|&byte| byte == b'\n').enumerate() {
        let line_number = index + 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        let mut fields = line.split(u8::is_ascii_whitespace).filter(|field| !field.is_empty());
        let (Some(encoded), Some(rank), None) = (fields.next(), fields.next(), fields.next()) else {
            return Err(VocabError::MalformedLine { line: line_number, found: excerpt(line) });
        };
        token.clear();
        base64::engine::general_purpose::STANDARD.decode_vec(encoded, &mut token).map_err(|_| {
            VocabError::InvalidBase64 { line: line_number, token: String::from_utf8_lossy(encoded).into_owned() }
        })?;
        let rank =
            parse_rank(rank).ok_or_else(|| VocabError::InvalidRank { line: line_number, rank: excerpt(rank) })?;
        entries.push((token.as_slice().into(), rank));
        lines.push(line_number);
    }
    Ok((entries, lines))
}

/// The bytes -> rank table of `entries` and, for each rank, the index of its entry; fails on an empty or repeated
/// token, a repeated rank or a rank over [`MAX_RANK`], naming the lines when `lines` are known.
type RankIndex = (TokenMap, Vec<Option<usize>>);

fn index_unique(entries: &[(Box<[u8]>, Rank)], lines: Option<&[usize]>) -> Result<RankIndex, VocabError> {
    let line_of = |index: usize| lines.map(|lines| lines[index]);
    let mut ranks = TokenMap::for_tokens(entries.iter().map(|(token, _)| &**token));
    let mut by_rank: Vec<Option<usize>> = Vec::new();
    for (index, (token, rank)) in entries.iter().enumerate() {
        let rank = *rank;
        if rank > MAX_RANK {
            return Err(VocabError::RankTooLarge { rank });
        }
        if token.is_empty() {
            return Err(VocabError::EmptyToken { rank });
        }
        let slot = rank as usize;
        if by_rank.len() <= slot {
            by_rank.resize(slot + 1, None);
        }
        if let Some(first) = by_rank[slot] {
            return Err(VocabError::DuplicateRank {
                rank,
                first: escape(&entries[first].0),
                second: escape(token),
                lines: located(line_of(first), line_of(index)),
            });
        }
        if let Some(first) = ranks.get(token) {
            let first_index = by_rank[first as usize].expect("every mapped token has its rank slot");
            return Err(VocabError::DuplicateToken {
                token: escape(token),
                first,
                second: rank,
                lines: located(line_of(first_index), line_of(index)),
            });
        }
        ranks.insert(token, rank);
        by_rank[slot] = Some(index);
    }
    Ok((ranks, by_rank))
}

/// " (lines 3 and 9)" when both lines are known, else nothing.
fn located(first: Option<usize>, second: Option<usize>) -> String {
    match (first, second) {
        (Some(first), Some(second)) => format!(" (lines {first} and {second})"),
        _ => String::new(),
    }
}

fn parse_rank(text: &[u8]) -> Option<Rank> {
    let text = std::str::from_utf8(text).ok()?;
    if !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// A short, printable rendering of part of a line for an error message.
fn excerpt(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    if text.chars().count() > 80 {
        text.chars().take(80).collect::<String>() + "..."
    } else {
        text.into_owned()
    }
}

/// Token bytes as a Python-like escaped string, for error messages.
pub(crate) fn escape(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        for byte in chunk.invalid() {
            let _ = write!(out, "\\x{byte:02x}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_keys_hold_the_bytes_and_the_length() {
        let bytes = [0x01, 0x80, 0xFF, 0x00, 0x7F, 0x10, 0xEE];
        for len in 0..=SHORT_TOKEN_MAX {
            let mut buffer = [0u8; 8];
            buffer[..len].copy_from_slice(&bytes[..len]);
            buffer[7] = u8::try_from(len).expect("short");
            assert_eq!(pack_short(&bytes[..len]), u64::from_le_bytes(buffer), "length {len}");
        }
        let long: Vec<u8> = (1..=15).collect();
        for len in SHORT_TOKEN_MAX + 1..=MEDIUM_TOKEN_MAX {
            let mut rest = [0u8; 8];
            rest[..len - 8].copy_from_slice(&long[8..len]);
            rest[7] = u8::try_from(len).expect("short");
            let expected = [u64::from_le_bytes(long[..8].try_into().expect("8")), u64::from_le_bytes(rest)];
            assert_eq!(pack_medium(&long[..len]), expected, "length {len}");
        }
        // A trailing zero byte still tells the lengths apart.
        assert_ne!(pack_short(&[0x61]), pack_short(&[0x61, 0x00]));
    }

    #[test]
    fn keys_in_a_window_are_the_keys_of_the_bytes_alone() {
        // Bytes after each piece differ from the piece's own, so a key that kept one would show.
        let window: [u8; 80] = std::array::from_fn(|at| u8::try_from(at * 37 % 251 + 1).expect("below 256"));
        for at in 0..64 {
            for len in 1..=80 - at {
                let bytes = &window[at..at + len];
                assert_eq!(hot_key_in_window(&window, at, len), pack_up_to_15(bytes).unwrap_or([0, 0]), "{at} {len}");
                if let Some(key) = short_key_in(&window, at, at + len) {
                    assert_eq!(key, pack_short(bytes), "{at} {len}");
                }
            }
        }
    }

    fn byte_lines() -> String {
        let mut lines = String::new();
        for byte in 0..=255u8 {
            let _ = writeln!(lines, "{} {byte}", base64::engine::general_purpose::STANDARD.encode([byte]));
        }
        lines
    }

    #[test]
    fn parses_ranks_and_round_trips_tokens() {
        let file = byte_lines() + "YWI= 256\r\n\nY2Q= 300\n";
        let vocab = Vocab::parse(file.as_bytes()).expect("valid");
        assert_eq!(vocab.rank(b"ab"), Some(256));
        assert_eq!(vocab.token_bytes(300), Some(&b"cd"[..]));
        assert_eq!(vocab.token_bytes(299), None);
        assert_eq!(vocab.rank(b""), None);
        assert_eq!(vocab.max_rank(), 300);
        assert_eq!(vocab.len(), 258);
        assert_eq!(vocab.iter().count(), 258);
    }

    #[test]
    fn appends_token_bytes_of_every_length() {
        let long = "0123456789abcdefghij";
        let tokens =
            (1..=long.len()).map(|len| (Box::from(&long.as_bytes()[..len]), Rank::try_from(255 + len).expect("small")));
        let bytes = (0..=255u8).filter(|&byte| byte != b'0').map(|byte| (Box::from([byte]), Rank::from(byte)));
        let vocab = Vocab::from_ranks(bytes.chain(tokens)).expect("valid");
        let mut out = b"x".to_vec();
        for len in 1..=long.len() {
            assert!(vocab.extend_with_token_bytes(Rank::try_from(255 + len).expect("small"), &mut out));
        }
        let expected: String = (1..=long.len()).map(|len| &long[..len]).collect();
        assert_eq!(out, [b"x", expected.as_bytes()].concat());
        assert!(!vocab.extend_with_token_bytes(b'0'.into(), &mut out));
        assert!(!vocab.extend_with_token_bytes(10_000, &mut out));
        assert_eq!(out.len(), 1 + expected.len());
    }

    #[test]
    fn the_home_slot_first_lookup_agrees_with_the_filtered_one() {
        // A table at its fullest (70%): keys met in other keys' home slots, runs of probes, keys absent whose home slot
        // is taken, filter bits set by other keys.
        let mut table = PackedTable::<u64>::for_len(1433);
        let key = |n: u64| n.wrapping_mul(0x9E37_79B9) | 1 << 56;
        for n in 0..1433 {
            table.insert(key(n), u32::try_from(n).expect("small"));
        }
        assert!(10 * table.len >= 7 * table.slots.len() - 10, "{} of {}", table.len, table.slots.len());
        let mut absent_behind_a_taken_home = 0;
        for n in 0..20_000 {
            assert_eq!(table.get_home_first(key(n)), table.get(key(n)), "key {n}");
            let home = table.slots[table.slot_of(key(n))].0;
            absent_behind_a_taken_home += usize::from(n >= 1433 && home != 0);
        }
        assert!(absent_behind_a_taken_home > 5_000, "{absent_behind_a_taken_home}");
    }

    #[test]
    fn a_table_grown_past_its_size_finds_every_key() {
        // Made for 600 keys, given 1,000: the table grows, and its filter (sized for 600) must still pass every key.
        let mut table = PackedTable::<u64>::for_len(600);
        for key in 1..=1000u64 {
            table.insert(key * 0x0101_0101, u32::try_from(key).expect("small"));
        }
        for key in 1..=1000u64 {
            assert_eq!(table.get(key * 0x0101_0101), Some(u32::try_from(key).expect("small")), "key {key}");
        }
        assert_eq!(table.get(3), None);
    }

    #[test]
    fn rank_in_agrees_with_rank_on_every_slice() {
        // Tokens of every length from 1 to 20 (the prefixes of `long`) and a text with them at every offset, so
        // that slices end near the end of the text (where one eight-byte load does not fit) and far from it.
        let long = "0123456789abcdefghij";
        let tokens =
            (2..=long.len()).map(|len| (Box::from(&long.as_bytes()[..len]), Rank::try_from(254 + len).expect("small")));
        let bytes = (0..=255u8).map(|byte| (Box::from([byte]), Rank::from(byte)));
        let vocab = Vocab::from_ranks(bytes.chain(tokens)).expect("valid");
        let text = format!("x{long}y0123{long}");
        let text = text.as_bytes();
        let mut found = 0;
        for start in 0..text.len() {
            for end in start + 1..=text.len() {
                let expected = vocab.rank(&text[start..end]);
                assert_eq!(vocab.rank_in(text, start, end), expected, "{:?}", &text[start..end]);
                assert_eq!(vocab.piece_rank_in(text, start, end), expected, "{:?}", &text[start..end]);
                found += usize::from(expected.is_some_and(|rank| rank > 255));
            }
        }
        assert_eq!(found, 2 * 19 + 3, "every multi-byte token at both offsets, and 01, 012, 0123 in the middle");
    }

    #[test]
    fn rejects_malformed_lines_with_their_number() {
        let file = byte_lines() + "YWI=256\n";
        let err = Vocab::parse(file.as_bytes()).unwrap_err();
        assert!(matches!(err, VocabError::MalformedLine { line: 257, .. }), "{err}");
        let err = Vocab::parse((byte_lines() + "Y!I= 256\n").as_bytes()).unwrap_err();
        assert!(matches!(err, VocabError::InvalidBase64 { line: 257, .. }), "{err}");
        let err = Vocab::parse((byte_lines() + "YWI= -1\n").as_bytes()).unwrap_err();
        assert!(matches!(err, VocabError::InvalidRank { line: 257, .. }), "{err}");
    }

    #[test]
    fn duplicates_in_a_file_name_both_lines() {
        let err = Vocab::parse((byte_lines() + "YWI= 256\nY2Q= 256\n").as_bytes()).unwrap_err();
        assert!(err.to_string().ends_with("(lines 257 and 258)"), "{err}");
        let err = Vocab::parse((byte_lines() + "YQ== 256\n").as_bytes()).unwrap_err();
        assert!(err.to_string().ends_with("(lines 98 and 257)"), "{err}");
    }

    #[test]
    fn a_rank_file_need_not_hold_every_byte() {
        let entries = parse_rank_file(b"YQ== 0\nYg== 1\n").expect("well formed");
        assert_eq!(entries, [(Box::from(&b"a"[..]), 0), (Box::from(&b"b"[..]), 1)]);
        assert!(matches!(Vocab::parse(b"YQ== 0\n"), Err(VocabError::MissingByte { byte: 0 })));
    }

    #[test]
    fn rejects_duplicates_and_missing_bytes() {
        let err = Vocab::parse((byte_lines() + "YWI= 256\nY2Q= 256\n").as_bytes()).unwrap_err();
        assert!(matches!(err, VocabError::DuplicateRank { rank: 256, .. }), "{err}");
        let err = Vocab::parse((byte_lines() + "YWI= 256\nYWI= 257\n").as_bytes()).unwrap_err();
        assert!(matches!(err, VocabError::DuplicateToken { first: 256, second: 257, .. }), "{err}");
        let without_a: String =
            byte_lines().lines().filter(|line| !line.ends_with(" 97")).map(|l| l.to_owned() + "\n").collect();
        let err = Vocab::parse(without_a.as_bytes()).unwrap_err();
        assert!(matches!(err, VocabError::MissingByte { byte: b'a' }), "{err}");
    }
}
