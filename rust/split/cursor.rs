//! Reading a text by characters and class runs, for the hand-written scanners.

use super::classes::{Classes, LETTER, LOWER, MULTIBYTE, NUMBER, UPPER};

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
        self.char_decoded::<false>(at)
    }

    /// The byte at `at` and its flags ([`Classes::of_byte`]); [`MULTIBYTE`] alone at the end of the text.
    #[allow(clippy::inline_always)] // the byte-level fast paths of every scanner start here
    #[inline(always)]
    pub fn byte_at(&self, at: usize) -> (u8, u8) {
        match self.text.get(at) {
            Some(&byte) => (byte, self.classes.of_byte(byte)),
            None => (0, MULTIBYTE),
        }
    }

    /// [`at`](Self::at) with the decoding of other characters inlined too, for the loops over non-ASCII text (which
    /// are themselves kept out of the ASCII paths).
    #[allow(clippy::inline_always)] // the point of this function
    #[inline(always)]
    pub fn char_at(&self, at: usize) -> Option<(char, u8, usize)> {
        self.char_decoded::<true>(at)
    }

    /// [`at`](Self::at) (`INLINE` false) or [`char_at`](Self::char_at) (true).
    #[allow(clippy::inline_always)] // both are always inlined
    #[inline(always)]
    fn char_decoded<const INLINE: bool>(&self, at: usize) -> Option<(char, u8, usize)> {
        let &first = self.text.get(at)?;
        if first < 0x80 {
            return Some((char::from(first), self.classes.of_byte(first), 1));
        }
        Some(if INLINE { self.decode_inline(at) } else { self.decode(at) })
    }

    #[inline(never)]
    fn decode(&self, at: usize) -> (char, u8, usize) {
        self.decode_inline(at)
    }

    #[allow(clippy::inline_always)] // see `char_at`
    #[inline(always)]
    fn decode_inline(&self, at: usize) -> (char, u8, usize) {
        let (code, len) = self.code_point(at);
        // Valid UTF-8 decodes to a valid `char`; the fallback, never taken, costs a conditional move where
        // `expect` cost a branch to a panic.
        (char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER), self.classes.of_code(code), len)
    }

    /// The code point of the multi-byte character at `at` and its length.
    #[allow(clippy::inline_always)] // on every per-character path
    #[inline(always)]
    fn code_point(&self, at: usize) -> (u32, usize) {
        // The callers have read this byte: the compiler reuses their load and bounds check.
        let first = self.text[at];
        // A caller that asked in the middle of a character would read a code point that is not there.
        debug_assert!(!(0x80..0xC0).contains(&first), "byte {at} is inside a character");
        // SAFETY: `self.text` is the bytes of a `&str` (see `new`), so valid UTF-8: a byte from 0xC0 up begins a
        // sequence of as many bytes as its high bits say (two below 0xE0, three below 0xF0, else four), all inside
        // the text. Any other byte (ASCII, or a continuation byte, where no caller asks) begins none, and nothing
        // after it is read.
        let byte = |offset: usize| u32::from(unsafe { *self.text.get_unchecked(at + offset) } & 0x3F);
        // Spelled out per length (measured: the general fold cost twice as much). Without a bounds check per byte
        // (callgrind, every 20th 4 KiB document to NumPy, steady state, the extension's own instructions per pass):
        // multilingual 12.3 -> 11.8 M with o200k_base, 12.75 -> 12.3 M with cl100k_base; English and code unchanged.
        match first {
            0xC0..=0xDF => ((u32::from(first & 0x1F) << 6) | byte(1), 2),
            0xE0..=0xEF => ((u32::from(first & 0x0F) << 12) | (byte(1) << 6) | byte(2), 3),
            0xF0..=0xFF => ((u32::from(first & 0x07) << 18) | (byte(1) << 12) | (byte(2) << 6) | byte(3), 4),
            _ => (u32::from(first), 1),
        }
    }

    /// The class flags and length of the character at `at`; `None` at the end. The loops over characters whose
    /// value they do not need use it: without the `char` (and `Option<char>`'s niche to test), a multi-byte
    /// character costs a decode and one table load. Measured with the flat table of [`Classes::of_code`] (callgrind,
    /// every 20th document of the multilingual corpus, 300 KB, steady state): cl100k_base 15.4 -> 13.7 M
    /// instructions per pass, o200k_base 16.8 -> 13.5 M (its loops over upper- and lower-case runs had called the
    /// out-of-line decoding per character); English unchanged.
    #[allow(clippy::inline_always)] // the loops over non-ASCII text are built on it
    #[inline(always)]
    pub fn flags_at(&self, at: usize) -> Option<(u8, usize)> {
        let &first = self.text.get(at)?;
        if first < 0x80 {
            return Some((self.classes.of_byte(first), 1));
        }
        let (code, len) = self.code_point(at);
        Some((self.classes.of_code(code), len))
    }

    /// The end of the run, from `from`, of characters with any of the flags in `mask`.
    ///
    /// Runs of ASCII letters or digits are read eight bytes at a time first (the pieces of English and code are
    /// mostly such runs), then byte by byte; [`char_run`](Self::char_run) takes over at the first non-ASCII byte.
    #[inline]
    pub fn run(&self, from: usize, mask: u8) -> usize {
        let mut end = match ascii_words_for(mask) {
            Some(in_class) => self.words_in_class(from, in_class).0,
            None => from,
        };
        while let Some(&byte) = self.text.get(end) {
            if byte >= 0x80 {
                return self.char_run(end, mask);
            }
            if self.classes.of_byte(byte) & mask == 0 {
                break;
            }
            end += 1;
        }
        end
    }

    /// [`run`](Self::run) character by character, in one call rather than a decoding call per non-ASCII character.
    /// Measured with cl100k_base's scanner using it (this 2-core machine, 6 MB in 4 KiB documents, best of 3): the
    /// split alone of multilingual text 170 -> 216 MB/s; through Python (`encode_to_numpy`, 3 MB, means of three
    /// rounds) multilingual 35.3 -> 37.5 MB/s, English 94.3 -> 96.4. o200k_base's scanner, which reaches it only from
    /// its character-level path, measured 2% slower on English and code and 1% faster on multilingual text in the same
    /// runs, though its fast path is unchanged (code layout; switching its character-level runs over too did not
    /// recover it).
    #[inline(never)]
    fn char_run(&self, from: usize, mask: u8) -> usize {
        self.char_run_where(from, |flags| flags & mask != 0)
    }

    /// The end of the run, from `from`, of characters whose flags `accept` takes, character by character: runs of
    /// two-byte and of three-byte characters by [`two_byte_run`](Self::two_byte_run) and
    /// [`three_byte_run`](Self::three_byte_run), the others one at a time, with the flags
    /// of characters past U+FFFF looked up in line (emoji and the other symbols there come in long runs of their own).
    #[allow(clippy::inline_always)] // the body of `char_run` and `char_run_without`, each out of line
    #[inline(always)]
    fn char_run_where(&self, from: usize, accept: impl Fn(u8) -> bool) -> usize {
        let mut end = from;
        loop {
            end = self.three_byte_run(self.two_byte_run(end, &accept), &accept);
            let Some(&first) = self.text.get(end) else { return end };
            let (flags, len) = if first < 0x80 {
                (self.classes.of_byte(first), 1)
            } else {
                let (code, len) = self.code_point(end);
                (self.classes.of_any_code(code), len)
            };
            if !accept(flags) {
                return end;
            }
            end += len;
        }
    }

    /// The end of the run, from `from`, of three-byte characters (U+0800 to U+FFFF) whose flags `accept` takes: the
    /// scripts written in them (CJK ideographs, kana, Hangul, Thai, Devanagari, ...) come in long runs of such
    /// characters, and this loop reads each with one range test, the decoding and a table load, without the
    /// per-character length dispatch of [`flags_at`](Self::flags_at). Measured with callgrind (1 MB of the
    /// multilingual corpus in ~4 KiB documents, `encode_ordinary`, a warm pass): o200k_base 41.7 -> 39.8 M
    /// instructions (its runs of characters both upper and lower), cl100k_base 42.0 -> 40.5 M ([`char_run`]); English
    /// unchanged.
    ///
    /// [`char_run`]: Self::char_run
    #[allow(clippy::inline_always)] // the character loops of the scanners run it first
    #[inline(always)]
    pub fn three_byte_run(&self, from: usize, accept: impl Fn(u8) -> bool) -> usize {
        let mut end = from;
        while let Some(&[first, second, third]) = self.text.get(end..end + 3) {
            if !(0xE0..=0xEF).contains(&first) {
                break;
            }
            let code = (u32::from(first & 0x0F) << 12) | (u32::from(second & 0x3F) << 6) | u32::from(third & 0x3F);
            if !accept(self.classes.of_code(code)) {
                break;
            }
            end += 3;
        }
        end
    }

    /// [`three_byte_run`](Self::three_byte_run) for two-byte characters (U+0080 to U+07FF: Cyrillic, Greek, Arabic,
    /// Hebrew, Armenian, accented Latin letters). Measured with callgrind (1 MB of the multilingual corpus as one
    /// text, `encode_ordinary`, second call): o200k_base 128.75 -> 126.52 M instructions, cl100k_base 126.07 ->
    /// 123.61 M; English unchanged (65.74 / 65.78 M).
    #[allow(clippy::inline_always)] // as `three_byte_run`
    #[inline(always)]
    fn two_byte_run(&self, from: usize, accept: impl Fn(u8) -> bool) -> usize {
        let mut end = from;
        while let Some(&[first, second]) = self.text.get(end..end + 2) {
            if !(0xC0..=0xDF).contains(&first) {
                break;
            }
            let code = (u32::from(first & 0x1F) << 6) | u32::from(second & 0x3F);
            if !accept(self.classes.of_code(code)) {
                break;
            }
            end += 2;
        }
        end
    }

    /// The end of the run, from `from`, of ASCII characters with any of the flags in `mask` (of [`LETTER`],
    /// [`NUMBER`], [`UPPER`], [`LOWER`]); the run stops at the first byte that is not ASCII.
    #[inline]
    pub fn ascii_run(&self, from: usize, mask: u8) -> usize {
        let (mut end, stopped) = self.words_in_class(from, ascii_words_for(mask).expect("a class with a word test"));
        if !stopped {
            while self.byte_at(end).1 & mask != 0 {
                end += 1;
            }
        }
        end
    }

    /// The run from `from` of bytes that `in_class` accepts, eight at a time: its end, and whether a rejected byte
    /// ends it (else fewer than eight bytes were left to read).
    #[inline]
    fn words_in_class(&self, from: usize, in_class: fn(u64) -> u64) -> (usize, bool) {
        let mut end = from;
        while let Some(word) = self.text.get(end..end + 8) {
            let outside = !in_class(u64::from_le_bytes(word.try_into().expect("eight bytes"))) & HIGH_BITS;
            if outside != 0 {
                return (end + outside.trailing_zeros() as usize / 8, true);
            }
            end += 8;
        }
        (end, false)
    }

    /// The end of `\p{N}{1,3}` (`DIGITS` 3) or `\p{N}` (`DIGITS` 1) from `start`, where an ASCII digit is; `None`
    /// when a byte after it that decides the end is not ASCII.
    #[inline]
    pub fn ascii_number<const DIGITS: usize>(&self, start: usize) -> Option<usize> {
        let mut end = start + 1;
        for _ in 1..DIGITS {
            let (_, flags) = self.byte_at(end);
            if flags & MULTIBYTE != 0 && end < self.text.len() {
                return None;
            }
            if flags & NUMBER == 0 {
                break;
            }
            end += 1;
        }
        Some(end)
    }

    /// The end of ` ?[^\s\p{L}\p{N}]+` followed by a run of the ASCII bytes in `then`, at `start`, where the
    /// ASCII character `first` with class flags `flags` is (neither a letter, a number nor a line break), followed
    /// by a byte with flags `next`; `None` when that does not match or the next byte is not ASCII.
    #[inline]
    pub fn ascii_punctuation(&self, start: usize, (first, flags): (u8, u8), next: u8, then: &[u8]) -> Option<usize> {
        use super::classes::SPACE;
        let body = if next & MULTIBYTE != 0 {
            // The next character may be a letter.
            return None;
        } else if flags & SPACE == 0 {
            start
        } else if first == b' ' && next & (SPACE | NUMBER) == 0 {
            start + 1
        } else {
            return None;
        };
        Some(self.run_of_bytes(self.run_without(body + 1, SPACE | LETTER | NUMBER), then))
    }

    /// The end of the white-space piece at `start` of the bundled patterns, when its bytes decide it: a line break
    /// followed by ASCII that is not white space is a piece of its own (`\s*[\r\n]`), and so is a run of spaces
    /// followed by such a character, less its last space when that leaves something (`\s+(?!\S)`, else `\s`);
    /// `None` for anything else.
    #[inline]
    pub fn ascii_space(&self, start: usize, first: u8) -> Option<usize> {
        use super::classes::SPACE;
        let end = match first {
            b'\n' => start + 1,
            b' ' => self.run_of_bytes(start + 1, b" "),
            _ => return None,
        };
        let (_, after) = self.byte_at(end);
        if after & (SPACE | MULTIBYTE) != 0 {
            return None;
        }
        Some(if first == b'\n' { end } else { (end - 1).max(start + 1) })
    }

    /// The end of the run, from `from`, of characters with none of the flags in `mask`: ASCII byte by byte, then
    /// [`char_run_without`](Self::char_run_without) from the first non-ASCII byte.
    #[inline]
    pub fn run_without(&self, from: usize, mask: u8) -> usize {
        let mut end = from;
        while let Some(&byte) = self.text.get(end) {
            if byte >= 0x80 {
                return self.char_run_without(end, mask);
            }
            if self.classes.of_byte(byte) & mask != 0 {
                break;
            }
            end += 1;
        }
        end
    }

    /// [`run_without`](Self::run_without) character by character, the decoding and the class lookup in line. Before,
    /// each character went through the out-of-line decoding (and, past U+FFFF, the out-of-line lookup): splitting 1
    /// MiB of random emoji (281,629 characters, one piece) took 81 instructions per character with cl100k_base, now
    /// 53 (callgrind); the whole `encode_ordinary` 85.4 -> 77.7 M instructions (o200k_base 78.4 -> 70.7 M), and
    /// 100.5-100.8 -> 111.3-114.0 MB/s (o200k_base 140.5-141.8 -> 151.2-156.4; best of 6 fresh texts per build, the
    /// builds in turns, two runs). Multilingual text and English: 0-1.1% fewer instructions.
    #[inline(never)]
    fn char_run_without(&self, from: usize, mask: u8) -> usize {
        self.char_run_where(from, |flags| flags & mask == 0)
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

/// The high bit of every byte of a `u64`: set in a byte that is not ASCII.
pub const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// `byte` in every byte of a `u64`.
pub const fn splat(byte: u8) -> u64 {
    byte as u64 * 0x0101_0101_0101_0101
}

/// The high bit of each byte of `word` that is ASCII and in `low..=high` (both ASCII).
///
/// Each byte's low seven bits plus a constant reaches 0x80 exactly when the byte is at least the bound, and never
/// carries into the next byte, so eight bytes compare at once.
#[inline]
fn ascii_between(word: u64, low: u8, high: u8) -> u64 {
    let seven = word & !HIGH_BITS;
    let at_least_low = seven + splat(0x80 - low);
    let above_high = seven + splat(0x7F - high);
    at_least_low & !above_high & !word & HIGH_BITS
}

/// The eight-byte test for the ASCII members of the class `mask`, when it has a simple one. The ASCII characters of
/// `\p{L}` are exactly `[A-Za-z]`, of `\p{N}` exactly `[0-9]`, of o200k_base's upper side `[A-Z]` and of its lower side
/// `[a-z]` (the tests check the table agrees).
#[inline]
fn ascii_words_for(mask: u8) -> Option<fn(u64) -> u64> {
    match mask {
        // Setting bit 5 maps exactly the upper-case letters onto the lower-case ones among the ASCII bytes.
        LETTER => Some(|word| ascii_between(word | splat(0x20), b'a', b'z')),
        NUMBER => Some(|word| ascii_between(word, b'0', b'9')),
        UPPER => Some(|word| ascii_between(word, b'A', b'Z')),
        LOWER => Some(|word| ascii_between(word, b'a', b'z')),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_tests_agree_with_the_class_table() {
        let classes = Classes::get();
        for mask in [LETTER, NUMBER, UPPER, LOWER] {
            let in_class = ascii_words_for(mask).expect("simple class");
            for byte in 0..=255u8 {
                let expected = byte < 0x80 && classes.of_byte(byte) & mask != 0;
                for lane in 0..8 {
                    let word = splat(b'!') & !(0xFF << (lane * 8)) | u64::from(byte) << (lane * 8);
                    let found = in_class(word) & (0x80 << (lane * 8)) != 0;
                    assert_eq!(found, expected, "mask {mask:#x}, byte {byte:#x}, lane {lane}");
                }
            }
        }
    }

    #[test]
    fn runs_cross_word_boundaries_and_stop_at_the_first_outsider() {
        for len in 0..40 {
            for stop in ["", " ", "1", "é", "éx", "_"] {
                let text = format!("{}{stop}abc", "Ab".repeat(len).chars().take(len).collect::<String>());
                let cursor = Cursor::new(&text);
                // "" and a non-ASCII letter continue the run to the end; the others end it.
                let expected = if stop.is_empty() || stop.starts_with('é') { text.len() } else { len };
                assert_eq!(cursor.run(0, LETTER), expected, "{text:?}");
            }
        }
    }
}
