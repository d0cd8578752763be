//! The Unicode character classes the bundled split patterns use, as one flag byte per code point.
//!
//! The table is built once, from the class definitions of the pinned `regex-syntax` (the tables tiktoken's regex
//! engine uses), so the scanners and the regex engines cannot disagree on what `\p{L}` or `\s` means; the tests check
//! every code point against tiktoken.

use std::sync::OnceLock;

use regex_syntax::hir::{Class, HirKind};

/// The code points of the Basic Multilingual Plane.
const PLANE0: usize = 0x1_0000;

/// A letter: `\p{L}`.
pub const LETTER: u8 = 1;
/// A number: `\p{N}`.
pub const NUMBER: u8 = 1 << 1;
/// White space: `\s`.
pub const SPACE: u8 = 1 << 2;
/// o200k_base's upper-case side: `[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]`.
pub const UPPER: u8 = 1 << 3;
/// o200k_base's lower-case side: `[\p{Ll}\p{Lm}\p{Lo}\p{M}]`.
pub const LOWER: u8 = 1 << 4;
/// Not a class of the patterns: a character other than ASCII that `(?i:x)` matches for some ASCII letter `x` (U+017F
/// for `s`, U+212A for `k`), so that it may end a contraction. The block-level split leaves these to the scanners.
pub const FOLDS_TO_ASCII: u8 = 1 << 5;
/// Not a class: the flag [`Classes::of_byte`] gives a byte of a multi-byte character (and the scanners' byte-level
/// fast paths give the end of the text), where they leave the decision to the character-level code.
pub const MULTIBYTE: u8 = 1 << 7;

/// The classes of every code point: those of the Basic Multilingual Plane in a flat table, the rest in blocks of 256
/// shared between identical blocks.
pub struct Classes {
    /// The flags of each byte: an ASCII character's classes, [`MULTIBYTE`] for the rest.
    bytes: [u8; 256],
    /// The flags of each code point below U+10000 (64 KiB). Nearly every character of real text is there, and one
    /// load indexed by the code point replaces two dependent ones and their bounds checks.
    plane0: Box<[u8; PLANE0]>,
    /// The block of each 256 code points from U+10000 on.
    block_of: Vec<u16>,
    blocks: Vec<[u8; 256]>,
    /// For each ASCII lower-case letter, the non-ASCII characters `(?i:x)` also matches (U+017F for `s`, U+212A
    /// for `k`).
    folds: Vec<Vec<char>>,
    /// For each first byte of a two-byte character (0xC0 to 0xDF, by its low five bits), the sets of [`TwoByte`] among
    /// the characters it begins (see [`two_byte`](Self::two_byte)).
    two_byte: [TwoByte; 32],
}

/// The characters of two bytes that share a first byte, by the low six bits of the second. None of them folds to an
/// ASCII letter.
#[derive(Debug, Default, Clone, Copy)]
pub struct TwoByte {
    /// Letters (`\p{L}`).
    pub letters: u64,
    /// Characters that are neither letters, numbers nor white space.
    pub others: u64,
    /// Letters on o200k_base's upper-case side alone ([`UPPER`] without [`LOWER`]: `\p{Lu}`, `\p{Lt}`).
    pub upper: u64,
    /// Letters on its lower-case side alone (`\p{Ll}`).
    pub lower: u64,
    /// [`others`](Self::others) outside both sides, which hold the marks (`\p{M}`).
    pub others_outside_words: u64,
}

