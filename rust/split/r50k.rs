//! Hand-written scanner for the split pattern of r50k_base, p50k_base, p50k_edit and gpt2:
//! `'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s`.
//!
//! Each branch below is one alternative, tried in the pattern's order; the differential tests in `split/mod.rs` and
//! `tests/test_split.py` hold it to the regex engines on generated text.

use super::classes::{LETTER, NUMBER, SPACE};
use super::cursor::Cursor;

/// The end of the piece that starts at `start` (`start < text.len()`).
#[inline]
pub fn piece_end(text: &Cursor<'_>, start: usize) -> usize {
    let (first, flags, len) = text.at(start).expect("start is inside the text");
    // '(?:[sdmt]|ll|ve|re), case-sensitive.
    if first == '\'' {
        let after = start + 1;
        for single in [b's', b'd', b'm', b't'] {
            if let Some(end) = text.byte(after, single) {
                return end;
            }
        }
        for [a, b] in [*b"ll", *b"ve", *b"re"] {
            if let Some(end) = text.byte(after, a).and_then(|next| text.byte(next, b)) {
                return end;
            }
        }
    }
    // ` ?\p{L}++`, ` ?\p{N}++`, ` ?[^\s\p{L}\p{N}]++`: an optional space, then a run of one kind.
    let body = if first == ' ' { text.at(start + 1).map(|(_, next, _)| (start + 1, next)) } else { None };
    for (from, kind) in body.into_iter().chain([(start, flags)]) {
        if kind & LETTER != 0 {
            return text.run(from, LETTER);
        }
        if kind & NUMBER != 0 {
            return text.run(from, NUMBER);
        }
        if kind & (SPACE | LETTER | NUMBER) == 0 {
            return text.run_without(from, SPACE | LETTER | NUMBER);
        }
    }
    // Only white space is left: `\s++$`, then `\s+(?!\S)` (the run less its last character), then `\s`.
    let end = text.space_run(start);
    if end == text.len() {
        return end;
    }
    text.space_run_before_word(start, end).unwrap_or(start + len)
}
