//! Reading a text by characters and class runs, for the hand-written scanners.

use super::classes::Classes;

/// A text and the class table; positions are byte offsets on character boundaries.
pub struct Cursor<'t> {
    text: &'t [u8],
    classes: &'static Classes,
}

impl<'t> Cursor<'t> {
    pub fn new(text: &'t str) -> Self {
        Self { text: text.as_bytes(), classes: Classes::get() }
    }

    /// The length of the text in bytes.
    #[inline]
    pub fn len(&self) -> usize {
        self.text.len()
    }

    /// The character at `at`, its class flags and its length in bytes; `None` at the end.
    ///
    /// ASCII is decided inline; other characters in a separate function, so the common path stays small enough
    /// to inline into every scanner loop (measured with callgrind: 33 instructions per byte of English went into
    /// this function when it was not inlined).
    #[allow(clippy::inline_always)] // measured: see above
    #[inline(always)]
    pub fn at(&self, at: usize) -> Option<(char, u8, usize)> {
        let &first = self.text.get(at)?;
        if first < 0x80 {
            return Some((char::from(first), self.classes.of_ascii(first), 1));
        }
        Some(self.decode(at, first))
    }

    #[inline(never)]
    fn decode(&self, at: usize, first: u8) -> (char, u8, usize) {
        // The bytes come from a `&str`, so they are valid UTF-8 and `at` starts a character.
        let (len, initial) = match first {
            0xC0..=0xDF => (2, u32::from(first & 0x1F)),
            0xE0..=0xEF => (3, u32::from(first & 0x0F)),
            _ => (4, u32::from(first & 0x07)),
        };
        let code = self.text[at + 1..at + len].iter().fold(initial, |code, &byte| (code << 6) | u32::from(byte & 0x3F));
        let c = char::from_u32(code).expect("a &str holds valid UTF-8");
        (c, self.classes.of(c), len)
    }

    /// The end of the run, from `from`, of characters with any of the flags in `mask`.
    #[inline]
    pub fn run(&self, from: usize, mask: u8) -> usize {
        let mut end = from;
        while let Some((_, flags, len)) = self.at(end) {
            if flags & mask == 0 {
                break;
            }
            end += len;
        }
        end
    }

    /// The end of the run, from `from`, of characters with none of the flags in `mask`.
    #[inline]
    pub fn run_without(&self, from: usize, mask: u8) -> usize {
        let mut end = from;
        while let Some((_, flags, len)) = self.at(end) {
            if flags & mask != 0 {
                break;
            }
            end += len;
        }
        end
    }

    /// The end of `\p{N}{1,3}` from `from`, where a number of `len` bytes starts.
    #[inline]
    pub fn up_to_three_numbers(&self, from: usize, len: usize) -> usize {
        let mut end = from + len;
        for _ in 0..2 {
            match self.at(end) {
                Some((_, flags, next_len)) if flags & super::classes::NUMBER != 0 => end += next_len,
                _ => break,
            }
        }
        end
    }

    /// The end of ` ?[^\s\p{L}\p{N}]+` followed by a run of the ASCII bytes in `then`, if it matches at `from`.
    #[inline]
    pub fn punctuation(&self, from: usize, first: char, then: &[u8]) -> Option<usize> {
        use super::classes::{LETTER, NUMBER, SPACE};
        let body = if first == ' ' { from + 1 } else { from };
        let (_, flags, _) = self.at(body)?;
        if flags & (SPACE | LETTER | NUMBER) != 0 {
            return None;
        }
        Some(self.run_of_bytes(self.run_without(body, SPACE | LETTER | NUMBER), then))
    }

    /// `\s+(?!\S)` on the white space run `from..end` that stops before a non-space: the run less its last
    /// character, when that leaves something.
    #[inline]
    pub fn space_run_before_word(&self, from: usize, end: usize) -> Option<usize> {
        let last = self.last_char_start(end);
        (last > from).then_some(last)
    }

    /// The end of the run, from `from`, of the ASCII bytes in `set`.
    #[inline]
    pub fn run_of_bytes(&self, from: usize, set: &[u8]) -> usize {
        from + self.text[from..].iter().take_while(|byte| set.contains(byte)).count()
    }

    /// The end of the whitespace run starting at `from` (`\s*`).
    #[inline]
    pub fn space_run(&self, from: usize) -> usize {
        self.run(from, super::classes::SPACE)
    }

    /// The position just past the last `\r` or `\n` in `from..to`, if there is one.
    #[inline]
    pub fn past_last_newline(&self, from: usize, to: usize) -> Option<usize> {
        // Bytes of multi-byte characters are all >= 0x80, so a byte search cannot find a false newline.
        self.text[from..to].iter().rposition(|&byte| byte == b'\r' || byte == b'\n').map(|at| from + at + 1)
    }

    /// The start of the last character of `..to`.
    #[inline]
    pub fn last_char_start(&self, to: usize) -> usize {
        let mut at = to - 1;
        while self.text[at] & 0xC0 == 0x80 {
            at -= 1;
        }
        at
    }

    /// Whether the character at `at` matches the ASCII letter `lower` case-insensitively (`(?i:...)`); its end.
    #[inline]
    pub fn folded(&self, at: usize, lower: char) -> Option<usize> {
        let (c, _, len) = self.at(at)?;
        self.classes.folds_to(c, lower).then_some(at + len)
    }

    /// Whether the byte at `at` is `byte`; the position after it.
    #[inline]
    pub fn byte(&self, at: usize, byte: u8) -> Option<usize> {
        (self.text.get(at) == Some(&byte)).then_some(at + 1)
    }
}
