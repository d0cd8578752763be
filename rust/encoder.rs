//! `Encoder`: split -> merge, special tokens, and decoding; the crate's front door.

use std::cell::Cell;
use std::collections::BTreeSet;
use std::sync::OnceLock;

use crate::batch::{map_in_parallel, threads_for_texts};
use crate::cache::{new_owner, with_cache, HotKey, PieceCache};
use crate::error::{DecodeError, EncodeError, VocabError};
use crate::merge::{byte_pair_encode, encode_piece, encode_piece_in};
use crate::special::{SpecialPolicy, SpecialTokens};
use crate::split::{block_pieces, Pieces, Splitter, BLOCK};
use crate::vocab::{escape, hot_key_in_window, pack_up_to_15, short_key_in, Rank, Vocab, NO_RANK};

/// A byte-level BPE tokenizer: a vocab, a split pattern and special tokens.
///
/// Immutable once built, and `Send + Sync`, so one encoder serves any number of threads.
#[derive(Debug)]
pub struct Encoder {
    vocab: Vocab,
    splitter: Splitter,
    pattern: String,
    specials: SpecialTokens,
    /// Ranks ordered by their token bytes, for prefix searches; built on first use.
    sorted_ranks: OnceLock<Vec<Rank>>,
    /// Identifies this encoder's entries in the per-thread piece caches.
    cache_owner: u64,
}

impl Encoder {
    /// Builds an encoder from a vocab, a split pattern and `(special token, id)` pairs.
    pub fn new(
        vocab: Vocab,
        pattern: &str,
        special_tokens: impl IntoIterator<Item = (String, Rank)>,
    ) -> Result<Self, VocabError> {
        let splitter = Splitter::new(pattern)?;
        let specials = SpecialTokens::new(special_tokens, |rank| {
            vocab.token_bytes(rank).map(|bytes| format!("the ordinary token {:?}", escape(bytes)))
        })?;
        Ok(Self {
            vocab,
            splitter,
            pattern: pattern.to_owned(),
            specials,
            sorted_ranks: OnceLock::new(),
            cache_owner: new_owner(),
        })
    }

    /// Builds an encoder from the contents of a `.tiktoken` rank file (see [`Vocab::parse`]).
    pub fn from_vocab_file(
        file: &[u8],
        pattern: &str,
        special_tokens: impl IntoIterator<Item = (String, Rank)>,
    ) -> Result<Self, VocabError> {
        Self::new(Vocab::parse(file)?, pattern, special_tokens)
    }

    // ==== Encoding ====

    /// Encodes text, treating special-token strings as ordinary text.
    ///
    /// Fails only when a split pattern outside the bundled ones exhausts the backtracking engine's stack.
    pub fn encode_ordinary(&self, text: &str) -> Result<Vec<Rank>, EncodeError> {
        let mut out = Vec::with_capacity(capacity_for(text));
        self.encode_ordinary_into(text, &mut out)?;
        Ok(out)
    }

    /// Appends the tokens of `text` (no special tokens) to `out`; returns how many the last piece gave.
    pub fn encode_ordinary_into(&self, text: &str, out: &mut Vec<Rank>) -> Result<usize, EncodeError> {
        with_cache(self.cache_owner, |cache| {
            // This thread's block keys, taken for the call (a nested call on the thread makes its own).
            let mut block_keys = BLOCK_KEYS.take().unwrap_or_else(|| Box::new([BlockKeys::NONE; 2]));
            // Keys of another text must not be taken for this one's: a block is found by where it starts.
            for keys in block_keys.iter_mut() {
                keys.start = usize::MAX;
            }
            let mut pieces = PieceEncoder {
                vocab: &self.vocab,
                text: text.as_bytes(),
                out,
                cache,
                last: 0,
                block_keys,
                newer_keys: 1,
            };
            let split = self.splitter.split(text, &mut pieces);
            BLOCK_KEYS.set(Some(pieces.block_keys));
            split?;
            Ok(pieces.last)
        })
    }

    /// Encodes text, encoding the special tokens that `policy` allows and failing on those it disallows.
    pub fn encode(&self, text: &str, policy: &SpecialPolicy) -> Result<Vec<Rank>, EncodeError> {
        Ok(self.encode_tracking_last_piece(text, policy)?.0)
    }

