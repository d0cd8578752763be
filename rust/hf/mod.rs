//! Hugging Face `tokenizer.json` models with a byte-level BPE: added tokens, normalizers, pre-tokenizers and
//! pair-based merges, giving the ids and character offsets `tokenizers` gives.
//!
//! The pipeline is `tokenizers`' `encode`: added tokens whose `normalized` is false are cut out of the original
//! text first; each remaining part is normalized, and the normalized added tokens are cut out of that; what is left
//! is pre-tokenized into pieces, and each piece's bytes are merged ([`bpe`]). Offsets are kept as original byte
//! ranges and turned into character offsets at the end, with the ByteLevel post-processor's `trim_offsets` applied
//! after that, as `tokenizers` does. The Python side (`python/bytepair/huggingface.py`) reads the JSON, rejects
//! what this module does not implement, and adds the post-processor's special tokens, truncation and padding.

mod bpe;
mod normalize;
mod pattern;
mod pretokenize;

use aho_corasick::{AhoCorasick, MatchKind};
use rustc_hash::FxHashMap;

pub use bpe::PairMerges;
pub use normalize::Normalizer;
pub use pattern::Pattern;
pub use pretokenize::{Behavior, PreTokenizer};

use crate::error::{EncodeError, HfError};
use crate::split::{Splitter, R50K_PATTERN};
use crate::vocab::Rank;
use normalize::Normalized;

/// A token the `tokenizer.json` adds on top of the model's vocab (`added_tokens`).
#[derive(Debug, Clone)]
#[allow(clippy::struct_excessive_bools)] // tokenizer.json's own five flags, named as there
pub struct AddedToken {
    /// The text that encodes to this token.
    pub content: String,
    /// Its id.
    pub id: Rank,
    /// Whether decoding may skip it (`skip_special_tokens`).
    pub special: bool,
    /// Whether it matches only where no word character touches it.
    pub single_word: bool,
    /// Whether it takes the whitespace on its left.
    pub lstrip: bool,
    /// Whether it takes the whitespace on its right.
    pub rstrip: bool,
    /// Whether it is matched in the normalized text instead of the original.
    pub normalized: bool,
}

/// The byte-level alphabet: GPT-2's reversible map from each byte to a printable character.
pub fn byte_chars() -> [char; 256] {
    let mut chars = ['\0'; 256];
    let mut extra = 0u32;
    for (byte, slot) in (0..=255u8).zip(chars.iter_mut()) {
        let printable = matches!(byte, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
        *slot = if printable {
            char::from(byte)
        } else {
            extra += 1;
            char::from_u32(255 + extra).expect("256 + n is a valid char for n < 256")
        };
    }
    chars
}

/// The inverse of [`byte_chars`]: each byte-level character's byte, read from a table (the characters are all
/// below U+0144).
pub struct ByteLevelAlphabet {
    bytes: [Option<u8>; 0x144],
}

impl ByteLevelAlphabet {
    /// The table for GPT-2's alphabet.
    pub fn new() -> Self {
        let mut bytes = [None; 0x144];
        for (byte, c) in (0..=255u8).zip(byte_chars()) {
            bytes[c as usize] = Some(byte);
        }
        Self { bytes }
    }

    /// The bytes of a byte-level token string, or `None` when a character is outside the alphabet.
    pub fn bytes(&self, token: &str) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(token.len());
        for c in token.chars() {
            out.push(self.bytes.get(c as usize).copied().flatten()?);
        }
        Some(out)
    }
}

impl Default for ByteLevelAlphabet {
    fn default() -> Self {
        Self::new()
    }
}

/// One line of a merge list, `"left right"`, as its two tokens; `index` names it in the error.
pub fn split_merge_line(index: usize, line: &str) -> Result<(&str, &str), HfError> {
    line.split_once(' ')
        .filter(|(_, right)| !right.contains(' '))
        .ok_or_else(|| HfError::MalformedMerge { index, merge: line.to_owned() })
}

