//! The bundled split patterns (r50k_base's, cl100k_base's, o200k_base's, Qwen2's) on 64 bytes of ASCII at a time: the
//! piece starts of a block computed from bitmasks of its bytes' classes, instead of a branch per piece.
//!
//! The scanners of `r50k.rs`, `cl100k.rs` and `o200k.rs` decide each piece from its first bytes, through a chain of
//! branches per piece (measured before: with the pieces cut beforehand, encoding English with cl100k_base ran at 161
//! MB/s instead of 114). Here each class of the block's bytes (letter, digit, white space, ...) is one 64-bit mask
//! (SSE2 compares, baseline on x86-64), and the pattern's alternatives become a few shifts and ands over them, giving
//! every piece start of the block at once; the pieces are then cut at the set bits.
//!
//! # The patterns on ASCII text
//!
//! On ASCII, `\p{L}` is `[A-Za-z]` (o200k_base's upper-case side `[A-Z]`, its lower-case side `[a-z]`), `\p{N}` is
//! `[0-9]` and `\s` is `[\t\n\x0B\x0C\r ]` (the tests check the masks against the class table). Call a maximal run of
//! letters, digits, white space or other characters (punctuation, `'` included) a run. From a position where a piece
//! starts, the patterns of cl100k_base and o200k_base cut (r50k_base's has fewer rules: see [`r50k_starts`]):
//! - one punctuation or non-line-break space character followed by letters: it and the letters (the prefix);
//! - digits in groups of three from the start of their run;
//! - a punctuation run, with the space before it when there is one, and the line breaks right after it (o200k_base:
//!   the run of line breaks and `/` that begins right after it with a line break);
//! - in a run of white space: up to its last line break (`\s*[\r\n]`), then all but the last character of the rest,
//!   whose last character starts the next piece (`\s+(?!\S)`: it may be a prefix, or ` ` before punctuation).
//!
//! cl100k_base's letters are a letter run, but a contraction (`'` then `s`, `d`, `m`, `t`, `ll`, `ve` or `re`, in
//! any case) where a piece starts is a piece of its own, even when the letters go on. o200k_base's letters are a
//! word: upper-case letters then lower-case ones (a new word starts at an upper-case letter after a lower-case one),
//! with `'s`, `'t`, `'re`, `'ve`, `'m`, `'ll` or `'d` (any case) right after it taken into the word.
//!
//! A piece starts where its text starts, so the starts from a known start on follow from the text after it alone:
//! each block begins at a piece start. Bits whose rule reads bytes the block does not have (the last one or two,
//! anything from the first non-ASCII byte on) are left out: the block keeps the pieces that end before them, and the
//! next block begins at the last start it found.
//!
//! # Beyond ASCII
//!
//! cl100k_base's rules hold for characters of two and three bytes too, once each byte of a letter is a letter and
//! each byte of any other character that is not a number or white space is punctuation: a run of such characters is
//! a run of their bytes, and only the prefix before letters (one character) needs its last byte found, which the
//! bytes after a character's first tell ([`classify_wide`]). So its blocks go on past such characters, to the first
//! number, white space or character of four bytes that is not ASCII. Measured with callgrind (`encode_to_numpy`,
//! one ~4 KiB document at a time, a warm pass, cl100k_base): multilingual text 286.3 -> 251.3 M instructions
//! (gigatoken's whole pass: 255.3 M); of its lines by script, Cyrillic 87.4 -> 65.7 M (mispredicted branches 719 ->
//! 396 K), Latin with accents 15.9 -> 12.3 M, Indic 20.2 -> 14.1 M, Japanese 27.2 -> 26.8 M, Chinese 64.3 -> 61.8 M;
//! English and code unchanged.
//!
//! o200k_base's rules hold likewise for letters on one side of its words alone (upper case: `\p{Lu}`, `\p{Lt}`;
//! lower case: `\p{Ll}`), their bytes in the upper-case mask or not, and for characters on neither side; its blocks
//! stop at a letter on both sides (`\p{Lo}`, `\p{Lm}`: Hebrew, Arabic, the scripts of India, CJK) and at a mark
//! (`\p{M}`, on both sides though no letter). Callgrind as above, o200k_base: Cyrillic 89.9 -> 63.4 M, Latin with
//! accents 17.1 -> 13.0 M, other scripts 7.2 -> 5.7 M, Indic 7.8 -> 7.4 M, Japanese 28.1 -> 28.6 M, Chinese 65.6 ->
//! 65.9 M. r50k_base's pattern stays ASCII-only.
//!
//! Measured with the Rust harness (this 2-core machine, 3 MB in 4 KiB documents, warm, best of 12 to 20 process
//! runs, since runs of one binary differ by up to 50% here), cl100k_base: English 204 -> 254 MB/s, code 182 -> 244,
//! multilingual 40.8 -> 40.5 (a block gives way to the scanner at the first byte that is not ASCII), random
//! letters and one 1 MiB run of digits within noise; o200k_base: English 168 -> 205, code 160 -> 220, multilingual
//! 33.2 -> 32.5. Most of what is left is the pieces' lookups. Each pattern computes only the masks it reads
//! (o200k_base's cases and `/`): with all of them, cl100k_base took 4% more instructions on English (callgrind).
//! r50k_base: English 195 -> 207, code 158 -> 187, multilingual level (52.3 -> 53.3) once a block that cuts nothing
//! leaves the scanner the text up to its last non-ASCII byte (before that, a wasted block per piece of mostly
//! non-ASCII text took 8% more instructions there, and 6% with cl100k_base).

use super::classes::{Classes, FOLDS_TO_ASCII, LETTER, LOWER, NUMBER, SPACE, UPPER};
use super::cursor::{splat, Cursor, HIGH_BITS};
use super::Pieces;
#[cfg(doc)]
use crate::vocab::Vocab;

/// Bytes per block.
pub const BLOCK: usize = 64;

/// The classes of a block's bytes, one bit per byte (bit `i` for byte `i`); bytes the masks do not classify (those
/// of characters that are not ASCII, unless [`classify_wide`] classified them) are in `non_ascii` alone.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Masks {
    /// The bytes the other masks leave out: those from 0x80 up, less the characters [`classify_wide`] classified.
    non_ascii: u64,
    /// The bytes after the first of each character [`classify_wide`] classified.
    continuation: u64,
    /// `[A-Za-z]`.
    letter: u64,
    /// `[A-Z]`, where `CASES` asks for it (o200k_base's pattern), else none.
    upper: u64,
    /// `[0-9]`.
    digit: u64,
    /// `\s`: tab, line feed, vertical tab, form feed, carriage return, space.
    space: u64,
    /// `[\r\n]`.
    line_break: u64,
    /// ` `.
    blank: u64,
    /// `'`.
    apostrophe: u64,
    /// `/`, where `CASES` asks for it, else none.
    slash: u64,
}