impl Classes {
    /// The table, built on first use (a few milliseconds).
    pub fn get() -> &'static Classes {
        static TABLE: OnceLock<Classes> = OnceLock::new();
        TABLE.get_or_init(Classes::build)
    }

    fn build() -> Classes {
        let mut flags = vec![0u8; 0x11_0000];
        let classes: [(&str, u8); 7] = [
            (r"\p{L}", LETTER),
            (r"\p{N}", NUMBER),
            (r"\s", SPACE),
            (r"\p{Lu}", UPPER),
            (r"\p{Lt}", UPPER),
            (r"[\p{Lm}\p{Lo}\p{M}]", UPPER | LOWER),
            (r"\p{Ll}", LOWER),
        ];
        for (class, flag) in classes {
            for (start, end) in ranges(class) {
                for slot in &mut flags[start as usize..=end as usize] {
                    *slot |= flag;
                }
            }
        }
        let folds: Vec<Vec<char>> = ('a'..='z')
            .map(|letter| {
                ranges(&format!("(?i:{letter})"))
                    .into_iter()
                    .flat_map(|(start, end)| (start..=end).filter_map(char::from_u32))
                    .filter(|c| !c.is_ascii())
                    .collect()
            })
            .collect();
        for &folded in folds.iter().flatten() {
            flags[folded as usize] |= FOLDS_TO_ASCII;
        }
        let mut bytes = [MULTIBYTE; 256];
        bytes[..128].copy_from_slice(&flags[..128]);
        let plane0 = flags[..PLANE0].to_vec().into_boxed_slice().try_into().expect("PLANE0 flags");
        let mut blocks: Vec<[u8; 256]> = Vec::new();
        let mut block_of = Vec::with_capacity((flags.len() - PLANE0) / 256);
        for chunk in flags[PLANE0..].chunks_exact(256) {
            let block: [u8; 256] = chunk.try_into().expect("chunks of 256");
            let index = blocks.iter().position(|known| *known == block).unwrap_or_else(|| {
                blocks.push(block);
                blocks.len() - 1
            });
            block_of.push(u16::try_from(index).expect("at most 4096 blocks"));
        }
        let mut two_byte = [TwoByte::default(); 32];
        for (code, &class) in flags.iter().enumerate().take(0x800).skip(0x80) {
            let (lead, bit) = (code >> 6, 1 << (code & 0x3F));
            let set = &mut two_byte[lead & 0x1F];
            match class & (LETTER | NUMBER | SPACE | FOLDS_TO_ASCII) {
                LETTER => set.letters |= bit,
                0 => set.others |= bit,
                _ => {}
            }
            match class & (LETTER | NUMBER | SPACE | UPPER | LOWER | FOLDS_TO_ASCII) {
                cased if cased == LETTER | UPPER => set.upper |= bit,
                cased if cased == LETTER | LOWER => set.lower |= bit,
                0 => set.others_outside_words |= bit,
                _ => {}
            }
        }
        Classes { bytes, plane0, block_of, blocks, folds, two_byte }
    }

    /// The class flags of an ASCII byte; [`MULTIBYTE`] for the bytes of multi-byte characters.
    #[inline]
    pub fn of_byte(&self, byte: u8) -> u8 {
        self.bytes[usize::from(byte)]
    }

    /// The class flags of the code point `code` (at most U+10FFFF).
    #[allow(clippy::inline_always)] // one load on the scanners' per-character path
    #[inline(always)]
    pub fn of_code(&self, code: u32) -> u8 {
        match u16::try_from(code) {
            Ok(code) => self.plane0[usize::from(code)],
            Err(_) => self.of_supplementary(code),
        }
    }

    /// [`of_code`](Self::of_code) with the lookup past U+FFFF in line too, for the loops over runs of characters
    /// that may all lie there (emoji).
    #[allow(clippy::inline_always)] // see `of_code`
    #[inline(always)]
    pub fn of_any_code(&self, code: u32) -> u8 {
        match u16::try_from(code) {
            Ok(code) => self.plane0[usize::from(code)],
            Err(_) => self.supplementary(code),
        }
    }

    #[cold]
    #[inline(never)]
    fn of_supplementary(&self, code: u32) -> u8 {
        self.supplementary(code)
    }

    #[allow(clippy::inline_always)] // the body of `of_supplementary` and `of_any_code`
    #[inline(always)]
    fn supplementary(&self, code: u32) -> u8 {
        self.blocks[usize::from(self.block_of[(code as usize - PLANE0) >> 8])][(code & 0xFF) as usize]
    }

    /// The sets of [`TwoByte`] among the two-byte characters whose first byte is `lead` (0xC0 to 0xDF):
    /// one load where the block-level split classifies a character of accented Latin, Greek, Cyrillic, Hebrew or
    /// Arabic.
    #[inline]
    pub fn two_byte(&self, lead: u8) -> TwoByte {
        self.two_byte[usize::from(lead & 0x1F)]
    }

    /// Whether `c` matches the ASCII letter `lower` case-insensitively, as `(?i:...)` folds it.
    #[inline]
    pub fn folds_to(&self, c: char, lower: char) -> bool {
        if c.is_ascii() {
            return c.to_ascii_lowercase() == lower;
        }
        lower.is_ascii_lowercase() && self.folds[(lower as u8 - b'a') as usize].contains(&c)
    }
}