/// Where added tokens are searched: the automaton and, per pattern, the index of the token in `added`.
#[derive(Debug)]
struct AddedMatcher {
    automaton: AhoCorasick,
    tokens: Vec<usize>,
}

/// A Hugging Face byte-level BPE tokenizer, immutable after construction (safe to share between threads).
#[derive(Debug)]
pub struct HfTokenizer {
    normalizers: Vec<Normalizer>,
    pre_tokenizers: Vec<PreTokenizer>,
    model: PairMerges,
    added: Vec<AddedToken>,
    raw_matcher: Option<AddedMatcher>,
    normalized_matcher: Option<AddedMatcher>,
    /// The ByteLevel (or Roberta) post-processor's `trim_offsets`, and its `add_prefix_space`.
    trim_offsets: Option<bool>,
    /// Bytes of every token id for decoding (`None`: no such id), as the ByteLevel decoder maps them.
    decode_table: Vec<Option<Vec<u8>>>,
    /// Leading and trailing space count of each token's string, for `trim_offsets`.
    spaces: Vec<(u8, u8)>,
    /// Whether each id is a special added token.
    special: Vec<bool>,
}

/// One sequence's tokens and, when asked for, their character offsets in the text.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct HfEncoding {
    /// The token ids.
    pub ids: Vec<Rank>,
    /// `(start, end)` character offsets of each token in the text (empty unless asked for).
    pub offsets: Vec<(u32, u32)>,
}

impl HfTokenizer {
    /// Builds the tokenizer from the parts of a `tokenizer.json`: the model's vocab (byte-level strings), its
    /// merges in priority order, `ignore_merges`, the normalizers, the pre-tokenizers, the added tokens, and the
    /// post-processor's `(trim_offsets, add_prefix_space)` when it trims offsets.
    #[allow(clippy::too_many_arguments)] // one argument per tokenizer.json section; a config struct would only rename them
    pub fn new(
        vocab: &[(String, Rank)],
        merges: &[(&str, &str)],
        ignore_merges: bool,
        normalizers: Vec<Normalizer>,
        pre_tokenizers: Vec<PreTokenizer>,
        added: Vec<AddedToken>,
        trim_offsets: Option<bool>,
    ) -> Result<Self, HfError> {
        let alphabet = ByteLevelAlphabet::new();
        let mut ids: FxHashMap<&str, Rank> = FxHashMap::default();
        let mut tokens: FxHashMap<Vec<u8>, Rank> = FxHashMap::default();
        let max_id = vocab.iter().map(|&(_, id)| id).chain(added.iter().map(|token| token.id)).max().unwrap_or(0);
        let table_len = usize::try_from(max_id).expect("u32 fits usize") + 1;
        let mut decode_table: Vec<Option<Vec<u8>>> = vec![None; table_len];
        let mut spaces = vec![(0u8, 0u8); table_len];
        for (token, id) in vocab {
            ids.insert(token.as_str(), *id);
            let slot = usize::try_from(*id).expect("u32 fits usize");
            spaces[slot] = space_counts(token.chars());
            if let Some(bytes) = alphabet.bytes(token) {
                tokens.insert(bytes.clone(), *id);
                decode_table[slot] = Some(bytes);
            } else {
                decode_table[slot] = Some(token.as_bytes().to_vec());
            }
        }
        let mut merge_ids = Vec::with_capacity(merges.len());
        let mut joined = String::new();
        for (line, &(left, right)) in merges.iter().enumerate() {
            let find = |token: &str| {
                ids.get(token).copied().ok_or_else(|| HfError::MergeOutOfVocab {
                    index: line,
                    merge: format!("{left} {right}"),
                    token: token.to_owned(),
                })
            };
            joined.clear();
            joined.push_str(left);
            joined.push_str(right);
            merge_ids.push((find(left)?, find(right)?, find(&joined)?));
        }
        let model = PairMerges::new(&tokens, merge_ids, ignore_merges);
        let mut special = vec![false; table_len];
        for token in &added {
            if token.content.is_empty() {
                return Err(HfError::EmptyAddedToken { id: token.id });
            }
            let slot = usize::try_from(token.id).expect("u32 fits usize");
            // The ByteLevel decoder maps an added token's characters like any token's, unless one is outside the
            // byte-level alphabet; then the token's own UTF-8 is used. A `normalized` token decodes to its
            // normalized form, as `tokenizers` gives it back.
            let content = if token.normalized {
                normalize_with(&normalizers, &token.content).map_err(|err| HfError::Normalizer(err.to_string()))?
            } else {
                token.content.clone()
            };
            decode_table[slot] = Some(alphabet.bytes(&content).unwrap_or_else(|| content.as_bytes().to_vec()));
            spaces[slot] = space_counts(token.content.chars());
            special[slot] = token.special;
        }
        let mut this = Self {
            normalizers,
            pre_tokenizers,
            model,
            added,
            raw_matcher: None,
            normalized_matcher: None,
            trim_offsets,
            decode_table,
            spaces,
            special,
        };
        this.raw_matcher = this.matcher(false)?;
        this.normalized_matcher = this.matcher(true)?;
        Ok(this)
    }