    /// [`encode`](Self::encode), also returning how many tokens the last piece gave (0 after a special token).
    fn encode_tracking_last_piece(
        &self,
        text: &str,
        policy: &SpecialPolicy,
    ) -> Result<(Vec<Rank>, usize), EncodeError> {
        let mut out = Vec::with_capacity(capacity_for(text));
        let last_piece_tokens = self.encode_into(text, policy, &mut out)?;
        Ok((out, last_piece_tokens))
    }

    /// Appends the tokens of `text` (special tokens as `policy` says) to `out`; returns how many the last piece
    /// gave (0 after a special token). On error, `out` may hold the tokens of the text before the failure.
    pub fn encode_into(&self, text: &str, policy: &SpecialPolicy, out: &mut Vec<Rank>) -> Result<usize, EncodeError> {
        let mut last_piece_tokens = 0;
        let mut start = 0;
        for special in self.specials.find(text, policy)? {
            self.encode_ordinary_into(&text[start..special.start], out)?;
            out.push(special.rank);
            last_piece_tokens = 0;
            start = special.end;
        }
        if start < text.len() {
            last_piece_tokens = self.encode_ordinary_into(&text[start..], out)?;
        }
        Ok(last_piece_tokens)
    }

    /// [`encode_ordinary`](Self::encode_ordinary) of each text on up to `threads` threads (0: one per CPU).
    pub fn encode_ordinary_batch<S: AsRef<str> + Sync>(
        &self,
        texts: &[S],
        threads: usize,
    ) -> Result<Vec<Vec<Rank>>, EncodeError> {
        map_in_parallel(texts, threads_for_texts(texts, threads), |text| self.encode_ordinary(text.as_ref()))
    }

    /// [`encode`](Self::encode) of each text on up to `threads` threads (0: one per CPU).
    pub fn encode_batch<S: AsRef<str> + Sync>(
        &self,
        texts: &[S],
        policy: &SpecialPolicy,
        threads: usize,
    ) -> Result<Vec<Vec<Rank>>, EncodeError> {
        map_in_parallel(texts, threads_for_texts(texts, threads), |text| self.encode(text.as_ref(), policy))
    }

