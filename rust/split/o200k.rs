//! Hand-written scanner for the split pattern of o200k_base and o200k_harmony, whose alternatives are
//! 1. `[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?`
//! 2. `[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?`
//! 3. `\p{N}{1,3}`, 4. ` ?[^\s\p{L}\p{N}]+[\r\n/]*`, 5. `\s*[\r\n]+`, 6. `\s+(?!\S)`, 7. `\s+`.
//!
//! These alternatives backtrack (no possessive quantifiers), so each branch below gives the match a backtracking
//! engine returns; the comments say how. The differential tests in `split/mod.rs` and `tests/test_split.py` hold it
//! to the regex engines on generated text.

use super::classes::{LETTER, LOWER, NUMBER, UPPER};
use super::cursor::Cursor;

/// The end of the piece that starts at `start` (`start < text.len()`).
#[inline]
pub fn piece_end(text: &Cursor<'_>, start: usize) -> usize {
    let (first, flags, len) = text.at(start).expect("start is inside the text");
    // The optional prefix `[^\r\n\p{L}\p{N}]?` is tried taken first, then left out.
    let prefixed = (flags & (LETTER | NUMBER) == 0 && first != '\r' && first != '\n').then_some(start + len);
    // Both alternatives start their letters at `prefixed` or at `start` with a character of either side, so when
    // neither character has one (white space, punctuation, numbers) they cannot match. Not trying them there cut a
    // callgrind run (1 MB of English, three passes, loading included) from 479 to 448 M instructions.
    let letter_at = |at: usize| text.at(at).is_some_and(|(_, flags, _)| flags & (UPPER | LOWER) != 0);
    if flags & (UPPER | LOWER) != 0 || prefixed.is_some_and(letter_at) {
        for from in prefixed.into_iter().chain([start]) {
            if let Some(end) = upper_then_lower(text, from) {
                return end;
            }
        }
        for from in prefixed.into_iter().chain([start]) {
            if let Some(end) = upper_and_lower(text, from) {
                return end;
            }
        }
    }
    // \p{N}{1,3}
    if flags & NUMBER != 0 {
        return text.up_to_three_numbers(start, len);
    }
    //  ?[^\s\p{L}\p{N}]+[\r\n/]*
    if let Some(end) = text.punctuation(start, first, b"\r\n/") {
        return end;
    }
    // Only white space is left. \s*[\r\n]+: \s* backs off to the last line break of the run, and [\r\n]+ then
    // takes it alone (nothing after it in the run is a line break).
    let end = text.space_run(start);
    if let Some(end) = text.past_last_newline(start, end) {
        return end;
    }
    // \s+(?!\S): the whole run at the end of the text, else the run less its last character when that leaves
    // something; else \s+, which is then one character.
    if end == text.len() {
        return end;
    }
    text.space_run_before_word(start, end).unwrap_or(end)
}

/// Alternative 1 from `from`, after the prefix: `[UPPER]*[LOWER]+` then an optional contraction.
///
/// `[UPPER]*` takes its whole run first. If the character after the run is LOWER (then it is `\p{Ll}`), `[LOWER]+`
/// takes the LOWER run from there. Otherwise the engine backs `[UPPER]*` off one character at a time until
/// `[LOWER]+` can start: at the last character of the run that is both (`\p{Lm}`, `\p{Lo}` or `\p{M}`), and
/// `[LOWER]+` ends right after it, since everything later in the run is `\p{Lu}` or `\p{Lt}`.
fn upper_then_lower(text: &Cursor<'_>, from: usize) -> Option<usize> {
    let mut end = from;
    let mut after_last_lower = None;
    while let Some((_, flags, len)) = text.at(end) {
        if flags & UPPER == 0 {
            break;
        }
        end += len;
        if flags & LOWER != 0 {
            after_last_lower = Some(end);
        }
    }
    let end = match text.at(end) {
        Some((_, flags, _)) if flags & LOWER != 0 => text.run(end, LOWER),
        _ => after_last_lower?,
    };
    Some(contraction(text, end))
}

/// Alternative 2 from `from`, after the prefix: `[UPPER]+[LOWER]*` then an optional contraction.
fn upper_and_lower(text: &Cursor<'_>, from: usize) -> Option<usize> {
    let upper_end = text.run(from, UPPER);
    if upper_end == from {
        return None;
    }
    Some(contraction(text, text.run(upper_end, LOWER)))
}

/// The end of an optional `(?i:'s|'t|'re|'ve|'m|'ll|'d)` at `at`. The test for the apostrophe is inlined into
/// every word (measured with callgrind: the call cost 14 instructions per word); the rest is not.
#[inline]
fn contraction(text: &Cursor<'_>, at: usize) -> usize {
    match text.byte(at, b'\'') {
        Some(after) => contraction_after_apostrophe(text, at, after),
        None => at,
    }
}

/// [`contraction`] at `at`, where an apostrophe ends at `after`.
#[inline(never)]
fn contraction_after_apostrophe(text: &Cursor<'_>, at: usize, after: usize) -> usize {
    for single in ['s', 't'] {
        if let Some(end) = text.folded(after, single) {
            return end;
        }
    }
    for [a, b] in [['r', 'e'], ['v', 'e']] {
        if let Some(end) = text.folded(after, a).and_then(|next| text.folded(next, b)) {
            return end;
        }
    }
    if let Some(end) = text.folded(after, 'm') {
        return end;
    }
    if let Some(end) = text.folded(after, 'l').and_then(|next| text.folded(next, 'l')) {
        return end;
    }
    text.folded(after, 'd').unwrap_or(at)
}