    /// The automaton over the added tokens with this `normalized` flag, special tokens first (`tokenizers`' order);
    /// normalized ones are searched for in their normalized form.
    fn matcher(&self, normalized: bool) -> Result<Option<AddedMatcher>, HfError> {
        let mut patterns = Vec::new();
        let mut tokens = Vec::new();
        let order = self
            .added
            .iter()
            .enumerate()
            .filter(|(_, token)| token.special)
            .chain(self.added.iter().enumerate().filter(|(_, token)| !token.special));
        for (index, token) in order.filter(|(_, token)| token.normalized == normalized) {
            let content = if normalized {
                normalize_with(&self.normalizers, &token.content).map_err(|err| HfError::Normalizer(err.to_string()))?
            } else {
                token.content.clone()
            };
            patterns.push(content);
            tokens.push(index);
        }
        if patterns.is_empty() {
            return Ok(None);
        }
        let automaton = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&patterns)
            .map_err(|err| HfError::Normalizer(err.to_string()))?;
        Ok(Some(AddedMatcher { automaton, tokens }))
    }

    /// The ByteLevel pre-tokenizer's regex (GPT-2's pattern) as a split step.
    pub fn byte_level_split() -> PreTokenizer {
        // HF's ByteLevel regex is the original GPT-2 pattern; R50K_PATTERN is its possessive twin, which splits
        // identically (`split::tests::gpt2_original_pattern_splits_like_r50k`) and runs on the fast scanner.
        let splitter = Splitter::new(R50K_PATTERN).expect("the bundled pattern compiles");
        PreTokenizer::Split { pattern: Pattern::splitter(splitter), behavior: Behavior::Isolated, invert: false }
    }

    /// Whether every split pattern runs in linear time.
    pub fn is_linear(&self) -> bool {
        self.pre_tokenizers.iter().all(|step| match step {
            PreTokenizer::Split { pattern, .. } => pattern.is_linear(),
            PreTokenizer::PrefixSpace => true,
        })
    }

    // ==== Encoding ====

    /// `text` after the normalizers.
    pub fn normalize(&self, text: &str) -> Result<String, EncodeError> {
        normalize_with(&self.normalizers, text)
    }

    /// Encodes one text; offsets are computed only when `with_offsets`.
    pub fn encode(&self, text: &str, with_offsets: bool) -> Result<HfEncoding, EncodeError> {
        let mut ids = Vec::new();
        let mut byte_offsets: Vec<(usize, usize)> = Vec::new();
        let mut pieces = Vec::new();
        let mut symbols = Vec::new();
        let mut raw = Vec::new();
        split_added(self.raw_matcher.as_ref(), &self.added, text, &mut raw);
        let mut parts = Vec::new();
        let direct = if with_offsets { None } else { self.direct_splitter() };
        for (start, end, added) in raw {
            if let Some(index) = added {
                ids.push(self.added[index].id);
                byte_offsets.push((start, end));
                continue;
            }
            let segment = &text[start..end];
            if let Some(splitter) = direct.filter(|_| self.normalizers.iter().all(|n| n.surely_leaves(segment))) {
                // The usual pipeline (one Split on a bytepair scanner, normalizers with nothing to do here, no
                // offsets): pieces go straight from the scanner to the merge, with no intermediate lists.
                split_added(self.normalized_matcher.as_ref(), &self.added, segment, &mut parts);
                for &(from, to, added) in &parts {
                    if let Some(index) = added {
                        ids.push(self.added[index].id);
                        continue;
                    }
                    let part = &segment[from..to];
                    self.model.merge_pieces(
                        part.as_bytes(),
                        |on_piece| splitter.for_each_piece(part, on_piece),
                        &mut ids,
                    )?;
                }
                continue;
            }
            let mut normalized = Normalized::identity(segment, start);
            for normalizer in &self.normalizers {
                normalized.apply(normalizer)?;
            }
            split_added(self.normalized_matcher.as_ref(), &self.added, &normalized.text, &mut parts);
            for &(from, to, added) in &parts {
                if let Some(index) = added {
                    ids.push(self.added[index].id);
                    byte_offsets.push(normalized.original_range(from, to));
                    continue;
                }
                let mut part = normalized.slice(from, to);
                pretokenize::pre_tokenize(&self.pre_tokenizers, &mut part, &mut pieces)?;
                for &(piece_start, piece_end) in &pieces {
                    symbols.clear();
                    self.model.merge_piece(&part.text.as_bytes()[piece_start..piece_end], &mut symbols);
                    for symbol in &symbols {
                        ids.push(symbol.token);
                        if with_offsets {
                            byte_offsets
                                .push(part.original_range(piece_start + symbol.start, piece_start + symbol.end));
                        }
                    }
                }
            }
        }
        let offsets = if with_offsets { self.char_offsets(text, &ids, &byte_offsets) } else { Vec::new() };
        Ok(HfEncoding { ids, offsets })
    }

    /// The scanner that alone cuts normalized text into pieces: the pre-tokenizer is one `Split` that isolates the
    /// matches of a pattern bytepair scans by hand (whose matches cover the text, so there are no gaps to keep).
    fn direct_splitter(&self) -> Option<&Splitter> {
        match self.pre_tokenizers.as_slice() {
            [PreTokenizer::Split { pattern, behavior: Behavior::Isolated, invert: false }] => pattern.as_splitter(),
            _ => None,
        }
    }

    /// Original byte ranges to character offsets (`tokenizers`' `BytesToCharOffsetConverter`), then
    /// `trim_offsets`.
    fn char_offsets(&self, text: &str, ids: &[Rank], byte_offsets: &[(usize, usize)]) -> Vec<(u32, u32)> {
        let mut char_of_byte: Vec<u32> = Vec::with_capacity(text.len());
        for (index, c) in (0u32..).zip(text.chars()) {
            char_of_byte.extend(std::iter::repeat(index).take(c.len_utf8()));
        }
        let to_u32 = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        let mut offsets: Vec<(u32, u32)> = byte_offsets
            .iter()
            .map(|&(start, end)| match (char_of_byte.get(start), char_of_byte.get(end)) {
                (Some(&start), Some(&end)) => (start, end),
                (Some(&start), None) => {
                    let last = end.checked_sub(1).and_then(|byte| char_of_byte.get(byte).copied()).unwrap_or(start + 1);
                    (start, last + 1)
                }
                _ => (to_u32(start), to_u32(end)),
            })
            .collect();
        if let Some(add_prefix_space) = self.trim_offsets {
            for (index, (offset, &id)) in offsets.iter_mut().zip(ids).enumerate() {
                let (leading, trailing) =
                    self.spaces.get(usize::try_from(id).expect("u32 fits usize")).copied().unwrap_or((0, 0));
                let mut leading = u32::from(leading);
                let trailing = u32::from(trailing);
                if leading > 0 {
                    let is_first = index == 0 || offset.0 == 0;
                    if is_first && add_prefix_space && leading == 1 {
                        leading = 0;
                    }
                    offset.0 = (offset.0 + leading).min(offset.1);
                }
                if trailing > 0 && offset.1 >= trailing {
                    offset.1 = (offset.1 - trailing).max(offset.0);
                }
            }
        }
        offsets
    }

    // ==== Decoding ====

    /// The bytes of `tokens` as the ByteLevel decoder gives them; unknown ids are skipped, as in `tokenizers`.
    pub fn decode_bytes(&self, tokens: &[Rank], skip_special_tokens: bool) -> Vec<u8> {
        let mut out = Vec::new();
        for &token in tokens {
            let Ok(slot) = usize::try_from(token) else { continue };
            if skip_special_tokens && self.special.get(slot).copied().unwrap_or(false) {
                continue;
            }
            if let Some(Some(bytes)) = self.decode_table.get(slot) {
                out.extend_from_slice(bytes);
            }
        }
        out
    }

    /// The bytes of one token, if the id exists.
    pub fn token_bytes(&self, token: Rank) -> Option<&[u8]> {
        self.decode_table.get(usize::try_from(token).ok()?)?.as_deref()
    }
}