    /// The policy for one call: which special tokens to encode as such, which to reject.
    pub fn special_policy<'a>(
        &self,
        allowed: impl IntoIterator<Item = &'a str>,
        disallowed: impl IntoIterator<Item = &'a str>,
    ) -> SpecialPolicy {
        self.specials.policy(allowed, disallowed)
    }

    /// Encodes text into stable tokens and the token sequences that could complete its unstable end.
    ///
    /// The last piece of `text` may merge differently once more text follows; its tokens are left out of the stable
    /// tokens, and each completion is a sequence of tokens that starts with its bytes. Same contract as tiktoken's
    /// `encode_with_unstable`; completions come sorted.
    pub fn encode_with_unstable(
        &self,
        text: &str,
        policy: &SpecialPolicy,
    ) -> Result<(Vec<Rank>, Vec<Vec<Rank>>), EncodeError> {
        let (mut tokens, last_piece_tokens) = self.encode_tracking_last_piece(text, policy)?;
        if last_piece_tokens == 0 {
            return Ok((tokens, Vec::new()));
        }
        let last_piece_tokens = self.extend_over_trailing_whitespace(&tokens, last_piece_tokens);
        let unstable = self.decode_bytes(&tokens[tokens.len() - last_piece_tokens..]).expect("tokens just encoded");
        tokens.truncate(tokens.len() - last_piece_tokens);
        let mut completions = BTreeSet::new();
        if unstable.is_empty() {
            return Ok((tokens, Vec::new()));
        }
        // Every single token that starts with the unstable bytes completes them.
        for rank in self.ranks_with_prefix(&unstable) {
            completions.insert(vec![rank]);
        }
        // A token may straddle the end of the text: try each split of the unstable bytes into a kept prefix and a
        // suffix that some token starts with, and re-encode prefix + token.
        for split in 1..unstable.len() {
            let (prefix, suffix) = unstable.split_at(split);
            for rank in self.ranks_with_prefix(suffix) {
                let token = self.vocab.token_bytes(rank).expect("sorted ranks are tokens");
                let possibility = [prefix, token].concat();
                // Re-split valid text: the extra bytes may introduce a split that prevents merges.
                let encoded = if let Ok(text) = std::str::from_utf8(&possibility) {
                    self.encode_ordinary(text)?
                } else {
                    let mut out = Vec::new();
                    byte_pair_encode(&self.vocab, &possibility, &mut out);
                    out
                };
                let mut sequence = Vec::new();
                let mut covered = 0;
                for rank in encoded {
                    sequence.push(rank);
                    covered += self.token_len(rank);
                    if covered >= unstable.len() {
                        break;
                    }
                }
                completions.insert(sequence);
            }
        }
        // More text may make a split appear before trailing whitespace (`\s+(?!\S)`), so the last character may
        // become a token of its own.
        if unstable.len() > 1 {
            if let Some(last) = last_char_len(&unstable).filter(|&(c, _)| c.is_whitespace()).map(|(_, len)| len) {
                let at = unstable.len() - last;
                if at > 0 {
                    let mut reencoded = Vec::new();
                    byte_pair_encode(&self.vocab, &unstable[..at], &mut reencoded);
                    byte_pair_encode(&self.vocab, &unstable[at..], &mut reencoded);
                    completions.insert(reencoded);
                }
            }
        }
        Ok((tokens, completions.into_iter().collect()))
    }

    /// Whitespace-only tokens before the last piece may merge with it once more text follows (cl100k_base's
    /// `\s*[\r\n]` can turn "\n" + " " into "\n \n"), so count them as part of the unstable end.
    fn extend_over_trailing_whitespace(&self, tokens: &[Rank], mut last_piece_tokens: usize) -> usize {
        let is_all_space = |rank: Rank| {
            self.vocab.token_bytes(rank).is_some_and(|bytes| bytes.iter().all(|byte| b" \n\t".contains(byte)))
        };
        if is_all_space(tokens[tokens.len() - last_piece_tokens]) {
            while last_piece_tokens < tokens.len() && is_all_space(tokens[tokens.len() - last_piece_tokens - 1]) {
                last_piece_tokens += 1;
            }
        }
        last_piece_tokens
    }

    /// Encodes bytes that are one token (ordinary or special) to its id.
    pub fn encode_single_token(&self, bytes: &[u8]) -> Option<Rank> {
        self.vocab.rank(bytes).or_else(|| self.specials.rank(bytes))
    }

    /// Encodes bytes as one piece, with no split: the piece's token if it is one, else its byte-pair merge.
    pub fn encode_single_piece(&self, bytes: &[u8]) -> Vec<Rank> {
        let mut out = Vec::new();
        encode_piece(&self.vocab, bytes, &mut out, None);
        out
    }

    /// Encodes bytes that may not be valid UTF-8 (tiktoken's `_encode_bytes`): the valid prefix is encoded as text,
    /// then its last piece and the invalid rest are merged as bytes.
    pub fn encode_bytes(&self, bytes: &[u8]) -> Result<Vec<Rank>, EncodeError> {
        let valid_up_to = match std::str::from_utf8(bytes) {
            Ok(text) => return self.encode_ordinary(text),
            Err(err) => err.valid_up_to(),
        };
        let text = std::str::from_utf8(&bytes[..valid_up_to]).expect("valid up to this point");
        let no_specials = self.special_policy([], []);
        let (mut tokens, last_piece_tokens) = self.encode_tracking_last_piece(text, &no_specials)?;
        let mut unstable = Vec::new();
        if !tokens.is_empty() && last_piece_tokens > 0 {
            let last_piece_tokens = self.extend_over_trailing_whitespace(&tokens, last_piece_tokens);
            unstable = self.decode_bytes(&tokens[tokens.len() - last_piece_tokens..]).expect("tokens just encoded");
            tokens.truncate(tokens.len() - last_piece_tokens);
        }
        unstable.extend_from_slice(&bytes[valid_up_to..]);
        encode_piece(&self.vocab, &unstable, &mut tokens, None);
        Ok(tokens)
    }

    // ==== Decoding ====

    /// Decodes tokens (ordinary and special) to bytes.
    pub fn decode_bytes(&self, tokens: &[Rank]) -> Result<Vec<u8>, DecodeError> {
        let mut out = Vec::with_capacity(tokens.len() * 4);
        for &token in tokens {
            if !self.vocab.extend_with_token_bytes(token, &mut out) {
                let special = self.specials.text(token).ok_or(DecodeError::UnknownToken { token })?;
                out.extend_from_slice(special.as_bytes());
            }
        }
        Ok(out)
    }

    /// [`decode_bytes`](Self::decode_bytes) of each token sequence on up to `threads` threads (0: one per CPU).
    pub fn decode_bytes_batch<T: AsRef<[Rank]> + Sync>(
        &self,
        batch: &[T],
        threads: usize,
    ) -> Result<Vec<Vec<u8>>, DecodeError> {
        map_in_parallel(batch, threads, |tokens| self.decode_bytes(tokens.as_ref()))
    }

    /// The bytes of one token (ordinary or special).
    #[inline]
    pub fn decode_single_token_bytes(&self, token: Rank) -> Result<&[u8], DecodeError> {
        self.vocab
            .token_bytes(token)
            .or_else(|| self.specials.text(token).map(str::as_bytes))
            .ok_or(DecodeError::UnknownToken { token })
    }

    fn token_len(&self, token: Rank) -> usize {
        self.decode_single_token_bytes(token).map_or(0, <[u8]>::len)
    }

    // ==== Vocabulary ====

    /// The mergeable tokens.
    pub fn vocab(&self) -> &Vocab {
        &self.vocab
    }

    /// The split pattern.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// Whether the split pattern runs on the linear-time engine (true for the bundled encodings).
    pub fn has_linear_splitter(&self) -> bool {
        self.splitter.is_linear()
    }

    /// Every `(special token, id)`, in id order.
    pub fn special_tokens(&self) -> impl Iterator<Item = (&str, Rank)> + '_ {
        self.specials.iter()
    }

    /// The largest id, ordinary or special.
    pub fn max_token_value(&self) -> Rank {
        self.vocab.max_rank().max(self.specials.max_rank().unwrap_or(0))
    }

    /// The bytes of every mergeable token, sorted bytewise (tiktoken's `token_byte_values`).
    pub fn token_byte_values(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.sorted_ranks().iter().map(|&rank| self.vocab.token_bytes(rank).expect("sorted ranks are tokens"))
    }

    fn sorted_ranks(&self) -> &[Rank] {
        self.sorted_ranks.get_or_init(|| {
            let mut ranks: Vec<Rank> = self.vocab.iter().map(|(_, rank)| rank).collect();
            ranks.sort_unstable_by_key(|&rank| self.vocab.token_bytes(rank));
            ranks
        })
    }

    /// The ranks of the tokens that start with `prefix`, in bytewise order of their bytes.
    fn ranks_with_prefix<'a>(&'a self, prefix: &'a [u8]) -> impl Iterator<Item = Rank> + 'a {
        let sorted = self.sorted_ranks();
        let bytes = |rank: Rank| self.vocab.token_bytes(rank).expect("sorted ranks are tokens");
        let first = sorted.partition_point(|&rank| bytes(rank) < prefix);
        sorted[first..].iter().copied().take_while(move |&rank| bytes(rank).starts_with(prefix))
    }
}

