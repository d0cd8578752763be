//! Hand-written scanner for the split pattern of o200k_base and o200k_harmony, whose alternatives are
//! 1. `[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?`
//! 2. `[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?`
//! 3. `\p{N}{1,3}`, 4. ` ?[^\s\p{L}\p{N}]+[\r\n/]*`, 5. `\s*[\r\n]+`, 6. `\s+(?!\S)`, 7. `\s+`.
//!
//! These alternatives backtrack (no possessive quantifiers), so each branch below gives the match a backtracking
//! engine returns; the comments say how. The differential tests in `split/mod.rs` and `tests/test_split.py` hold it
//! to the regex engines on generated text.

use super::classes::{LETTER, LOWER, MULTIBYTE, NUMBER, UPPER};
use super::cursor::Cursor;

/// The end of the piece that starts at `start` (`start < text.len()`).
///
/// Pieces that start with an ASCII letter, digit, punctuation character, line break or run of spaces (most pieces
/// of English and code) are decided here from the classes of their bytes; the rest, and any piece where a byte
/// that decides it is not ASCII, go to [`piece_end_by_characters`], which follows the pattern character by
/// character.
#[allow(clippy::inline_always)] // measured: see `split::scan`
#[inline(always)]
pub fn piece_end(text: &Cursor<'_>, start: usize) -> usize {
    let (first, flags) = text.byte_at(start);
    if flags & LETTER != 0 {
        // Alternative 1 or 2 without the prefix.
        if let Some(end) = ascii_word(text, start) {
            return end;
        }
    } else if flags & (NUMBER | MULTIBYTE) == 0 && first != b'\r' && first != b'\n' {
        let (_, next_flags) = text.byte_at(start + 1);
        if next_flags & LETTER != 0 {
            // Alternative 1 or 2 with the prefix.
            if let Some(end) = ascii_word(text, start + 1) {
                return end;
            }
        } else if let Some(end) = (next_flags & MULTIBYTE != 0).then(|| upper_then_lower(text, start + 1)).flatten() {
            // Alternative 1 with the prefix and a letter that is not ASCII (" слово"): what the character-level path
            // tries first here (the prefix is taken: it is ASCII, neither a letter nor a number nor a line break),
            // without its decoding of the prefix. Where it fails, the path below tries the rest.
            return end;
        } else if let Some(end) = text.ascii_punctuation(start, (first, flags), next_flags, b"\r\n/") {
            //  ?[^\s\p{L}\p{N}]+[\r\n/]*
            return end;
        } else if let Some(end) = text.ascii_space(start, first) {
            // \s+(?!\S) or \s+
            return end;
        }
    } else if first == b'\n' {
        // \s*[\r\n]+
        if let Some(end) = text.ascii_space(start, first) {
            return end;
        }
    } else if flags & NUMBER != 0 {
        // \p{N}{1,3}
        if let Some(end) = text.ascii_number::<3>(start) {
            return end;
        }
    }
    piece_end_by_characters(text, start)
}

/// The end of alternative 1 or 2 after the prefix, at `from`, where an ASCII letter is, when the letters are ASCII
/// and so is the character after them; `None` otherwise.
///
/// Among ASCII characters UPPER is `[A-Z]` and LOWER `[a-z]`, and none is both, so no backtracking is involved:
/// with lower-case letters after the upper-case run alternative 1 takes both runs, without them alternative 2
/// takes the upper-case run; either way the letters end where the lower-case run does.
#[allow(clippy::inline_always)] // part of `piece_end`'s fast path
#[inline(always)]
fn ascii_word(text: &Cursor<'_>, from: usize) -> Option<usize> {
    let end = text.ascii_run(text.ascii_run(from, UPPER), LOWER);
    let (after, flags) = text.byte_at(end);
    if flags & MULTIBYTE != 0 && end < text.len() {
        return None;
    }
    Some(if after == b'\'' { contraction_after_apostrophe(text, end, end + 1) } else { end })
}

/// [`piece_end`] character by character: any piece.
#[inline(never)]
fn piece_end_by_characters(text: &Cursor<'_>, start: usize) -> usize {
    let (first, flags, len) = text.at(start).expect("start is inside the text");
    // The optional prefix `[^\r\n\p{L}\p{N}]?` is tried taken first, then left out.
    let prefixed = (flags & (LETTER | NUMBER) == 0 && first != '\r' && first != '\n').then_some(start + len);
    // Both alternatives start their letters at `prefixed` or at `start` with a character of either side, so when
    // neither character has one (white space, punctuation, numbers) they cannot match. Not trying them there cut a
    // callgrind run (1 MB of English, three passes, loading included) from 479 to 448 M instructions.
    let letter_at = |at: usize| text.flags_at(at).is_some_and(|(flags, _)| flags & (UPPER | LOWER) != 0);
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
///
/// Inlined into its three callers: as a call it saved and restored its registers each time, about 20 instructions
/// (callgrind, a warm pass over the 6 MB multilingual corpus in 4 KiB documents, `encode_ordinary`: 266,000 calls).
/// Inlined, the extension's own instructions in that pass went 307.8 -> 304.8 M with o200k_base, English 231.4 ->
/// 230.0 M; timed with `benches/side_by_side.py` (lists, 5 passes, two runs): multilingual 1.048x and 1.076x, English
/// 1.086x and 1.036x, code 1.022x and 1.009x, more than the instructions say (this machine's noise is of that size).
#[allow(clippy::inline_always)] // measured: see above
#[inline(always)]
fn upper_then_lower(text: &Cursor<'_>, from: usize) -> Option<usize> {
    let mut end = from;
    let mut after_last_lower = None;
    // One decoding per character: the loop ends at the first character that is not UPPER, deciding there.
    loop {
        // Characters that are both (\p{Lm}, \p{Lo}, \p{M}) in a run of three-byte ones, in one tight loop.
        let run_end = text.three_byte_run(end, |flags| flags & (UPPER | LOWER) == UPPER | LOWER);
        if run_end > end {
            end = run_end;
            after_last_lower = Some(end);
        }
        match text.flags_at(end) {
            Some((flags, len)) if flags & UPPER != 0 => {
                end += len;
                if flags & LOWER != 0 {
                    after_last_lower = Some(end);
                }
            }
            Some((flags, len)) if flags & LOWER != 0 => return Some(contraction(text, text.run(end + len, LOWER))),
            _ => return after_last_lower.map(|end| contraction(text, end)),
        }
    }
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
