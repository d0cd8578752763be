//! Normalizers of a `tokenizer.json` (NFC, NFKC, Lowercase, Prepend, Replace), keeping for each normalized byte
//! the range of original bytes it came from, so that token offsets point into the text the caller gave.
//!
//! The alignment rules are those of `tokenizers`' `NormalizedString::transform`: a normalizer yields each new
//! character with a change (`0` replaces the next original character, `1` inserts one, `-n` replaces one and
//! removes the `n` after it). A replacing character takes the alignment of the character it replaces, an inserted
//! one that of the byte before it. NFC and NFKC use `unicode-normalization-alignments`, the crate (and Unicode
//! 9.0 tables) `tokenizers` uses, so both the text and the changes are the same.

use std::borrow::Cow;

use unicode_normalization_alignments::{is_nfc_quick, is_nfkc_quick, IsNormalized, UnicodeNormalization};

use super::pattern::Pattern;
use crate::error::EncodeError;

/// One normalizer step.
#[derive(Debug)]
pub enum Normalizer {
    /// Canonical composition.
    Nfc,
    /// Compatibility composition.
    Nfkc,
    /// `char::to_lowercase`, character by character.
    Lowercase,
    /// Puts this text before a non-empty text.
    Prepend(String),
    /// Replaces every match of the pattern with the content.
    Replace(Pattern, String),
}

impl Normalizer {
    /// Whether this normalizer is known to leave `text` as it is without running it: NFC and NFKC on all-ASCII
    /// text, or text the Unicode quick check finds already in the form (most text). Measured: Qwen2's NFC call on
    /// the multilingual sample spent most of its time normalizing text that was already NFC.
    pub fn surely_leaves(&self, text: &str) -> bool {
        match self {
            Self::Nfc => text.is_ascii() || is_nfc_quick(text.chars()) == IsNormalized::Yes,
            Self::Nfkc => text.is_ascii() || is_nfkc_quick(text.chars()) == IsNormalized::Yes,
            Self::Lowercase | Self::Prepend(_) | Self::Replace(..) => false,
        }
    }
}

/// Text after normalization, with the original byte range of each of its bytes.
#[derive(Debug, Clone)]
pub struct Normalized<'t> {
    /// The normalized text.
    pub text: Cow<'t, str>,
    /// Original byte range of each byte of `text`; `None` while `text` is the original text starting at `base`.
    alignments: Option<Vec<(usize, usize)>>,
    /// Where this text starts in the original text.
    base: usize,
}

impl<'t> Normalized<'t> {
    /// Text not yet normalized, which starts at byte `base` of the original text.
    pub fn identity(text: &'t str, base: usize) -> Self {
        Self { text: Cow::Borrowed(text), alignments: None, base }
    }

    /// The original byte range of the normalized bytes `start..end` (non-empty), widened to whole characters: a
    /// token that holds some of a character's bytes points at the whole character, as in `tokenizers`.
    pub fn original_range(&self, start: usize, end: usize) -> (usize, usize) {
        match &self.alignments {
            None => {
                let mut end = end;
                while !self.text.is_char_boundary(end) {
                    end += 1;
                }
                (self.base + start, self.base + end)
            }
            Some(alignments) => (alignments[start].0, alignments[end - 1].1),
        }
    }