/// Encodes the pieces of one text as the splitter hands them over, asking the memory ahead for what their lookups
/// will read.
struct PieceEncoder<'a> {
    vocab: &'a Vocab,
    text: &'a [u8],
    out: &'a mut Vec<Rank>,
    cache: Option<&'a mut PieceCache>,
    /// How many tokens the last piece gave.
    last: usize,
    /// The hot keys of the last two blocks told of ahead (see [`BlockKeys`]).
    block_keys: Box<[BlockKeys; 2]>,
    /// Which of the two is the newer.
    newer_keys: usize,
}

/// The hot-table keys of a block's pieces (see [`HotKey`]), in order (`[0, _]` for a piece of more than 15 bytes, or
/// whose first eight bytes are zeros, which the hot table does not take), computed when the block is told of ahead and
/// used when its pieces come, instead of computed again: a block's pieces come after the next block was told of ahead
/// (see `split::blocks::scan`), so the encoder keeps two.
struct BlockKeys {
    /// Where the block starts; `usize::MAX` for none.
    start: usize,
    keys: [HotKey; BLOCK],
}

impl BlockKeys {
    const NONE: Self = Self { start: usize::MAX, keys: [[0; 2]; BLOCK] };
}

thread_local! {
    /// The [`BlockKeys`] of the encoder running on this thread, kept from call to call: made and zeroed per call, they
    /// took a short text's encode from 265 to 290 ns.
    static BLOCK_KEYS: Cell<Option<Box<[BlockKeys; 2]>>> = const { Cell::new(None) };
}

