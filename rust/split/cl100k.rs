//! Hand-written scanner for the split pattern of cl100k_base:
//! `'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s`.
//!
//! Each branch below is one alternative, tried in the pattern's order; the differential tests in `split/mod.rs` and
//! `tests/test_split.py` hold it to the regex engines on generated text. The same scanner with one digit per piece
//! runs [`super::QWEN2_PATTERN`].

use super::classes::{LETTER, MULTIBYTE, NUMBER};
use super::cursor::Cursor;

/// The end of the piece that starts at `start` (`start < text.len()`).
#[allow(clippy::inline_always)] // measured: see `split::scan`
#[inline(always)]
pub fn piece_end(text: &Cursor<'_>, start: usize) -> usize {
    piece_end_digits::<3>(text, start)
}

/// The end of the piece of [`super::QWEN2_PATTERN`] that starts at `start`: `\p{N}` instead of `\p{N}{1,3}+`.
#[inline]
pub fn piece_end_single_digit(text: &Cursor<'_>, start: usize) -> usize {
    piece_end_digits::<1>(text, start)
}

/// The scanner itself, with numbers cut into runs of at most `DIGITS` (1 or 3) characters.
///
/// Pieces that start with an ASCII letter, digit, punctuation character, line break or run of spaces (most pieces
/// of English and code) are decided here from the classes of their first bytes; the rest, and any piece where a byte
/// that decides it is not ASCII, go to [`piece_end_by_characters`], which follows the pattern character by
/// character.
#[allow(clippy::inline_always)] // measured: see `split::scan`
#[inline(always)]
fn piece_end_digits<const DIGITS: usize>(text: &Cursor<'_>, start: usize) -> usize {
    let (first, flags) = text.byte_at(start);
    // \p{L}++
    if flags & LETTER != 0 {
        return text.run(start + 1, LETTER);
    }
    if flags & (LETTER | NUMBER | MULTIBYTE) == 0 && first != b'\'' && first != b'\r' && first != b'\n' {
        let (_, next_flags) = text.byte_at(start + 1);
        // [^\r\n\p{L}\p{N}]?+\p{L}++
        if next_flags & LETTER != 0 {
            return text.run(start + 2, LETTER);
        }
        // The same with a letter that is not ASCII after the prefix (" слово"), without the character-level path's
        // decoding of the prefix and the tests before this one there.
        if next_flags & MULTIBYTE != 0 && text.flags_at(start + 1).is_some_and(|(flags, _)| flags & LETTER != 0) {
            return text.run(start + 1, LETTER);
        }
        //  ?[^\s\p{L}\p{N}]++[\r\n]*+
        if let Some(end) = text.ascii_punctuation(start, (first, flags), next_flags, b"\r\n") {
            return end;
        }
        // \s+(?!\S) or \s
        if let Some(end) = text.ascii_space(start, first) {
            return end;
        }
    } else if first == b'\n' {
        // \s*[\r\n]
        if let Some(end) = text.ascii_space(start, first) {
            return end;
        }
    } else if flags & NUMBER != 0 {
        // \p{N}{1,3}+ (or \p{N})
        if let Some(end) = text.ascii_number::<DIGITS>(start) {
            return end;
        }
    }
    piece_end_by_characters::<DIGITS>(text, start)
}

/// [`piece_end_digits`] character by character: any piece.
#[inline(never)]
fn piece_end_by_characters<const DIGITS: usize>(text: &Cursor<'_>, start: usize) -> usize {
    let (first, flags, len) = text.char_at(start).expect("start is inside the text");
    // '(?i:[sdmt]|ll|ve|re)
    if first == '\'' {
        if let Some(end) = contraction(text, start + 1) {
            return end;
        }
    }
    // [^\r\n\p{L}\p{N}]?+\p{L}++
    if flags & LETTER != 0 {
        return text.run(start, LETTER);
    }
    if flags & NUMBER == 0 && first != '\r' && first != '\n' {
        if let Some((_, next, _)) = text.char_at(start + len) {
            if next & LETTER != 0 {
                return text.run(start + len, LETTER);
            }
        }
    }
    // \p{N}{1,3}+ (or \p{N})
    if flags & NUMBER != 0 {
        return if DIGITS == 1 { start + len } else { text.up_to_three_numbers(start, len) };
    }
    //  ?[^\s\p{L}\p{N}]++[\r\n]*+
    if let Some(end) = text.punctuation(start, first, b"\r\n") {
        return end;
    }
    // Only white space is left. \s++$
    let end = text.space_run(start);
    if end == text.len() {
        return end;
    }
    // \s*[\r\n]: up to the last line break of the run.
    if let Some(end) = text.past_last_newline(start, end) {
        return end;
    }
    // \s+(?!\S): the run less its last character, when that leaves something; else \s.
    text.space_run_before_word(start, end).unwrap_or(start + len)
}

/// The end of `(?i:[sdmt]|ll|ve|re)` at `at`, if it matches there.
fn contraction(text: &Cursor<'_>, at: usize) -> Option<usize> {
    for single in ['s', 'd', 'm', 't'] {
        if let Some(end) = text.folded(at, single) {
            return Some(end);
        }
    }
    for [a, b] in [['l', 'l'], ['v', 'e'], ['r', 'e']] {
        if let Some(end) = text.folded(at, a).and_then(|next| text.folded(next, b)) {
            return Some(end);
        }
    }
    None
}
