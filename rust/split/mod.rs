//! Pre-tokenization: cut text into pieces with the encoding's split pattern.
//!
//! Three engines, one behaviour. The patterns of the bundled encodings run on hand-written scanners (`r50k.rs`,
//! `cl100k.rs`, `o200k.rs`), which read each character's classes from one table built from the pinned Unicode data
//! (`classes.rs`); on ASCII text, they run 64 bytes at a time from bitmasks (`blocks.rs`). Any other pattern runs on a
//! regex engine (`regex.rs`): a linear-time automaton for patterns whose rewrite is known, fancy-regex (tiktoken's
//! engine) for the rest. The tests below and `tests/test_split.py` check the scanners against both regex engines;
//! `tests/test_unicode.py` checks every code point against tiktoken.

mod blocks;
mod cl100k;
mod classes;
mod cursor;
mod o200k;
mod r50k;
mod regex;

use crate::error::{EncodeError, VocabError};
pub use blocks::BLOCK;
use classes::Classes;
#[cfg(test)]
use cursor::Cursor;
use regex::RegexSplitter;

/// Split pattern of r50k_base, p50k_base, p50k_edit and gpt2 (tiktoken_ext/openai_public.py).
pub const R50K_PATTERN: &str = r"'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s";

/// The pattern of the original GPT-2 release, which tiktoken replaced by the equivalent [`R50K_PATTERN`].
pub const GPT2_ORIGINAL_PATTERN: &str = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

/// Split pattern of cl100k_base.
pub const CL100K_PATTERN: &str = r"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s";

/// cl100k_base's pattern with one digit per piece instead of up to three: Qwen2's Split pre-tokenizer (which spells
/// it without possessive quantifiers, as [`crate::hf`] maps it) and other Hugging Face models.
pub const QWEN2_PATTERN: &str =
    r"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s";

/// Split pattern of o200k_base and o200k_harmony.
pub const O200K_PATTERN: &str = concat!(
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    r"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    r"|\p{N}{1,3}",
    r"| ?[^\s\p{L}\p{N}]+[\r\n/]*",
    r"|\s*[\r\n]+",
    r"|\s+(?!\S)",
    r"|\s+",
);

/// A hand-written scanner for one of the bundled patterns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scanner {
    /// [`R50K_PATTERN`].
    R50k,
    /// [`CL100K_PATTERN`].
    Cl100k,
    /// [`O200K_PATTERN`].
    O200k,
    /// [`QWEN2_PATTERN`].
    Qwen2,
}

/// Cuts text into pieces by a split pattern.
#[derive(Debug)]
pub enum Splitter {
    /// A bundled pattern, scanned by hand.
    Scanner(Scanner),
    /// Any other pattern.
    Regex(RegexSplitter),
}

impl Splitter {
    /// Compiles `pattern`: a scanner for the bundled patterns, else the best regex engine for it.
    pub fn new(pattern: &str) -> Result<Self, VocabError> {
        Ok(match pattern {
            R50K_PATTERN => Self::Scanner(Scanner::R50k),
            CL100K_PATTERN => Self::Scanner(Scanner::Cl100k),
            O200K_PATTERN => Self::Scanner(Scanner::O200k),
            QWEN2_PATTERN => Self::Scanner(Scanner::Qwen2),
            _ => Self::Regex(RegexSplitter::new(pattern)?),
        })
    }

    /// Whether this splitter runs in linear time on any input (true for the bundled patterns).
    pub fn is_linear(&self) -> bool {
        match self {
            Self::Scanner(_) => true,
            Self::Regex(regex) => regex.is_linear(),
        }
    }

    /// Calls `on_piece` with the byte range of each piece of `text`, in order.
    ///
    /// Text between pieces (which a pattern that does not cover every character leaves) is dropped, as in tiktoken.
    #[inline]
    pub fn for_each_piece(&self, text: &str, mut on_piece: impl FnMut(usize, usize)) -> Result<(), EncodeError> {
        self.split(text, &mut on_piece)
    }