impl Pieces for PieceEncoder<'_> {
    /// Asks for the line that the piece's lookup will read: for a piece of up to seven bytes its hot set (its token
    /// slot while the hot table is skipped), for a longer one its token slot, and for those that are not tokens (of 8
    /// to 15 bytes that the token table's filter rejects, and longer ones, merged and looked up in the cache) their
    /// set in the cache too.
    #[allow(clippy::inline_always)] // see `Pieces`
    #[inline(always)]
    fn ahead(&mut self, start: usize, end: usize) {
        let cache = self.cache.as_deref();
        if let Some(key) = short_key_in(self.text, start, end) {
            match cache {
                Some(cache) if cache.hot_in_use() => cache.prefetch_hot([key, 0]),
                _ => self.vocab.prefetch_short_rank(key),
            }
            return;
        }
        ahead_longer(self.vocab, self.text, cache, start, end);
    }

    /// [`ahead`](Self::ahead) of each piece of a block, asking whether the hot table is in use once.
    #[allow(clippy::inline_always)] // see `Pieces`
    #[inline(always)]
    fn ahead_block(&mut self, start: usize, ends: u64) {
        let Some(cache) = self.cache.as_deref().filter(|cache| cache.hot_in_use()) else {
            for (start, end) in block_pieces(start, ends) {
                self.ahead(start, end);
            }
            return;
        };
        // The older of the two, overwritten.
        let slot = usize::from(self.newer_keys == 0);
        self.newer_keys = slot;
        let block_keys = &mut self.block_keys[slot];
        block_keys.start = start;
        let (vocab, text, hot) = (self.vocab, self.text, cache.hot_table());
        let mut fill = |key_of: &dyn Fn(usize, usize) -> HotKey| {
            for ((piece, end), slot) in block_pieces(start, ends).zip(block_keys.keys.iter_mut()) {
                let key = key_of(piece, end);
                *slot = key;
                if key[0] == 0 {
                    ahead_longer(vocab, text, Some(cache), piece, end);
                } else {
                    hot.prefetch(key);
                }
            }
        };
        if let Some(window) = text.get(start..start + BLOCK + 16) {
            // Every piece of the block has 16 bytes from its start in `window`: its key without bounds checks.
            let window: &[u8; BLOCK + 16] = window.try_into().expect("the length asked for");
            fill(&|piece, end| hot_key_in_window(window, piece - start, end - piece));
        } else {
            fill(&|piece, end| pack_up_to_15(&text[piece..end]).unwrap_or([0, 0]));
        }
    }

    /// A piece of up to seven bytes goes through the cache's hot table first (see `cache::HotSet`), which learns the
    /// one or two tokens of each such piece the first time it is encoded.
    #[allow(clippy::inline_always)] // see `Pieces`
    #[inline(always)]
    fn piece(&mut self, start: usize, end: usize) {
        let before = self.out.len();
        if let (Some(key), Some(cache)) = (short_key_in(self.text, start, end), self.cache.as_deref_mut()) {
            if cache.hot_worth_it() {
                if let Some(tokens) = cache.hot_get([key, 0]) {
                    self.out.push(tokens[0]);
                    if tokens[1] != NO_RANK {
                        self.out.push(tokens[1]);
                    }
                } else {
                    encode_piece_in(self.vocab, self.text, start, end, self.out, Some(&mut *cache));
                    cache.hot_put([key, 0], &self.out[before..]);
                }
                self.last = self.out.len() - before;
                return;
            }
        }
        encode_piece_in(self.vocab, self.text, start, end, self.out, self.cache.as_deref_mut());
        self.last = self.out.len() - before;
    }

    /// The pieces of a block, in one loop with the hot table while it is in use: [`piece`](Self::piece) of each,
    /// with the checks that do not change within a block (whether there is a cache, whether the hot table is in use)
    /// made once, and its lookups counted once.
    #[allow(clippy::inline_always)] // see `Pieces`
    #[inline(always)]
    fn block(&mut self, start: usize, ends: u64) {
        let Self { vocab, text, out, cache, last, block_keys, .. } = self;
        let Some(cache) = cache.as_deref_mut().filter(|cache| cache.hot_in_use()) else {
            for (start, end) in block_pieces(start, ends) {
                self.piece(start, end);
            }
            return;
        };
        let Some(block_keys) = block_keys.iter().find(|keys| keys.start == start) else {
            // Not told of ahead with the hot table in use: asked for its keys one by one.
            for (start, end) in block_pieces(start, ends) {
                self.piece(start, end);
            }
            return;
        };
        let (mut asked, mut hits, mut tokens_of_last) = (0, 0, 0);
        let mut pieces = block_pieces(start, ends).zip(&block_keys.keys);
        let mut left = ends.count_ones() as usize;
        loop {
            // The pieces that the hot table holds, in a loop that writes their tokens into room made beforehand,
            // up to the first piece that it does not hold (or that is too long for it). Room for two tokens per piece
            // left, no more: the output is made for the text's usual token count, and room for a whole block's worth
            // made it grow on short texts.
            let most = 2 * left;
            out.reserve(most);
            let hot = cache.hot_table();
            let room = &mut out.spare_capacity_mut()[..most];
            let mut written = 0;
            let mut missed = None;
            for ((piece, end), &key) in pieces.by_ref() {
                left -= 1;
                let found = if key[0] == 0 { None } else { hot.get(key) };
                let Some(tokens) = found else {
                    missed = Some((piece, end, key));
                    break;
                };
                // Both values in one store; the second is kept only when it is a token.
                debug_assert!(written + 2 <= room.len());
                // SAFETY: at most two tokens for each piece left when the room was made, so the two values written
                // are in the room.
                unsafe { room.as_mut_ptr().add(written).cast::<[Rank; 2]>().write_unaligned(tokens) };
                tokens_of_last = 1 + usize::from(tokens[1] != NO_RANK);
                written += tokens_of_last;
                hits += 1;
            }
            // SAFETY: the loop wrote the first `written` values of the room after the vector's end.
            unsafe { out.set_len(out.len() + written) };
            let Some((missed_start, missed_end, key)) = missed else { break };
            let before = out.len();
            encode_piece_in(vocab, text, missed_start, missed_end, out, Some(&mut *cache));
            if key[0] != 0 {
                asked += 1;
                cache.hot_put(key, &out[before..]);
            }
            tokens_of_last = out.len() - before;
        }
        asked += hits;
        *last = tokens_of_last;
        cache.count_hot(asked, hits);
    }
}