impl Masks {
    /// `[a-z]`, where `CASES` asked for the upper-case letters.
    fn lower(&self) -> u64 {
        self.letter & !self.upper
    }
}

/// The masks of `block`, with the upper-case letters and `/` when `CASES`.
#[cfg(target_arch = "x86_64")]
#[inline]
#[allow(clippy::cast_possible_wrap, clippy::cast_sign_loss, clippy::cast_possible_truncation)] // see `bits`
fn masks<const CASES: bool>(block: &[u8; BLOCK]) -> Masks {
    use std::arch::x86_64::{
        __m128i, _mm_and_si128, _mm_cmpeq_epi8, _mm_cmpgt_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8,
    };
    // SAFETY: SSE2 is part of every x86-64 CPU (the target enables it), and each load reads 16 bytes of the
    // block, with no alignment required.
    unsafe {
        let splat = |byte: u8| _mm_set1_epi8(byte as i8);
        // Lanes compare as signed bytes: every non-ASCII byte is negative, below every bound here.
        let between = |v: __m128i, low: u8, high: u8| {
            _mm_and_si128(_mm_cmpgt_epi8(v, splat(low - 1)), _mm_cmpgt_epi8(splat(high + 1), v))
        };
        // Bytes go in as SSE2's signed lanes; a movemask gives 16 bits in an i32.
        let bits = |lanes: __m128i| u64::from(_mm_movemask_epi8(lanes) as u16);
        let mut masks = Masks::default();
        for (index, chunk) in block.chunks_exact(16).enumerate() {
            let v = _mm_loadu_si128(chunk.as_ptr().cast());
            let shift = 16 * index;
            let blank = _mm_cmpeq_epi8(v, splat(b' '));
            let line_break = _mm_or_si128(_mm_cmpeq_epi8(v, splat(b'\n')), _mm_cmpeq_epi8(v, splat(b'\r')));
            masks.non_ascii |= bits(v) << shift;
            // Setting bit 5 maps exactly the upper-case letters onto the lower-case ones among the ASCII bytes.
            masks.letter |= bits(between(_mm_or_si128(v, splat(0x20)), b'a', b'z')) << shift;
            masks.digit |= bits(between(v, b'0', b'9')) << shift;
            masks.space |= bits(_mm_or_si128(blank, between(v, b'\t', b'\r'))) << shift;
            masks.line_break |= bits(line_break) << shift;
            masks.blank |= bits(blank) << shift;
            masks.apostrophe |= bits(_mm_cmpeq_epi8(v, splat(b'\''))) << shift;
            if CASES {
                masks.upper |= bits(between(v, b'A', b'Z')) << shift;
                masks.slash |= bits(_mm_cmpeq_epi8(v, splat(b'/'))) << shift;
            }
        }
        masks
    }
}

/// The masks of `block`, a byte at a time: the reference the SSE2 version is tested against.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))] // there only the tests use it
fn masks_by_bytes<const CASES: bool>(block: &[u8; BLOCK]) -> Masks {
    let mut masks = Masks::default();
    for (at, &byte) in block.iter().enumerate() {
        let bit = 1 << at;
        let set = |mask: &mut u64, is: bool| *mask |= if is { bit } else { 0 };
        set(&mut masks.non_ascii, !byte.is_ascii());
        set(&mut masks.letter, byte.is_ascii_alphabetic());
        set(&mut masks.upper, CASES && byte.is_ascii_uppercase());
        set(&mut masks.digit, byte.is_ascii_digit());
        set(&mut masks.space, matches!(byte, b'\t'..=b'\r' | b' '));
        set(&mut masks.line_break, matches!(byte, b'\r' | b'\n'));
        set(&mut masks.blank, byte == b' ');
        set(&mut masks.apostrophe, byte == b'\'');
        set(&mut masks.slash, CASES && byte == b'/');
    }
    masks
}

#[cfg(not(target_arch = "x86_64"))]
use masks_by_bytes as masks;

/// What a pattern's rules find in a block.
pub struct Cut {
    /// A bit for each byte where a piece starts (bit 0: the block begins at a piece start).
    starts: u64,
    /// How many of the block's first bytes `starts` is exact for: every start below it is one, and every other
    /// position below it is none.
    exact: u32,
    /// The block's non-ASCII bytes, from which the scanner goes on when the block cuts no piece.
    non_ascii: u64,
}

/// Bit i of `after(x)` is bit i - 1 of x: "the byte before is in x".
#[inline]
fn after(x: u64) -> u64 {
    x << 1
}

/// Bit i of `before(x)` is bit i + 1 of x: "the byte after is in x".
#[inline]
fn before(x: u64) -> u64 {
    x >> 1
}

/// The piece starts of cl100k_base's pattern (`DIGITS` 3) or Qwen2's (`DIGITS` 1) in a block that begins at a piece
/// start, its characters of two and three bytes classified by [`classify_wide`].
#[inline]
pub fn cl100k_starts<const DIGITS: usize>(block: &[u8; BLOCK], classes: &Classes) -> Cut {
    let mut masks = masks::<false>(block);
    let non_ascii = masks.non_ascii;
    if non_ascii != 0 {
        classify_wide::<false>(block, &mut masks, classes);
    }
    let masks = &masks;
    let ascii = ascii_len(masks);
    // The rules read the bytes before a bit and at most one after it (see `space_starts` for the other case).
    let exact = u32::try_from(ascii.saturating_sub(1)).expect("at most 64");
    let (mut starts, punctuation_start) = shared_starts(masks, masks.line_break, ascii);
    // Contractions, where a piece starts with `'` (a prefix for the letters after it, as far as `shared_starts` is
    // concerned): they end inside the letter run.
    let mut contractions = masks.apostrophe & punctuation_start;
    while contractions != 0 {
        let at = contractions.trailing_zeros() as usize;
        if let Some(len) = contraction_len(&block[at + 1..], *b"sdmt", true) {
            if at + len < BLOCK {
                starts |= 1 << (at + len);
            }
        }
        contractions &= contractions - 1;
    }
    Cut { starts: starts | digit_starts::<DIGITS>(masks.digit), exact, non_ascii }
}