impl Normalizer {
    /// A normalizer from its name and arguments: `nfc`, `nfkc`, `lowercase`, `prepend(text)`,
    /// `replace_string(pattern, content)`, `replace_regex(pattern, content)`.
    pub fn from_parts(kind: &str, first: &str, second: &str) -> Result<Self, HfError> {
        Ok(match kind {
            "nfc" => Self::Nfc,
            "nfkc" => Self::Nfkc,
            "lowercase" => Self::Lowercase,
            "prepend" => Self::Prepend(first.to_owned()),
            "replace_string" => Self::Replace(Pattern::literal(first), second.to_owned()),
            "replace_regex" => Self::Replace(compile(first)?, second.to_owned()),
            _ => return Err(HfError::Unsupported { what: "normalizer", name: kind.to_owned() }),
        })
    }
}

impl PreTokenizer {
    /// A pre-tokenizer step from its name and arguments: `split_regex`/`split_string` (pattern, behavior,
    /// invert), `digits` (behavior `isolated` for `individual_digits`, else `contiguous`), `byte_level_regex`
    /// (GPT-2's split) and `prefix_space`. Behaviors are `tokenizers`' names in lower case.
    pub fn from_parts(kind: &str, pattern: &str, behavior: &str, invert: bool) -> Result<Self, HfError> {
        let behavior = match behavior {
            "removed" => Behavior::Removed,
            "isolated" => Behavior::Isolated,
            "merged_with_previous" => Behavior::MergedWithPrevious,
            "merged_with_next" => Behavior::MergedWithNext,
            "contiguous" => Behavior::Contiguous,
            _ => return Err(HfError::Unsupported { what: "split behavior", name: behavior.to_owned() }),
        };
        let pattern = match kind {
            "split_regex" => compile(pattern)?,
            "split_string" => Pattern::literal(pattern),
            "digits" => Pattern::numeric(),
            "byte_level_regex" => return Ok(HfTokenizer::byte_level_split()),
            "prefix_space" => return Ok(Self::PrefixSpace),
            _ => return Err(HfError::Unsupported { what: "pre-tokenizer", name: kind.to_owned() }),
        };
        Ok(Self::Split { pattern, behavior, invert })
    }
}