    /// Hands each piece of `text` to `pieces`, in order, telling it of some of them ahead (see [`Pieces`]).
    ///
    /// Always inlined, so that each scanner's loop is compiled together with the caller's work on a piece: left to
    /// the compiler, it stayed out of line once the encoder's `ahead` also prefetched long pieces (callgrind, 1 MB of
    /// code in documents, o200k_base, `encode_to_numpy`: 43.5 M instructions against 41.9 M inlined, and 41.6 M
    /// before).
    #[allow(clippy::inline_always)] // measured: see above
    #[inline(always)]
    #[allow(clippy::redundant_closure)] // closures, not function items: see `blocks::scan`
    pub fn split(&self, text: &str, pieces: &mut impl Pieces) -> Result<(), EncodeError> {
        match self {
            Self::Regex(regex) => return regex.for_each_piece(text, |start, end| pieces.piece(start, end)),
            Self::Scanner(Scanner::R50k) => {
                let starts = |block: &_| blocks::r50k_starts(block);
                blocks::scan::<{ blocks::OPEN_ON_ASCII }>(
                    text,
                    starts,
                    |text, start| r50k::piece_end(text, start),
                    pieces,
                );
            }
            Self::Scanner(Scanner::Cl100k) => {
                let classes = Classes::get();
                let starts = |block: &_| blocks::cl100k_starts::<3>(block, classes);
                blocks::scan::<{ blocks::OPEN_BELOW_U3000 }>(
                    text,
                    starts,
                    |text, start| cl100k::piece_end(text, start),
                    pieces,
                );
            }
            Self::Scanner(Scanner::O200k) => {
                let classes = Classes::get();
                let starts = |block: &_| blocks::o200k_starts(block, classes);
                blocks::scan::<{ blocks::OPEN_CASED }>(
                    text,
                    starts,
                    |text, start| o200k::piece_end(text, start),
                    pieces,
                );
            }
            Self::Scanner(Scanner::Qwen2) => {
                let classes = Classes::get();
                let starts = |block: &_| blocks::cl100k_starts::<1>(block, classes);
                blocks::scan::<{ blocks::OPEN_BELOW_U3000 }>(
                    text,
                    starts,
                    |text, start| cl100k::piece_end_single_digit(text, start),
                    pieces,
                );
            }
        }
        Ok(())
    }
}

/// What a split hands its pieces to, each as the byte range of the text it covers.
///
/// A trait rather than closures, so that the encoder can mark its work on a piece `#[inline(always)]`: a closure's
/// body is inlined into the scanners' loops or not as the compiler's budget goes, and small changes to it (a lookup
/// written another way, one more prefetch) moved it out of line (callgrind, 1 MB of English in documents,
/// cl100k_base, `encode_to_numpy`: the lookup of [`crate::merge::encode_piece_in`] in the encoder's closure took 38.3
/// M instructions to 45.7 M, the closure called per piece; as `Pieces`, 39.3 M). Any `FnMut(usize, usize)` is one,
/// told of nothing ahead.
pub trait Pieces {
    /// Told of a piece that [`piece`](Self::piece) will get later (some of the pieces, in order), so that it can ask
    /// the memory early for what it will read for it.
    #[inline(always)]
    #[allow(clippy::inline_always)] // nothing to inline
    fn ahead(&mut self, start: usize, end: usize) {
        let _ = (start, end);
    }

    /// The next piece.
    fn piece(&mut self, start: usize, end: usize);

    /// Told of the pieces of a block ahead, as [`ahead`](Self::ahead) of each: the first starts at `start`, and bit
    /// `i` of `ends` is set where one ends at `start + i`.
    #[inline(always)]
    #[allow(clippy::inline_always)] // see `piece`
    fn ahead_block(&mut self, start: usize, ends: u64) {
        for (start, end) in block_pieces(start, ends) {
            self.ahead(start, end);
        }
    }

    /// The next pieces, those of a block, as [`piece`](Self::piece) of each: the first starts at `start`, and bit
    /// `i` of `ends` is set where one ends at `start + i`.
    #[inline(always)]
    #[allow(clippy::inline_always)] // see `piece`
    fn block(&mut self, start: usize, ends: u64) {
        for (start, end) in block_pieces(start, ends) {
            self.piece(start, end);
        }
    }
}

/// The byte ranges of a block's pieces, in order: the first starts at `start`, and bit `i` of `ends` is set where one
/// ends at `start + i`. An iterator for a plain loop: a closure called per piece stayed out of line (callgrind, 1 MiB
/// of random letters with o200k_base, where the encoder's hot table is skipped: 29 M instructions in the closure).
#[inline]
pub fn block_pieces(start: usize, ends: u64) -> impl Iterator<Item = (usize, usize)> {
    let mut piece = start;
    let mut ends = ends;
    std::iter::from_fn(move || {
        if ends == 0 {
            return None;
        }
        let end = start + ends.trailing_zeros() as usize;
        ends &= ends - 1;
        let range = (piece, end);
        piece = end;
        Some(range)
    })
}