/// Classifies the characters of two and three bytes of `block` for cl100k_base's rules (accented Latin, Greek,
/// Cyrillic, Hebrew and Arabic letters; the punctuation of U+2000 to U+206F; CJK and the other scripts of the Basic
/// Multilingual Plane): a letter's bytes join `letter`, every other character's bytes are punctuation
/// (`[^\s\p{L}\p{N}]`: they leave `non_ascii`), and the bytes after a character's first make `continuation`,
/// which the rules read to find a prefix's last byte. Only the characters before the first one the byte-wise rules
/// would misread are classified, so that the block's exact part ends before it: a number or white space (the rules
/// count digits and white space by bytes), a character that folds to an ASCII letter (`'` and U+017F are a
/// contraction), one of four bytes, or one the block cuts.
///
/// The letters of Russian, Ukrainian, Bulgarian (U+0400 to U+047F) and of French, German, Spanish (U+00C0 to U+00FF
/// but × and ÷) are found by [`utf8_masks`] for the whole block at once ([`Utf8Masks::letter_pairs`]); each other
/// character costs about 25 instructions and no branch on its class: a two-byte character one load of
/// [`Classes::two_byte`], a three-byte one the decoding and one load of the class table.
///
/// With `CASES` (o200k_base's rules), the letters are those on one side alone, upper case (whose bytes join `upper`
/// too) or lower case, and the other characters those outside both sides; a character on both (`\p{Lo}`, `\p{Lm}`,
/// and the marks, which its words take though they are no letters) is one the rules would misread.
#[inline]
fn classify_wide<const CASES: bool>(block: &[u8; BLOCK], masks: &mut Masks, classes: &Classes) {
    let utf8 = utf8_masks::<CASES>(block);
    // The block begins at a piece start, so at a character's first byte, and the text is valid UTF-8: each first
    // byte below is followed by its character's other bytes, unless the block ends first.
    let (cut_two, cut_three) = (1 << (BLOCK - 1), 3 << (BLOCK - 2));
    let mut misread = utf8.lead2 & cut_two | utf8.lead3 & cut_three | utf8.lead4;
    let pairs = utf8.letter_pairs & !cut_two;
    let mut letter = pairs | pairs << 1;
    let upper_pairs = utf8.upper_pairs & !cut_two;
    let mut upper = upper_pairs | upper_pairs << 1;
    let mut rest = utf8.lead2 & !cut_two & !pairs;
    while rest != 0 {
        let at = rest.trailing_zeros() as usize;
        let set = classes.two_byte(block[at]);
        let bit = block[at + 1] & 0x3F;
        let (is_letter, is_upper, is_other) = if CASES {
            let is_upper = set.upper >> bit & 1;
            (is_upper | set.lower >> bit & 1, is_upper, set.others_outside_words >> bit & 1)
        } else {
            (set.letters >> bit & 1, 0, set.others >> bit & 1)
        };
        letter |= (is_letter * 0b11) << at;
        upper |= (is_upper * 0b11) << at;
        misread |= (1 ^ (is_letter | is_other)) << at;
        rest &= rest - 1;
    }
    // Only the characters before the first misread one matter: with `CASES`, one comes soon in text with CJK.
    let mut rest = utf8.lead3 & !cut_three & ascii_bits(misread.trailing_zeros() as usize);
    while rest != 0 {
        let at = rest.trailing_zeros() as usize;
        let byte = |offset: usize| u32::from(block[at + offset] & 0x3F);
        let flags = classes.of_code((u32::from(block[at] & 0x0F) << 12) | (byte(1) << 6) | byte(2));
        let misreads = if CASES {
            let cased = flags & (LETTER | UPPER | LOWER);
            let is_upper = cased == LETTER | UPPER;
            letter |= (u64::from(is_upper || cased == LETTER | LOWER) * 0b111) << at;
            upper |= (u64::from(is_upper) * 0b111) << at;
            // A letter has a side; a character on a side that is no letter is a mark.
            cased == UPPER | LOWER || cased == LETTER | UPPER | LOWER
        } else {
            letter |= (u64::from(flags & LETTER) * 0b111) << at;
            false
        };
        let misreads = misreads || flags & (NUMBER | SPACE | FOLDS_TO_ASCII) != 0;
        misread |= u64::from(misreads) << at;
        if CASES && misreads {
            break;
        }
        rest &= rest - 1;
    }
    let classified = ascii_bits(misread.trailing_zeros() as usize);
    masks.letter |= letter & classified;
    masks.upper |= upper & classified;
    masks.continuation = utf8.continuation & classified;
    masks.non_ascii &= !classified;
}

/// The bytes of a block by their place in UTF-8, one bit per byte.
#[derive(Debug, Default, PartialEq, Eq)]
struct Utf8Masks {
    /// 0x80 to 0xBF: the bytes after a character's first.
    continuation: u64,
    /// 0xC0 to 0xDF: the first bytes of two-byte characters.
    lead2: u64,
    /// 0xE0 to 0xEF: of three-byte characters.
    lead3: u64,
    /// 0xF0 up: of four-byte characters.
    lead4: u64,
    /// The first bytes of two-byte letters that the masks alone tell: 0xD0 and 0xD1 (U+0400 to U+047F, all
    /// letters), and 0xC3 unless 0x97 or 0xB7 follows (U+00C0 to U+00FF, all letters but × and ÷). The test
    /// `two_byte_letter_pairs_are_letters` holds these to the class table.
    letter_pairs: u64,
    /// Where `CASES` asks for it, those of `letter_pairs` that begin upper-case letters: 0xD0 before 0x80 to 0xAF
    /// (U+0400 to U+042F), 0xD1 before an even byte from 0xA0 on (U+0460 to U+047F alternate), 0xC3 before 0x80 to
    /// 0x9E (U+00C0 to U+00DE).
    upper_pairs: u64,
}