fn compile(pattern: &str) -> Result<Pattern, HfError> {
    Pattern::regex(pattern).map_err(|message| HfError::Pattern { pattern: pattern.to_owned(), message })
}

/// A batch's encodings as flat little-endian buffers: every token id (`u32`), each encoding's token count
/// (`u64`), and every offset as a `u32` pair (empty when the encodings have none).
pub fn flatten_encodings(encodings: &[HfEncoding]) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let total: usize = encodings.iter().map(|encoding| encoding.ids.len()).sum();
    let mut tokens = Vec::with_capacity(total * 4);
    let mut lengths = Vec::with_capacity(encodings.len() * 8);
    let mut offsets = Vec::new();
    for encoding in encodings {
        tokens.extend(encoding.ids.iter().flat_map(|id| id.to_le_bytes()));
        lengths.extend_from_slice(&(encoding.ids.len() as u64).to_le_bytes());
        offsets.extend(encoding.offsets.iter().flat_map(|&(start, end)| [start, end]).flat_map(u32::to_le_bytes));
    }
    (tokens, lengths, offsets)
}

fn normalize_with(normalizers: &[Normalizer], text: &str) -> Result<String, EncodeError> {
    let mut normalized = Normalized::identity(text, 0);
    for normalizer in normalizers {
        normalized.apply(normalizer)?;
    }
    Ok(normalized.text.into_owned())
}