impl<F: FnMut(usize, usize)> Pieces for F {
    #[inline]
    fn piece(&mut self, start: usize, end: usize) {
        self(start, end);
    }
}

/// Calls `on_piece` with each piece that `piece_end` cuts, a piece at a time: the scanners alone, the reference the
/// blocks of `blocks.rs` are tested against.
#[cfg(test)]
fn scan(text: &str, piece_end: impl Fn(&Cursor<'_>, usize) -> usize, mut on_piece: impl FnMut(usize, usize)) {
    let cursor = Cursor::new(text);
    let mut start = 0;
    while start < text.len() {
        let end = piece_end(&cursor, start);
        on_piece(start, end);
        start = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(splitter: &Splitter, text: &str) -> Vec<String> {
        let mut out = Vec::new();
        splitter.for_each_piece(text, |start, end| out.push(text[start..end].to_string())).expect("splits");
        out
    }

    /// Characters from every class the patterns distinguish, and the ones they name.
    const ALPHABET: &[char] = &[
        'a', 'b', 's', 'S', 't', 'l', 'L', 'v', 'e', 'E', 'r', 'd', 'm', 'A', 'Z', '\u{17F}', '\u{212A}', 'é', 'É',
        'ǅ', 'ʰ', '中', 'ا', '\u{301}', '\u{93F}', '0', '7', '٣', '½', 'Ⅻ', ' ', ' ', ' ', '\t', '\n', '\r', '\u{a0}',
        '\u{3000}', '\u{2028}', '\u{b}', '\u{c}', '\u{85}', '\'', '\'', '!', '.', '/', '-', '(', '😀', '\u{200d}',
        '\u{fe0f}', '\u{e000}',
    ];

    /// The classes past U+FFFF, whose flags come from a table of their own: upper- and lower-case and other letters,
    /// digits, a spacing mark, an emoji modifier.
    const PAST_PLANE0: &[char] =
        &['\u{10400}', '\u{1D41A}', '\u{20000}', '\u{1D7CE}', '\u{104A0}', '\u{1D165}', '\u{1F3FB}'];

    fn generated_texts() -> Vec<String> {
        let mut next = crate::testing::xorshift(0x9E37_79B9);
        let alphabet: Vec<char> = ALPHABET.iter().chain(PAST_PLANE0).copied().collect();
        (0..20_000)
            .map(|_| {
                let len = next() % 40;
                (0..len).map(|_| alphabet[next() % alphabet.len()]).collect()
            })
            .collect()
    }

    #[test]
    fn scanners_agree_with_both_regex_engines() {
        let texts = generated_texts();
        for pattern in [R50K_PATTERN, CL100K_PATTERN, O200K_PATTERN, QWEN2_PATTERN] {
            let scanner = Splitter::new(pattern).expect("bundled");
            assert!(matches!(scanner, Splitter::Scanner(_)));
            let automaton = Splitter::Regex(RegexSplitter::new(pattern).expect("compiles"));
            let backtracking = Splitter::Regex(RegexSplitter::backtracking(pattern).expect("compiles"));
            for text in &texts {
                let expected = pieces(&backtracking, text);
                assert_eq!(pieces(&automaton, text), expected, "automaton, pattern {pattern:?}, text {text:?}");
                assert_eq!(pieces(&scanner, text), expected, "scanner, pattern {pattern:?}, text {text:?}");
            }
        }
    }

    #[test]
    fn gpt2_original_pattern_splits_like_r50k() {
        let original = Splitter::new(GPT2_ORIGINAL_PATTERN).expect("compiles");
        let r50k = Splitter::new(R50K_PATTERN).expect("compiles");
        for text in generated_texts() {
            assert_eq!(pieces(&original, &text), pieces(&r50k, &text), "text {text:?}");
        }
    }

    #[test]
    fn scanners_split_long_runs() {
        for pattern in [R50K_PATTERN, CL100K_PATTERN, O200K_PATTERN, QWEN2_PATTERN] {
            let scanner = Splitter::new(pattern).expect("bundled");
            let text = " ".repeat(1 << 20) + "x";
            assert_eq!(pieces(&scanner, &text).len(), 2);
            assert_eq!(pieces(&scanner, &"a".repeat(1 << 20)).len(), 1);
        }
    }
}