/// The UTF-8 masks of `block`.
#[cfg(target_arch = "x86_64")]
#[inline]
#[allow(clippy::cast_possible_wrap, clippy::cast_sign_loss, clippy::cast_possible_truncation)] // see `masks`
fn utf8_masks<const CASES: bool>(block: &[u8; BLOCK]) -> Utf8Masks {
    use std::arch::x86_64::{
        _mm_and_si128, _mm_cmpeq_epi8, _mm_cmpgt_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
        _mm_setzero_si128,
    };
    // SAFETY: as in `masks`.
    unsafe {
        // As signed lanes, 0x80..=0xBF are -128..=-65, 0xC0..=0xDF -64..=-33, 0xE0..=0xEF -32..=-17, the rest above.
        let bits = |lanes| u64::from(_mm_movemask_epi8(lanes) as u16);
        let splat = |byte: u8| _mm_set1_epi8(byte as i8);
        let mut masks = Utf8Masks::default();
        let (mut non_ascii, mut three_up, mut latin, mut not_latin_letter) = (0, 0, 0, 0);
        let (mut d0, mut d1, mut cyrillic_capitals, mut cyrillic_smalls, mut latin_capitals, mut even) =
            (0, 0, 0, 0, 0, 0);
        for (index, chunk) in block.chunks_exact(16).enumerate() {
            let v = _mm_loadu_si128(chunk.as_ptr().cast());
            let shift = 16 * index;
            non_ascii |= bits(v) << shift;
            masks.continuation |= bits(_mm_cmpgt_epi8(splat(0xC0), v)) << shift;
            three_up |= bits(_mm_cmpgt_epi8(v, splat(0xDF))) << shift;
            masks.lead4 |= bits(_mm_cmpgt_epi8(v, splat(0xEF))) << shift;
            let (is_d0, is_d1) = (_mm_cmpeq_epi8(v, splat(0xD0)), _mm_cmpeq_epi8(v, splat(0xD1)));
            masks.letter_pairs |= bits(_mm_or_si128(is_d0, is_d1)) << shift;
            if CASES {
                d0 |= bits(is_d0) << shift;
                d1 |= bits(is_d1) << shift;
                // Continuation bytes below a bound (as signed lanes, no ASCII byte is): after 0xD0, those below 0xB0
                // end capitals (U+0400 to U+042F); after 0xD1, those below 0xA0 small letters (U+0440 to U+045F),
                // the rest capitals where even and small letters where odd; after 0xC3, those below 0x9F capitals.
                cyrillic_capitals |= bits(_mm_cmpgt_epi8(splat(0xB0), v)) << shift;
                cyrillic_smalls |= bits(_mm_cmpgt_epi8(splat(0xA0), v)) << shift;
                latin_capitals |= bits(_mm_cmpgt_epi8(splat(0x9F), v)) << shift;
                even |= bits(_mm_cmpeq_epi8(_mm_and_si128(v, splat(1)), _mm_setzero_si128())) << shift;
            }
            latin |= bits(_mm_cmpeq_epi8(v, splat(0xC3))) << shift;
            not_latin_letter |=
                bits(_mm_or_si128(_mm_cmpeq_epi8(v, splat(0x97)), _mm_cmpeq_epi8(v, splat(0xB7)))) << shift;
        }
        // The compares above 0xDF and 0xEF also take ASCII.
        three_up &= non_ascii;
        masks.lead4 &= non_ascii;
        masks.lead2 = non_ascii & !masks.continuation & !three_up;
        masks.lead3 = three_up & !masks.lead4;
        let latin_letters = latin & !(not_latin_letter >> 1);
        masks.letter_pairs |= latin_letters;
        if CASES {
            masks.upper_pairs =
                d0 & cyrillic_capitals >> 1 | d1 & (!cyrillic_smalls & even) >> 1 | latin_letters & latin_capitals >> 1;
        }
        masks
    }
}

/// The UTF-8 masks of `block`, a byte at a time: the reference the SSE2 version is tested against.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))] // there only the tests use it
fn utf8_masks_by_bytes<const CASES: bool>(block: &[u8; BLOCK]) -> Utf8Masks {
    let mut masks = Utf8Masks::default();
    for (at, &byte) in block.iter().enumerate() {
        let next = block.get(at + 1).copied().unwrap_or(0);
        if matches!(byte, 0xD0 | 0xD1) || byte == 0xC3 && !matches!(next, 0x97 | 0xB7) {
            masks.letter_pairs |= 1 << at;
        }
        let upper = match byte {
            0xD0 => (0x80..0xB0).contains(&next),
            0xD1 => next >= 0xA0 && next % 2 == 0,
            0xC3 => (0x80..0x9F).contains(&next) && next != 0x97,
            _ => false,
        };
        if CASES && upper {
            masks.upper_pairs |= 1 << at;
        }
        let mask = match byte {
            0x80..=0xBF => &mut masks.continuation,
            0xC0..=0xDF => &mut masks.lead2,
            0xE0..=0xEF => &mut masks.lead3,
            0xF0..=0xFF => &mut masks.lead4,
            _ => continue,
        };
        *mask |= 1 << at;
    }
    masks
}

#[cfg(not(target_arch = "x86_64"))]
use utf8_masks_by_bytes as utf8_masks;

/// [`cl100k_starts`] for o200k_base's pattern, its letters of two and three bytes with one case, and the other
/// characters outside its words, classified by [`classify_wide`].
#[inline]
pub fn o200k_starts(block: &[u8; BLOCK], classes: &Classes) -> Cut {
    let mut masks = masks::<true>(block);
    let non_ascii = masks.non_ascii;
    if non_ascii != 0 {
        classify_wide::<true>(block, &mut masks, classes);
    }
    let masks = &masks;
    let ascii = ascii_len(masks);
    // Whether `'` after a word is part of it reads two bytes after it; the other rules at most one.
    let mut exact = u32::try_from(ascii.saturating_sub(2)).expect("at most 64");
    let (mut starts, _) = shared_starts(masks, masks.line_break | masks.slash, ascii);
    // A new word where an upper-case letter follows a lower-case one.
    starts |= masks.upper & after(masks.lower());
    starts |= digit_starts::<3>(masks.digit);
    // A contraction right after a word is part of it; the letters after it start the next piece.
    let mut apostrophes = masks.apostrophe & after(masks.letter);
    while apostrophes != 0 {
        let at = apostrophes.trailing_zeros() as usize;
        if let Some(len) = contraction_len(&block[at + 1..], *b"stmd", true) {
            starts &= !(((1 << len) - 1) << at);
            if at + len < BLOCK {
                starts |= 1 << (at + len);
            }
            if block.get(at + len) == Some(&b'\'') {
                // Another `'` right after: whether it is part of a word (the next one's) depends on this one, so
                // the next block decides.
                exact = exact.min(u32::try_from(at + len).expect("in the block"));
                break;
            }
        }
        apostrophes &= apostrophes - 1;
    }
    Cut { starts, exact, non_ascii }
}

