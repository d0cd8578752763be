//! cl100k_base's split pattern on 64 bytes of ASCII at a time: the piece starts of a block computed from bitmasks
//! of its bytes' classes, instead of a branch per piece.
//!
//! The scanner of `cl100k.rs` decides each piece from its first bytes, with branches that the CPU mispredicts about
//! once a piece. Here each class of the block's bytes (letter, digit, white space, ...) is one 64-bit mask (SSE2
//! compares, baseline on x86-64), and the pattern's alternatives become a few shifts and ands over them, giving every
//! piece start of the block at once; the pieces are then cut at the set bits.
//!
//! # The pattern on ASCII text
//!
//! On ASCII, `\p{L}` is `[A-Za-z]`, `\p{N}` is `[0-9]` and `\s` is `[\t\n\x0B\x0C\r ]` (the tests check the masks
//! against the class table). Call a maximal run of letters, digits, white space or other characters (punctuation)
//! a run. From a position where a piece starts, the pattern cuts (`'` counts as punctuation):
//! - a contraction, `'` then `s`, `d`, `m`, `t`, `ll`, `ve` or `re` (any case): that piece, even inside a letter run;
//! - one punctuation or non-line-break space character followed by letters: it and the letter run (the prefix);
//! - a letter run; digits in groups of three from the start of their run;
//! - a punctuation run, with the space before it when there is one, and the line breaks right after it;
//! - in a run of white space: up to its last line break (`\s*[\r\n]`), then all but the last character of the rest,
//!   whose last character starts the next piece (`\s+(?!\S)`: it may be a prefix, or ` ` before punctuation).
//!
//! A piece starts where its text starts, so the starts from a known start on follow from the text after it alone:
//! each block begins at a piece start. Bits whose rule reads bytes the block does not have (the last three, any
//! byte from the first non-ASCII one on, and the end of a white-space run reaching either) are left out: the block
//! keeps the pieces that end before them, and the next block begins at the last start it found.
//!
//! Measured with the Rust harness (this 2-core machine, 3 MB in 4 KiB documents, warm, best of 12 to 20 process
//! runs, since runs of one binary differ by up to 50% here): English 204 -> 254 MB/s, code 182 -> 244,
//! multilingual 40.8 -> 40.5 (a block gives way to the scanner at the first byte that is not ASCII); random
//! letters and one 1 MiB run of digits within noise. Most of what is left is the pieces' lookups.

use super::cursor::Cursor;

/// Bytes per block.
const BLOCK: usize = 64;

/// The classes of a block's bytes, one bit per byte (bit `i` for byte `i`); non-ASCII bytes are in none.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Masks {
    /// Bytes from 0x80 up.
    non_ascii: u64,
    /// `[A-Za-z]`.
    letter: u64,
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
}

/// The masks of `block`.
#[cfg(target_arch = "x86_64")]
#[inline]
#[allow(clippy::cast_possible_wrap, clippy::cast_sign_loss, clippy::cast_possible_truncation)] // see `bits`
fn masks(block: &[u8; BLOCK]) -> Masks {
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
        }
        masks
    }
}

/// The masks of `block`, a byte at a time: the reference the SSE2 version is tested against.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))] // there only the tests use it
fn masks_by_bytes(block: &[u8; BLOCK]) -> Masks {
    let mut masks = Masks::default();
    for (at, &byte) in block.iter().enumerate() {
        let bit = 1 << at;
        let set = |mask: &mut u64, is: bool| *mask |= if is { bit } else { 0 };
        set(&mut masks.non_ascii, !byte.is_ascii());
        set(&mut masks.letter, byte.is_ascii_alphabetic());
        set(&mut masks.digit, byte.is_ascii_digit());
        set(&mut masks.space, matches!(byte, b'\t'..=b'\r' | b' '));
        set(&mut masks.line_break, matches!(byte, b'\r' | b'\n'));
        set(&mut masks.blank, byte == b' ');
        set(&mut masks.apostrophe, byte == b'\'');
    }
    masks
}

#[cfg(not(target_arch = "x86_64"))]
use masks_by_bytes as masks;