/// Leading and trailing counts of spaces in a token's string, capped at 255: `Ġ` (the byte-level space) or
/// whitespace, as `tokenizers`' `process_offsets` counts them. Byte-level characters for other white-space bytes
/// (`Ċ` for a newline) are not whitespace themselves, so only spaces are trimmed from ordinary tokens.
fn space_counts(chars: impl DoubleEndedIterator<Item = char> + Clone) -> (u8, u8) {
    let is_space = |c: &char| *c == '\u{120}' || c.is_whitespace();
    let cap = |n: usize| u8::try_from(n).unwrap_or(u8::MAX);
    (cap(chars.clone().take_while(is_space).count()), cap(chars.rev().take_while(is_space).count()))
}

/// Splits `text` into `(start, end, added token index)` parts covering it, as `AddedVocabulary::find_matches`:
/// leftmost-longest matches, `single_word` matches only between non-word characters, `lstrip`/`rstrip` take the
/// whitespace beside the match.
fn split_added(
    matcher: Option<&AddedMatcher>,
    added: &[AddedToken],
    text: &str,
    out: &mut Vec<(usize, usize, Option<usize>)>,
) {
    // `tokenizers` tests `\w` with the `regex` crate; the same class here, compiled once per process.
    static WORD: std::sync::OnceLock<regex_automata::meta::Regex> = std::sync::OnceLock::new();
    let word = WORD.get_or_init(|| regex_automata::meta::Regex::new(r"^\w").expect("a fixed, valid regex"));
    out.clear();
    let Some(matcher) = matcher else {
        out.push((0, text.len(), None));
        return;
    };
    let is_word = |c: char| word.is_match(&*c.encode_utf8(&mut [0; 4]));
    let mut covered = 0;
    for found in matcher.automaton.find_iter(text) {
        let index = matcher.tokens[found.pattern().as_usize()];
        let token = &added[index];
        let (mut start, mut end) = (found.start(), found.end());
        if token.single_word {
            let word_before = text[..start].chars().next_back().is_some_and(is_word);
            let word_after = text[end..].chars().next().is_some_and(is_word);
            if word_before || word_after {
                continue;
            }
        }
        if token.lstrip {
            let stripped = text[..start].trim_end_matches(char::is_whitespace).len();
            start = stripped.max(covered);
        }
        if token.rstrip {
            end = text.len() - text[end..].trim_start_matches(char::is_whitespace).len();
        }
        if covered < start {
            out.push((covered, start, None));
        }
        out.push((start, end, Some(index)));
        covered = end;
    }
    if covered < text.len() || out.is_empty() {
        out.push((covered, text.len(), None));
    }
}