/// The starts both patterns share (see the module documentation), with `tail` the bytes a punctuation piece takes
/// after its run (see [`punctuation_and_space`]), and the punctuation that starts a piece.
#[inline]
fn shared_starts(masks: &Masks, tail: u64, ascii: usize) -> (u64, u64) {
    let (punctuation, space) = punctuation_and_space(masks, tail);
    // Punctuation runs, with the blank before them when there is one.
    let punctuation_start = punctuation & !after(punctuation) & !after(masks.blank);
    let other_space = masks.space & !masks.line_break;
    let starts = 1 | space_starts(masks, space, ascii) | punctuation_start;
    // Letter runs, unless a prefix goes before them: a non-line-break space (always a start, see `space_starts`) or
    // punctuation starting a piece.
    let prefix = other_space | punctuation_start;
    // A prefix of two or three bytes (see `classify_wide`): the letters come after its last.
    let prefix = prefix | after(prefix) & masks.continuation;
    let prefix = prefix | after(prefix) & masks.continuation;
    let letter_start = masks.letter & !after(masks.letter) & !after(prefix);
    (starts | letter_start, punctuation_start)
}

/// [`cl100k_starts`] for the pattern of r50k_base, p50k_base and gpt2, which has fewer rules: a run of letters, digits
/// or punctuation takes the blank before it (and nothing else), white space only loses its last character to what
/// follows, and contractions are lower-case.
#[inline]
pub fn r50k_starts(block: &[u8; BLOCK]) -> Cut {
    let masks = &masks::<false>(block);
    let ascii = ascii_len(masks);
    let exact = u32::try_from(ascii.saturating_sub(1)).expect("at most 64");
    let punctuation = !(masks.letter | masks.digit | masks.space | masks.non_ascii);
    let run_start = |class: u64| class & !after(class);
    // White space: where a run starts, and its last character before anything else (`\s+(?!\S)`, `\s`).
    let space = masks.space;
    let mut starts = 1 | run_start(space) | space & before(!space & !masks.non_ascii & ascii_bits(ascii));
    // ` ?\p{L}++`, ` ?\p{N}++`, ` ?[^\s\p{L}\p{N}]++`: the blank before a run is the last of its white space, a start.
    let punctuation_start = run_start(punctuation) & !after(masks.blank);
    starts |= (run_start(masks.letter) | run_start(masks.digit)) & !after(masks.blank) | punctuation_start;
    // Contractions, where a piece starts with `'`: the letters they take are not a run of their own.
    let mut contractions = masks.apostrophe & punctuation_start;
    while contractions != 0 {
        let at = contractions.trailing_zeros() as usize;
        if let Some(len) = contraction_len(&block[at + 1..], *b"sdmt", false) {
            starts &= !(((1 << (len - 1)) - 1) << (at + 1));
            if at + len < BLOCK {
                starts |= 1 << (at + len);
            }
        }
        contractions &= contractions - 1;
    }
    Cut { starts, exact, non_ascii: masks.non_ascii }
}

/// How many of the block's first bytes are ASCII.
#[inline]
fn ascii_len(masks: &Masks) -> usize {
    BLOCK.min(masks.non_ascii.trailing_zeros() as usize)
}

/// The punctuation (`[^\s\p{L}\p{N}]`) and white space of the block, less the bytes a punctuation piece takes after
/// its run: `[\r\n]*+` (`tail` the line breaks) or o200k_base's `[\r\n/]*` (`tail` also `/`), which take something
/// only where a line break follows the run.
#[inline]
fn punctuation_and_space(masks: &Masks, tail: u64) -> (u64, u64) {
    let punctuation = !(masks.letter | masks.digit | masks.space | masks.non_ascii);
    // A carry added at a line break after punctuation runs through the tail bytes after it. In o200k_base's tail a
    // `/` may come before another such line break, whose carry then only sets its own bit: added back.
    let first = masks.line_break & after(punctuation);
    let taken = (tail.wrapping_add(first) ^ tail) & tail | first;
    (punctuation & !taken, masks.space & !taken)
}

/// The starts in the runs of `space` (the white space of the block outside punctuation pieces): the first byte of
/// each run, the last before anything else (`\s+(?!\S)`, `\s`), and the first after the last line break of a run
/// (`\s*[\r\n]`). The last needs the end of a run, which may not be in the block; then no start follows in the
/// block either, so the bits that are exact stay so.
#[inline]
fn space_starts(masks: &Masks, space: u64, ascii: usize) -> u64 {
    let other_space = masks.space & !masks.line_break;
    let mut starts = space & !after(space);
    starts |= other_space & before(!space & !masks.non_ascii & ascii_bits(ascii));
    // Where non-line-break white space follows a line break and runs to something else (to another line break, the
    // piece goes on).
    let mut after_break = after(masks.line_break) & other_space;
    while after_break != 0 {
        let at = after_break.trailing_zeros();
        let end = at + (!other_space >> at).trailing_zeros();
        if end as usize >= ascii {
            break;
        }
        if masks.line_break >> end & 1 == 0 {
            starts |= 1 << at;
        }
        after_break &= after_break - 1;
    }
    starts
}

/// The bits below `len`.
#[inline]
fn ascii_bits(len: usize) -> u64 {
    if len >= BLOCK {
        u64::MAX
    } else {
        (1 << len) - 1
    }
}

/// The starts of `\p{N}{1,3}+` (`DIGITS` 3) or `\p{N}` (`DIGITS` 1) in the digit runs of `digit`.
#[inline]
fn digit_starts<const DIGITS: usize>(digit: u64) -> u64 {
    if DIGITS == 1 {
        return digit;
    }
    let mut starts = digit & !(digit << 1);
    // A digit with two more before it in the run, three after a start, starts a group too.
    let third = digit & digit << 1 & digit << 2;
    let mut next = starts << 3 & third;
    while next != 0 {
        starts |= next;
        next = next << 3 & third;
    }
    starts
}

/// The length of the contraction `'` + one of `singles`, `ll`, `ve` or `re` (in any case if `any_case`, else in lower
/// case), apostrophe included, whose letters start `rest`, if one does. The patterns list the same letters in
/// different orders; no two of them start with the same letter, so the order does not matter.
#[inline]
fn contraction_len(rest: &[u8], singles: [u8; 4], any_case: bool) -> Option<usize> {
    let folded = |at: usize| rest.get(at).map(|&byte| if any_case { byte.to_ascii_lowercase() } else { byte });
    match (folded(0)?, folded(1)) {
        (single, _) if singles.contains(&single) => Some(2),
        (b'l', Some(b'l')) | (b'v' | b'r', Some(b'e')) => Some(3),
        _ => None,
    }
}