    /// The part `start..end` of this text, on character boundaries.
    pub fn slice(&self, start: usize, end: usize) -> Normalized<'_> {
        match &self.alignments {
            None => Normalized::identity(&self.text[start..end], self.base + start),
            Some(alignments) => Normalized {
                text: Cow::Borrowed(&self.text[start..end]),
                alignments: Some(alignments[start..end].to_vec()),
                base: alignments.get(start).map_or(self.base, |a| a.0),
            },
        }
    }

    /// The original range of the character that holds normalized byte `byte` (every byte of a character has it).
    fn alignment(&self, byte: usize) -> (usize, usize) {
        match &self.alignments {
            None => {
                let mut start = byte;
                while !self.text.is_char_boundary(start) {
                    start -= 1;
                }
                let len = self.text[start..].chars().next().map_or(1, char::len_utf8);
                (self.base + start, self.base + start + len)
            }
            Some(alignments) => alignments[byte],
        }
    }

    /// Alignment of each byte of each character, expanded from the identity when there is none yet.
    fn char_alignment(&self, start: usize, len: usize) -> (usize, usize) {
        match &self.alignments {
            None => (self.base + start, self.base + start + len),
            Some(alignments) => alignments[start],
        }
    }

    /// Replaces the text by `changes` (see the module docs), after dropping its first `initial_removed` characters.
    fn transform(&mut self, changes: impl IntoIterator<Item = (char, isize)>, initial_removed: usize) {
        let old = &self.text;
        let mut old_chars = old.char_indices().map(|(at, c)| (at, c.len_utf8())).peekable();
        let mut offset = 0;
        for _ in 0..initial_removed {
            if let Some((at, len)) = old_chars.next() {
                offset = at + len;
            }
        }
        let mut text = String::with_capacity(old.len());
        let mut alignments = Vec::with_capacity(old.len());
        for (c, change) in changes {
            let alignment = if change > 0 {
                if offset == 0 {
                    (self.base, self.base)
                } else {
                    self.alignment(offset - 1)
                }
            } else {
                let (at, len) = old_chars.next().expect("a replacing change has an original character to replace");
                let alignment = self.char_alignment(at, len);
                offset = at + len;
                for _ in 0..change.unsigned_abs() {
                    if let Some((at, len)) = old_chars.next() {
                        offset = at + len;
                    }
                }
                alignment
            };
            text.push(c);
            alignments.extend(std::iter::repeat(alignment).take(c.len_utf8()));
        }
        self.text = Cow::Owned(text);
        self.alignments = Some(alignments);
    }

    /// Applies one normalizer.
    pub fn apply(&mut self, normalizer: &Normalizer) -> Result<(), EncodeError> {
        match normalizer {
            Normalizer::Nfc | Normalizer::Nfkc => {
                if normalizer.surely_leaves(&self.text) {
                    return Ok(());
                }
                let changes: Vec<(char, isize)> = if matches!(normalizer, Normalizer::Nfc) {
                    self.text.nfc().collect()
                } else {
                    self.text.nfkc().collect()
                };
                if changes.len() == self.text.chars().count()
                    && changes.iter().zip(self.text.chars()).all(|(&(new, change), old)| change == 0 && new == old)
                {
                    return Ok(());
                }
                self.transform(changes, 0);
            }
            Normalizer::Lowercase => {
                let changes: Vec<(char, isize)> = self
                    .text
                    .chars()
                    .flat_map(|c| c.to_lowercase().enumerate().map(|(i, lower)| (lower, isize::from(i > 0))))
                    .collect();
                self.transform(changes, 0);
            }
            Normalizer::Prepend(prefix) => self.prepend(prefix),
            Normalizer::Replace(pattern, content) => self.replace(pattern, content)?,
        }
        Ok(())
    }

    /// Puts `prefix` before the text, aligned with the text's first character; nothing happens to empty text.
    pub fn prepend(&mut self, prefix: &str) {
        let Some(first) = self.text.chars().next() else { return };
        let changes: Vec<(char, isize)> = prefix
            .chars()
            .enumerate()
            .map(|(i, c)| (c, isize::from(i > 0)))
            .chain(std::iter::once((first, 1)))
            .chain(self.text.chars().skip(1).map(|c| (c, 0)))
            .collect();
        self.transform(changes, 0);
    }

    /// Inserts a space before each of the byte offsets `positions` (ascending, on character boundaries), aligned
    /// with the character there.
    pub fn insert_spaces(&mut self, positions: &[usize]) {
        let mut text = String::with_capacity(self.text.len() + positions.len());
        let mut alignments = Vec::with_capacity(self.text.len() + positions.len());
        let mut positions = positions.iter().peekable();
        for (at, c) in self.text.char_indices() {
            let alignment = self.char_alignment(at, c.len_utf8());
            if positions.next_if_eq(&&at).is_some() {
                text.push(' ');
                alignments.push(alignment);
            }
            text.push(c);
            alignments.extend(std::iter::repeat(alignment).take(c.len_utf8()));
        }
        self.text = Cow::Owned(text);
        self.alignments = Some(alignments);
    }

    fn replace(&mut self, pattern: &Pattern, content: &str) -> Result<(), EncodeError> {
        let mut matches = Vec::new();
        pattern.find_matches(&self.text, &mut matches)?;
        if !matches.iter().any(|&(_, _, is_match)| is_match) {
            return Ok(());
        }
        // Each replacement character is inserted after the removed match, so it takes the alignment of the
        // match's last byte (or an empty one at the very start), as `NormalizedString::replace` gives.
        let mut text = String::with_capacity(self.text.len());
        let mut alignments = Vec::with_capacity(self.text.len());
        for (start, end, is_match) in matches {
            if is_match {
                let alignment = if end == 0 { (self.base, self.base) } else { self.alignment(end - 1) };
                for c in content.chars() {
                    text.push(c);
                    alignments.extend(std::iter::repeat(alignment).take(c.len_utf8()));
                }
            } else {
                text.push_str(&self.text[start..end]);
                alignments.extend((start..end).map(|byte| self.alignment(byte)));
            }
        }
        self.text = Cow::Owned(text);
        self.alignments = Some(alignments);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranges(normalized: &Normalized<'_>) -> Vec<(usize, usize)> {
        (0..normalized.text.len()).map(|byte| normalized.original_range(byte, byte + 1)).collect()
    }

    #[test]
    fn nfc_composes_and_aligns_to_the_base_character() {
        let mut text = Normalized::identity("e\u{301}x", 10);
        text.apply(&Normalizer::Nfc).expect("normalizes");
        assert_eq!(text.text, "\u{e9}x");
        assert_eq!(ranges(&text), [(10, 11), (10, 11), (13, 14)]);
    }

    #[test]
    fn prepend_aligns_the_prefix_with_the_first_character() {
        let mut text = Normalized::identity("ab", 0);
        text.prepend("__");
        assert_eq!(text.text, "__ab");
        assert_eq!(ranges(&text), [(0, 1), (0, 1), (0, 1), (1, 2)]);
        let mut empty = Normalized::identity("", 0);
        empty.prepend("__");
        assert_eq!(empty.text, "");
    }

    #[test]
    fn lowercase_keeps_each_character_aligned() {
        let mut text = Normalized::identity("A\u{130}", 0);
        text.apply(&Normalizer::Lowercase).expect("normalizes");
        assert_eq!(text.text, "ai\u{307}");
        assert_eq!(ranges(&text), [(0, 1), (1, 3), (1, 3), (1, 3)]);
    }
}