/// [`Pieces::ahead`] of a piece that is not looked up in the hot table (of more than seven bytes one at a time, more
/// than 15 in a block, or within eight bytes of the text's end): asks for its token slot, and for its set in the cache
/// when it is one that will be merged.
#[allow(clippy::inline_always)] // see `Pieces`
#[inline(always)]
fn ahead_longer(vocab: &Vocab, text: &[u8], cache: Option<&PieceCache>, start: usize, end: usize) {
    let merged = |key| {
        if let Some(cache) = cache {
            cache.prefetch_short(key);
        }
    };
    let longer = |piece: &[u8]| {
        if let Some(cache) = cache {
            cache.prefetch_long(piece);
        }
    };
    vocab.prefetch_rank_of_longer(&text[start..end], merged, longer);
}

/// A token count that English, code and most other text stay under (about 4 bytes per token is typical), so the
/// output rarely grows while encoding.
fn capacity_for(text: &str) -> usize {
    text.len() / 3 + 8
}

/// The last character of `bytes` and its length in bytes, if `bytes` ends with a complete UTF-8 character.
fn last_char_len(bytes: &[u8]) -> Option<(char, usize)> {
    (1..=4.min(bytes.len())).find_map(|len| {
        let text = std::str::from_utf8(&bytes[bytes.len() - len..]).ok()?;
        let mut chars = text.chars();
        let c = chars.next()?;
        chars.next().is_none().then_some((c, len))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn encoder_is_send_and_sync() {
        assert_send_sync::<Encoder>();
        assert_send_sync::<SpecialPolicy>();
    }
}