/// The ranges of a class expression, as parsed by the pinned `regex-syntax`.
fn ranges(class: &str) -> Vec<(u32, u32)> {
    let hir = regex_syntax::parse(class).expect("fixed, valid class expressions");
    match hir.kind() {
        HirKind::Class(Class::Unicode(unicode)) => {
            unicode.ranges().iter().map(|range| (range.start() as u32, range.end() as u32)).collect()
        }
        other => unreachable!("{class} parses to a Unicode class, not {other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_of_familiar_characters() {
        let classes = Classes::get();
        assert_eq!(classes.of_code('a' as u32), LETTER | LOWER);
        assert_eq!(classes.of_code('A' as u32), LETTER | UPPER);
        assert_eq!(classes.of_code('7' as u32), NUMBER);
        assert_eq!(classes.of_code(' ' as u32), SPACE);
        assert_eq!(classes.of_code('\u{3000}' as u32), SPACE);
        assert_eq!(classes.of_code('中' as u32), LETTER | UPPER | LOWER);
        assert_eq!(classes.of_code('\u{301}' as u32), UPPER | LOWER); // a combining mark is not a letter
        assert_eq!(classes.of_code('!' as u32), 0);
        // Beyond the flat table of the Basic Multilingual Plane, and at its edges.
        assert_eq!(classes.of_code('\u{1D400}' as u32), LETTER | UPPER); // MATHEMATICAL BOLD CAPITAL A
        assert_eq!(classes.of_code('\u{20000}' as u32), LETTER | UPPER | LOWER); // a CJK ideograph
        assert_eq!(classes.of_code('\u{1F600}' as u32), 0); // an emoji
        assert_eq!(classes.of_code('\u{FFFD}' as u32), 0);
        assert_eq!(classes.of_code('\u{10000}' as u32), LETTER | UPPER | LOWER); // LINEAR B SYLLABLE B008 A
        assert_eq!(classes.of_code('\u{17F}' as u32), LETTER | LOWER | FOLDS_TO_ASCII); // LATIN SMALL LETTER LONG S
        assert_eq!(classes.of_code('\u{212A}' as u32), LETTER | UPPER | FOLDS_TO_ASCII); // KELVIN SIGN
        assert!(classes.folds_to('\u{17F}', 's'));
        assert!(classes.folds_to('S', 's'));
        assert!(!classes.folds_to('\u{17F}', 't'));
    }

    #[test]
    fn two_byte_sets_agree_with_the_flags() {
        let classes = Classes::get();
        for code in 0x80..0x800u32 {
            let c = char::from_u32(code).expect("below the surrogates");
            let mut bytes = [0; 2];
            c.encode_utf8(&mut bytes);
            let set = classes.two_byte(bytes[0]);
            let has = |bits: u64| bits >> (bytes[1] & 0x3F) & 1 != 0;
            let flags = classes.of_code(code);
            assert_eq!(has(set.letters), flags & (LETTER | FOLDS_TO_ASCII) == LETTER, "{c:?}");
            assert_eq!(has(set.others), flags & (LETTER | NUMBER | SPACE | FOLDS_TO_ASCII) == 0, "{c:?}");
            let cased = flags & (LETTER | NUMBER | SPACE | UPPER | LOWER | FOLDS_TO_ASCII);
            assert_eq!(has(set.upper), cased == LETTER | UPPER, "{c:?}");
            assert_eq!(has(set.lower), cased == LETTER | LOWER, "{c:?}");
            assert_eq!(has(set.others_outside_words), cased == 0, "{c:?}");
            assert!(!has(set.upper | set.lower) || has(set.letters), "{c:?}");
        }
        let cyrillic = classes.two_byte(0xD0); // U+0400 to U+043F: all letters
        assert_eq!((cyrillic.letters, cyrillic.others), (u64::MAX, 0));
    }
}