/// Blocks begin where the first [`ASCII_AHEAD`] bytes are ASCII (r50k_base's pattern, whose blocks read ASCII alone).
pub const OPEN_ON_ASCII: u8 = 0;
/// Blocks begin where none of the first [`ASCII_AHEAD`] bytes is at or above 0xE3, the first byte of U+3000 to
/// U+FFFF (cl100k_base's blocks, see [`classify_wide`]): CJK, kana and Hangul come in letter runs longer than a block,
/// where the blocks cut little at the cost of classifying every character. Measured with callgrind as in the module
/// documentation, cl100k_base: without this test, Japanese 26.8 -> 32.6 M instructions (Chinese 61.8 -> 60.8 M); with
/// it, and the characters from U+3000 on also left to the scanner inside a block, Japanese 27.7 M, Chinese 65.1 M.
pub const OPEN_BELOW_U3000: u8 = 1;
/// Blocks begin where the first [`ASCII_AHEAD`] bytes are ASCII, bytes of two-byte characters below U+05C0, or 0xE2
/// (punctuation and symbols, U+2000 to U+2FFF): o200k_base's blocks stop at letters that are on both sides of its
/// words (`\p{Lo}`: Hebrew, Arabic, the scripts of India, Thai, CJK) and at marks, so in text of those scripts a
/// block would pay for its masks and cut little. Measured with callgrind as in the module documentation, o200k_base,
/// with [`OPEN_BELOW_U3000`] instead: Indic lines 7.5 -> 12.1 M instructions, Japanese 27.3 -> 29.0 M.
pub const OPEN_CASED: u8 = 2;

/// Whether a block may begin with `block`, the test before its masks are computed, as `OPENING` says
/// ([`OPEN_ON_ASCII`], [`OPEN_BELOW_U3000`] or [`OPEN_CASED`]).
#[inline]
fn opens<const OPENING: u8>(block: &[u8]) -> bool {
    let word = |bytes: &[u8]| u64::from_le_bytes(bytes.try_into().expect("eight bytes"));
    // The high bit of each byte from 0x80 up whose low seven bits reach `low`, as in `ascii_between`.
    let at_least = |word: u64, low: u8| ((word & !HIGH_BITS) + splat(0x80 - low)) & word & HIGH_BITS;
    let first = block[..ASCII_AHEAD].chunks_exact(8).map(word);
    match OPENING {
        OPEN_BELOW_U3000 => first.fold(0, |seen, word| seen | at_least(word, 0x63)) == 0,
        OPEN_CASED => {
            first.fold(0, |seen, word| {
                // The high bit of each byte that is not 0xE2: of each byte of `word ^ 0xE2...` that is not zero.
                let other = word ^ splat(0xE2);
                let not_e2 = (((other & !HIGH_BITS) + splat(0x7F)) | other) & HIGH_BITS;
                seen | at_least(word, 0x57) & not_e2
            }) == 0
        }
        _ => first.fold(0, |seen, word| seen | word) & HIGH_BITS == 0,
    }
}

/// Blocks begin only where this many bytes are ASCII: a block that meets a non-ASCII byte sooner cuts a piece or two
/// before it, at the cost of its masks (about 340 instructions per block on the multilingual corpus), and the scanner
/// cuts them for less. Measured with callgrind on the split alone (6 MB in 4 KiB documents, five passes, file reading
/// included), with the threshold read at run time: none, 8, 16 and 32 bytes gave o200k_base on multilingual text 962,
/// 898, 879 and 885 M instructions, cl100k_base 899, 850, 839 and 847 M, o200k_base on English 300, 302, 304 and 311
/// M. With the constant: 861, 826 and 296 M. Every 20th document encoded to NumPy, steady state, the extension's own
/// instructions per pass: multilingual 13.4 -> 12.3 M (o200k_base), 13.7 -> 12.7 M (cl100k_base); English (7.60 M)
/// and code (8.56 -> 8.58 M) within 0.3%.
const ASCII_AHEAD: usize = 16;