/// The piece starts of cl100k_base's pattern (`DIGITS` 3) or Qwen2's (`DIGITS` 1) in a block that begins at a piece
/// start (bit 0 is set), and how many of the block's first bytes they are exact for: every start below that bound
/// is one, and every other position below it is none.
#[inline]
#[allow(clippy::similar_names)]
fn starts<const DIGITS: usize>(block: &[u8; BLOCK], masks: &Masks) -> (u64, u32) {
    let Masks { non_ascii, letter, digit, space, line_break, blank, apostrophe } = *masks;
    // Bit i of `after(x)` is bit i - 1 of x: "the byte before is in x". Bit i of `before(x)` is bit i + 1.
    let after = |x: u64| x << 1;
    let before = |x: u64| x >> 1;
    let ascii = BLOCK.min(non_ascii.trailing_zeros() as usize);
    // A bit is exact when the bytes its rule reads are ASCII and in the block. The rules read the bytes before a
    // bit and at most one after it, except the search for a white-space run's end below: where that end is not in
    // the block, no start follows in it either.
    let exact = u32::try_from(ascii.saturating_sub(1)).expect("at most 64");
    let punctuation = !(letter | digit | space | non_ascii);
    let other_space = space & !line_break;
    // Punctuation runs, with the blank before them, start a piece (` ?[^\s\p{L}\p{N}]++`)...
    let punctuation_start = punctuation & !after(punctuation) & !after(blank);
    // ... and take the line breaks right after them (`[\r\n]*+`): add a carry at the first of those, and it runs
    // through them.
    let taken = (line_break.wrapping_add(line_break & after(punctuation)) ^ line_break) & line_break;
    let space = space & !taken;
    let mut starts = 1 | space & !after(space);
    // The last character of a white-space run before anything else starts a piece (`\s+(?!\S)`, `\s`).
    starts |= other_space & before(!space & !non_ascii & ascii_bits(ascii));
    // After the last line break of a white-space run (`\s*[\r\n]`): where non-line-break white space follows a line
    // break and runs to something else (to another line break, the piece goes on).
    let mut after_break = after(line_break) & other_space;
    while after_break != 0 {
        let at = after_break.trailing_zeros();
        let end = at + (!other_space >> at).trailing_zeros();
        if end as usize >= ascii {
            break;
        }
        if line_break >> end & 1 == 0 {
            starts |= 1 << at;
        }
        after_break &= after_break - 1;
    }
    // Letter runs, unless a prefix goes before them: a non-line-break space (always a start, see above) or
    // punctuation starting a piece (a contraction ends in the run, see below).
    starts |= letter & !after(letter) & !after(other_space | punctuation_start);
    starts |= punctuation_start;
    // Contractions, where a piece starts with `'`.
    let mut contractions = apostrophe & punctuation_start;
    while contractions != 0 {
        let at = contractions.trailing_zeros() as usize;
        if let Some(len) = contraction_len(&block[at + 1..]) {
            if at + len < BLOCK {
                starts |= 1 << (at + len);
            }
        }
        contractions &= contractions - 1;
    }
    starts |= digit_starts::<DIGITS>(digit);
    (starts, exact)
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

/// The length of the contraction `'(?i:[sdmt]|ll|ve|re)`, apostrophe included, whose letters start `rest`, if one
/// does.
#[inline]
fn contraction_len(rest: &[u8]) -> Option<usize> {
    let folded = |at: usize| rest.get(at).map(u8::to_ascii_lowercase);
    match (folded(0)?, folded(1)) {
        (b's' | b'd' | b'm' | b't', _) => Some(2),
        (b'l', Some(b'l')) | (b'v' | b'r', Some(b'e')) => Some(3),
        _ => None,
    }
}

/// Calls `on_piece` with each piece of `text`: a block of 64 bytes at a time where it can, else `piece_end` (the
/// scanner of the same pattern) for one piece.
#[inline]
pub fn scan<const DIGITS: usize>(
    text: &str,
    piece_end: impl Fn(&Cursor<'_>, usize) -> usize,
    mut on_piece: impl FnMut(usize, usize),
) {
    let bytes = text.as_bytes();
    let cursor = Cursor::new(text);
    let mut start = 0;
    while start < bytes.len() {
        if let Some(block) = bytes.get(start..start + BLOCK) {
            let block: &[u8; BLOCK] = block.try_into().expect("a block");
            let (starts, exact) = starts::<DIGITS>(block, &masks(block));
            let mut rest = starts & ascii_bits(exact as usize) & !1;
            if rest != 0 {
                let mut piece = start;
                while rest != 0 {
                    let end = start + rest.trailing_zeros() as usize;
                    on_piece(piece, end);
                    piece = end;
                    rest &= rest - 1;
                }
                start = piece;
                continue;
            }
        }
        let end = piece_end(&cursor, start);
        on_piece(start, end);
        start = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_agree_with_the_class_table_and_each_other() {
        use super::super::classes::{Classes, LETTER, NUMBER, SPACE};
        let classes = Classes::get();
        for byte in 0..=255u8 {
            for lane in [0, 1, 15, 16, 31, 47, 63] {
                let mut block = [b'!'; BLOCK];
                block[lane] = byte;
                let found = masks(&block);
                assert_eq!(found, masks_by_bytes(&block), "byte {byte:#x} at {lane}");
                let has = |mask: u64| mask >> lane & 1 != 0;
                let flags = classes.of_byte(byte);
                if byte.is_ascii() {
                    assert_eq!(has(found.letter), flags & LETTER != 0, "byte {byte:#x}");
                    assert_eq!(has(found.digit), flags & NUMBER != 0, "byte {byte:#x}");
                    assert_eq!(has(found.space), flags & SPACE != 0, "byte {byte:#x}");
                } else {
                    assert!(has(found.non_ascii));
                }
            }
        }
    }

    fn pieces(text: &str, split: impl Fn(&str, &mut dyn FnMut(usize, usize))) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        split(text, &mut |start, end| out.push((start, end)));
        out
    }

    /// Texts of up to 400 bytes from the bytes the rules tell apart, with now and then a character that is not
    /// ASCII (a letter, a number, white space, a letter that folds to `s`): long enough to cross blocks.
    fn generated_texts() -> Vec<String> {
        const ASCII: &[u8] = b"aAbzZsSdDmMtTlLvVeErRqQ0123456789     \t\t\n\n\r\x0B\x0C''''..,;!?/-_(\x00\x7F";
        const OTHER: &[char] =
            &['é', '中', '٣', '\u{a0}', '\u{3000}', '\u{85}', '\u{2028}', '\u{17F}', '\u{301}', '😀'];
        let mut state = 0x2545_F491_u32;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as usize
        };
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

    #[test]
    fn blocks_cut_what_the_scanner_and_the_regex_cut() {
        use super::super::cl100k::{piece_end, piece_end_single_digit};
        use super::super::regex::RegexSplitter;
        use super::super::{CL100K_PATTERN, QWEN2_PATTERN};
        let regex = RegexSplitter::backtracking(CL100K_PATTERN).expect("compiles");
        let qwen2 = RegexSplitter::backtracking(QWEN2_PATTERN).expect("compiles");
        for (index, text) in generated_texts().iter().enumerate() {
            let blocks = pieces(text, |text, on_piece| scan::<3>(text, piece_end, on_piece));
            assert_eq!(
                blocks,
                pieces(text, |text, on_piece| super::super::scan(text, piece_end, on_piece)),
                "{text:?}"
            );
            let single = pieces(text, |text, on_piece| scan::<1>(text, piece_end_single_digit, on_piece));
            let scalar = pieces(text, |text, on_piece| super::super::scan(text, piece_end_single_digit, on_piece));
            assert_eq!(single, scalar, "{text:?}");
            if index % 10 == 0 {
                let by_regex = pieces(text, |text, on_piece| regex.for_each_piece(text, on_piece).expect("splits"));
                assert_eq!(blocks, by_regex, "{text:?}");
                let by_regex = pieces(text, |text, on_piece| qwen2.for_each_piece(text, on_piece).expect("splits"));
                assert_eq!(single, by_regex, "{text:?}");
            }
        }
    }

    #[test]
    fn digit_groups_count_from_the_start_of_each_run() {
        let digits = 0b1111_1110_1111_1111u64;
        assert_eq!(digit_starts::<3>(digits), 0b1001_0010_0100_1001);
        assert_eq!(digit_starts::<1>(digits), digits);
    }
}