/// Hands each piece of `text` to `pieces`: a block of 64 bytes at a time where it can (`starts`: the pattern's
/// rules), else `piece_end` (the scanner of the same pattern) for one piece.
///
/// Pieces are passed on late, so that the caller can ask the memory for what their lookups will read (see
/// [`Vocab::prefetch_short_rank`]) while earlier pieces are encoded: [`Pieces::ahead_block`] gets the pieces of a
/// block as soon as the block is cut, and [`Pieces::block`] gets them once the next block is cut (or before the
/// scanner's next piece, or at the end of the text); the scanner cuts up to [`SCANNED_AHEAD`] pieces, telling
/// [`Pieces::ahead`] of each, before passing them on to [`Pieces::piece`]. The pieces still come in order.
///
/// Generic rather than through function pointers, so each pattern is compiled into its own loop together with the
/// caller's work on a piece (measured before the blocks: the call per piece cost about 20 instructions of 110; see
/// [`Pieces`]). `starts` and `piece_end` are closures: a function item's `Fn::call` shim was left out of line once the
/// scanners had their byte-level fast paths (callgrind, 1 MB of English, cl100k_base: 105 against 86 instructions per
/// piece for the split alone).
#[inline]
pub fn scan<const OPENING: u8>(
    text: &str,
    starts: impl Fn(&[u8; BLOCK]) -> Cut,
    piece_end: impl Fn(&Cursor<'_>, usize) -> usize,
    pieces: &mut impl Pieces,
) {
    let bytes = text.as_bytes();
    let cursor = Cursor::new(text);
    let mut start = 0;
    // Where the next block may begin: a block that cuts no piece leaves the scanner the text up to the end of its
    // last non-ASCII byte, so text that is mostly not ASCII costs one block per 64 bytes rather than one per piece.
    let mut scanner_until = 0;
    // The block cut last and not passed on yet: where it begins, and a bit at each of its pieces' ends.
    let mut pending: Option<(usize, u64)> = None;
    while start < bytes.len() {
        if let Some(block) = block_at::<OPENING>(bytes, start, scanner_until) {
            let cut = starts(block);
            let ends = cut.starts & ascii_bits(cut.exact as usize) & !1;
            if ends != 0 {
                pieces.ahead_block(start, ends);
                if let Some((block_start, ends)) = pending.replace((start, ends)) {
                    pieces.block(block_start, ends);
                }
                // The block's last piece ends at its top bit.
                start += BLOCK - 1 - ends.leading_zeros() as usize;
                continue;
            }
            scanner_until = start + (BLOCK - cut.non_ascii.leading_zeros() as usize);
        }
        if let Some((block_start, ends)) = pending.take() {
            pieces.block(block_start, ends);
        }
        let mut ends = [0; SCANNED_AHEAD];
        let mut count = 0;
        let first = start;
        loop {
            let end = piece_end(&cursor, start);
            // A scanner that cut an empty piece would cut it again forever: fail the tests at once instead.
            debug_assert!(end > start, "an empty piece at byte {start}");
            pieces.ahead(start, end);
            ends[count] = end;
            count += 1;
            start = end;
            if count == SCANNED_AHEAD
                || start == bytes.len()
                || block_at::<OPENING>(bytes, start, scanner_until).is_some()
            {
                break;
            }
        }
        let mut piece = first;
        for &end in &ends[..count] {
            pieces.piece(piece, end);
            piece = end;
        }
    }
    if let Some((block_start, ends)) = pending.take() {
        pieces.block(block_start, ends);
    }
}

/// The 64 bytes from `start` when a block may begin there: past `scanner_until`, with enough bytes left, and
/// [`opens`] with them.
#[inline]
fn block_at<const OPENING: u8>(bytes: &[u8], start: usize, scanner_until: usize) -> Option<&[u8; BLOCK]> {
    let block = bytes.get(start..start + BLOCK).filter(|block| start >= scanner_until && opens::<OPENING>(block))?;
    Some(block.try_into().expect("a block"))
}

/// The most pieces the scanner cuts before passing them on: it stops sooner where a block may begin. Measured with
/// `benches/side_by_side.py` against passing each on at once (blocks one block late in both): `encode_to_numpy` on
/// multilingual text 1.13-1.14x with o200k_base and 1.01-1.09x with cl100k_base, on English 1.07-1.11x (a document's
/// last 63 bytes, too short for a block, are the scanner's), code 1.01-1.05x.
const SCANNED_AHEAD: usize = 8;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_agree_with_the_class_table_and_each_other() {
        use super::super::classes::{Classes, LETTER, LOWER, NUMBER, SPACE, UPPER};
        let classes = Classes::get();
        for byte in 0..=255u8 {
            for lane in [0, 1, 15, 16, 31, 47, 63] {
                let mut block = [b'!'; BLOCK];
                block[lane] = byte;
                let found = masks::<true>(&block);
                assert_eq!(found, masks_by_bytes::<true>(&block), "byte {byte:#x} at {lane}");
                assert_eq!(masks::<false>(&block), masks_by_bytes::<false>(&block), "byte {byte:#x} at {lane}");
                let has = |mask: u64| mask >> lane & 1 != 0;
                let flags = classes.of_byte(byte);
                if byte.is_ascii() {
                    assert_eq!(has(found.letter), flags & LETTER != 0, "byte {byte:#x}");
                    assert_eq!(has(found.upper), flags & UPPER != 0, "byte {byte:#x}");
                    assert_eq!(has(found.lower()), flags & LOWER != 0, "byte {byte:#x}");
                    assert_eq!(has(found.digit), flags & NUMBER != 0, "byte {byte:#x}");
                    assert_eq!(has(found.space), flags & SPACE != 0, "byte {byte:#x}");
                } else {
                    assert!(has(found.non_ascii));
                }
                assert_eq!(utf8_masks::<false>(&block), utf8_masks_by_bytes::<false>(&block), "{byte:#x} at {lane}");
                assert_eq!(utf8_masks::<true>(&block), utf8_masks_by_bytes::<true>(&block), "{byte:#x} at {lane}");
            }
        }
    }

    fn pieces(text: &str, split: impl Fn(&str, &mut dyn FnMut(usize, usize))) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        split(text, &mut |start, end| out.push((start, end)));
        out
    }

    /// Passes pieces on to `on_piece`, checking that each piece it was told of ahead comes later, in the same order.
    struct Checked<'a, F> {
        told: &'a std::cell::RefCell<Vec<(usize, usize)>>,
        given: &'a std::cell::Cell<usize>,
        on_piece: F,
    }

    impl<F: FnMut(usize, usize)> Pieces for Checked<'_, F> {
        fn ahead(&mut self, start: usize, end: usize) {
            self.told.borrow_mut().push((start, end));
        }

        fn piece(&mut self, start: usize, end: usize) {
            let (told, next) = (self.told.borrow(), self.given.get());
            assert!(next == told.len() || told[next] >= (start, end), "told of {:?}", told[next]);
            self.given.set(next + usize::from(told.get(next) == Some(&(start, end))));
            (self.on_piece)(start, end);
        }
    }

    /// Texts of up to 400 bytes from the bytes the rules tell apart, with now and then a character that is not
    /// ASCII (a letter, a number, white space, a letter that folds to `s`): long enough to cross blocks.
    fn generated_texts() -> Vec<String> {
        const ASCII: &[u8] = b"aAbzZsSdDmMtTlLvVeErRqQ0123456789     \t\t\n\n\r\x0B\x0C''''..,;!?//-_(\x00\x7F";
        const OTHER: &[char] =
            &['é', '中', '٣', '\u{a0}', '\u{3000}', '\u{85}', '\u{2028}', '\u{17F}', '\u{301}', '😀'];
        let mut next = crate::testing::xorshift(0x2545_F491);
        (0..30_000)
            .map(|index| {
                let len = next() % 400;
                // A few runs of one class, as in prose and code, else uniform bytes.
                let runs = index % 2 == 0;
                let mut text = String::new();
                while text.len() < len {
                    if next() % 97 == 0 {
                        text.push(OTHER[next() % OTHER.len()]);
                        continue;
                    }
                    let byte = char::from(ASCII[next() % ASCII.len()]);
                    for _ in 0..if runs { 1 + next() % 6 } else { 1 } {
                        text.push(byte);
                    }
                }
                text
            })
            .collect()
    }

    /// Texts of up to 400 bytes where characters of two and three bytes are common, as in text in Latin scripts with
    /// accents, Cyrillic or Greek, and CJK: letters of each length (of either case, of both as o200k_base reads `\p{Lo}`
    /// and `\p{Lm}`, titlecase), punctuation and symbols of each length (combining marks, a guillemet, dashes,
    /// quotation marks, an ideographic full stop) next to ASCII letters, digits,
    /// white space, `'` and line breaks, and the characters `classify_wide` leaves to the scanners (numbers, white
    /// space, U+017F and U+212A, emoji) now and then.
    fn generated_wide_texts() -> Vec<String> {
        const COMMON: &[&str] = &[
            "a", "Z", "s", "t", "l", "e", "r", "v", "7", "0", " ", " ", " ", "\n", "\r", "\t", "'", "'", ".", ",", "(",
            "/", "é", "ß", "Ж", "я", "ω", "א", "ب", "中", "の", "한", "«", "»", "©", "×", "\u{301}", "\u{483}", "—",
            "“", "’", "…", "€", "。", "、", "\u{FEFF}", "÷", "ё", "Ü", "ž", "Ѡ", "ѡ", "É", "ÿ", "Ω", "ǅ", "ʰ", "ª",
            "Ա", "ա", "Ḁ", "ḁ", "ა", "\u{93F}", "\u{20D7}", "Ⅻ",
        ];
        const RARE: &[&str] =
            &["٣", "²", "①", "०", "\u{a0}", "\u{85}", "\u{2028}", "\u{3000}", "\u{17F}", "\u{212A}", "😀", "𝐀"];
        let mut next = crate::testing::xorshift(0x9E37_79B9);
        (0..20_000)
            .map(|index| {
                let len = next() % 400;
                let runs = index % 2 == 0;
                let mut text = String::new();
                while text.len() < len {
                    let part = if next() % 61 == 0 { RARE[next() % RARE.len()] } else { COMMON[next() % COMMON.len()] };
                    for _ in 0..if runs { 1 + next() % 6 } else { 1 } {
                        text.push_str(part);
                    }
                }
                text
            })
            .collect()
    }

    #[test]
    fn blocks_cut_what_the_scanners_and_the_regex_cut() {
        use super::super::regex::RegexSplitter;
        use super::super::{cl100k, o200k, r50k, CL100K_PATTERN, O200K_PATTERN, QWEN2_PATTERN, R50K_PATTERN};
        type Starts = fn(&[u8; BLOCK]) -> Cut;
        type PieceEnd = fn(&Cursor<'_>, usize) -> usize;
        let patterns: [(&str, Starts, PieceEnd, u8); 4] = [
            (R50K_PATTERN, r50k_starts, r50k::piece_end, OPEN_ON_ASCII),
            (CL100K_PATTERN, |block| cl100k_starts::<3>(block, Classes::get()), cl100k::piece_end, OPEN_BELOW_U3000),
            (
                QWEN2_PATTERN,
                |block| cl100k_starts::<1>(block, Classes::get()),
                cl100k::piece_end_single_digit,
                OPEN_BELOW_U3000,
            ),
            (O200K_PATTERN, |block| o200k_starts(block, Classes::get()), o200k::piece_end, OPEN_CASED),
        ];
        let texts: Vec<String> = generated_texts().into_iter().chain(generated_wide_texts()).collect();
        for (pattern, starts, piece_end, opening) in patterns {
            let regex = RegexSplitter::backtracking(pattern).expect("compiles");
            for (index, text) in texts.iter().enumerate() {
                // Each piece `ahead` is told of comes to `on_piece` later, in the same order.
                let told = std::cell::RefCell::new(Vec::new());
                let given = std::cell::Cell::new(0);
                let blocks = pieces(text, |text, on_piece| {
                    let checked = &mut Checked { told: &told, given: &given, on_piece };
                    match opening {
                        OPEN_ON_ASCII => scan::<OPEN_ON_ASCII>(text, starts, piece_end, checked),
                        OPEN_BELOW_U3000 => scan::<OPEN_BELOW_U3000>(text, starts, piece_end, checked),
                        _ => scan::<OPEN_CASED>(text, starts, piece_end, checked),
                    }
                });
                assert_eq!(
                    given.get(),
                    told.borrow().len(),
                    "pattern {pattern:?}, text {text:?}: told of pieces not given"
                );
                let scanner = pieces(text, |text, on_piece| super::super::scan(text, piece_end, on_piece));
                if let Some(at) = blocks.iter().zip(&scanner).position(|(a, b)| a != b) {
                    let show = |pieces: &[(usize, usize)]| -> Vec<&str> {
                        pieces[at.saturating_sub(2)..(at + 3).min(pieces.len())]
                            .iter()
                            .map(|&(s, e)| &text[s..e])
                            .collect()
                    };
                    panic!("pattern {pattern:?}: blocks cut {:?}, the scanner {:?}", show(&blocks), show(&scanner));
                }
                assert_eq!(blocks, scanner, "pattern {pattern:?}, text {text:?}");
                if index % 10 == 0 {
                    let by_regex = pieces(text, |text, on_piece| regex.for_each_piece(text, on_piece).expect("splits"));
                    assert_eq!(blocks, by_regex, "pattern {pattern:?}, text {text:?}");
                }
            }
        }
    }

    #[test]
    fn blocks_open_where_their_first_bytes_allow() {
        for at in 0..BLOCK {
            let mut block = [b'a'; BLOCK];
            block[at] = 0xE4;
            for byte in 0x80..=0xFF {
                block[at] = byte;
                let later = at >= ASCII_AHEAD;
                assert_eq!(opens::<OPEN_ON_ASCII>(&block), later, "{byte:#x} at {at}");
                assert_eq!(opens::<OPEN_BELOW_U3000>(&block), later || byte < 0xE3, "{byte:#x} at {at}");
                assert_eq!(opens::<OPEN_CASED>(&block), later || byte < 0xD7 || byte == 0xE2, "{byte:#x} at {at}");
            }
        }
        for opens in [opens::<OPEN_ON_ASCII>, opens::<OPEN_BELOW_U3000>, opens::<OPEN_CASED>] {
            assert!(opens(&[b' '; BLOCK]));
        }
    }

    #[test]
    fn two_byte_letter_pairs_are_letters() {
        let classes = Classes::get();
        for code in 0x80..0x800u32 {
            let c = char::from_u32(code).expect("below the surrogates");
            let mut block = [b' '; BLOCK];
            c.encode_utf8(&mut block[10..]);
            let found = utf8_masks_by_bytes::<true>(&block);
            let (pair, upper) = (found.letter_pairs >> 10 & 1 != 0, found.upper_pairs >> 10 & 1 != 0);
            assert_eq!(utf8_masks::<true>(&block), found, "{c:?}");
            assert_eq!(utf8_masks::<false>(&block), utf8_masks_by_bytes::<false>(&block), "{c:?}");
            if pair {
                // A letter on one side alone, as o200k_base's rules need it.
                let side = if upper { UPPER } else { LOWER };
                assert_eq!(classes.of_code(code) & (LETTER | UPPER | LOWER | FOLDS_TO_ASCII), LETTER | side, "{c:?}");
            }
            assert!(pair || !upper, "{c:?}");
            // The letters the masks tell: Cyrillic's first 128, Latin-1's letters.
            let expected = (0x400..0x480).contains(&code) || (0xC0..0x100).contains(&code) && !"×÷".contains(c);
            assert_eq!(pair, expected, "{c:?}");
        }
    }

    #[test]
    fn digit_groups_count_from_the_start_of_each_run() {
        let digits = 0b1111_1110_1111_1111u64;
        assert_eq!(digit_starts::<3>(digits), 0b1001_0010_0100_1001);
        assert_eq!(digit_starts::<1>(digits), digits);
    }
}
