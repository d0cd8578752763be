//! What a `Split` pre-tokenizer or a `Replace` normalizer looks for: a regex, a literal string, or digits.
//!
//! Hugging Face runs regexes with Oniguruma. Most tokenizer.json patterns are regular except for one
//! `\s+(?!\S)` alternative (GPT-2's idiom), so they are compiled for `regex-automata` (linear time, no stack)
//! with that alternative rewritten as in `rust/split/regex.rs`: `\s+\z`, or `\s\s+\S` shortened by its last two
//! characters. Alternatives keep their order under leftmost-first matching, which is what a backtracking engine
//! gives for regular alternatives. Any other pattern (other look-arounds, possessive quantifiers, back-references)
//! runs on `fancy-regex`. Oniguruma's `$` and `^` (Ruby syntax) are line anchors, so they become `(?m:$)` and
//! `(?m:^)`. `tests/test_huggingface.py` compares the pieces with `tokenizers` on the corpora and generated text.

use regex_automata::meta;
use regex_automata::{Anchored, Input, MatchKind};

use crate::error::EncodeError;
use crate::split::{Splitter, CL100K_PATTERN, QWEN2_PATTERN};

/// cl100k_base's pattern as tiktoken first published it, which Llama 3 (and other models) ship in their Split
/// pre-tokenizer. tiktoken later rewrote it into [`CL100K_PATTERN`] with possessive quantifiers, splitting the same;
/// so it runs on bytepair's cl100k scanner (measured: `benches/huggingface.py --model llama3` went from 7.0 to
/// 10.4 MB/s). `tests/test_huggingface.py` holds the pieces to tokenizers' on the corpora and a code point sweep.
const CL100K_ORIGINAL_PATTERN: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// The same pattern with `\p{N}` for `\p{N}{1,3}`, as Qwen2 ships it: runs on the same scanner, one digit per piece
/// ([`QWEN2_PATTERN`]).
const QWEN2_ORIGINAL_PATTERN: &str =
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// What one match of a rewritten alternative becomes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Piece {
    Whole,
    DropLastTwoChars,
}

/// A pattern to find in text.
#[derive(Debug)]
pub struct Pattern(Kind);

#[derive(Debug)]
enum Kind {
    /// A regex compiled for `regex-automata`, one pattern per alternative.
    Automaton {
        /// The alternatives, leftmost-first.
        regex: meta::Regex,
        /// What each alternative's match becomes, by pattern id.
        pieces: Vec<Piece>,
    },
    /// A regex `regex-automata` cannot run.
    Backtracking(fancy_regex::Regex),
    /// A bytepair split engine (the scanner behind GPT-2's ByteLevel regex).
    Splitter(Splitter),
    /// A literal string.
    Literal(String),
    /// Each numeric character on its own (`char::is_numeric`, as `tokenizers`' `Digits`).
    Numeric,
}

impl Pattern {
    /// Compiles a tokenizer.json regex; the error is the engine's message.
    pub fn regex(pattern: &str) -> Result<Self, String> {
        let scanned = match pattern {
            CL100K_ORIGINAL_PATTERN => Some(CL100K_PATTERN),
            QWEN2_ORIGINAL_PATTERN => Some(QWEN2_PATTERN),
            _ => None,
        };
        if let Some(scanned) = scanned {
            let splitter = Splitter::new(scanned).expect("the bundled pattern compiles");
            return Ok(Self(Kind::Splitter(splitter)));
        }
        let pattern = line_anchors(pattern);
        if let Some(automaton) = automaton(&pattern) {
            return Ok(Self(automaton));
        }
        fancy_regex::RegexBuilder::new(&pattern)
            .backtrack_limit(usize::MAX)
            .build()
            .map(|regex| Self(Kind::Backtracking(regex)))
            .map_err(|err| err.to_string())
    }

    /// A literal string.
    pub fn literal(text: &str) -> Self {
        Self(Kind::Literal(text.to_owned()))
    }

    /// Each numeric character (`char::is_numeric`) on its own, as `tokenizers`' `Digits`.
    pub fn numeric() -> Self {
        Self(Kind::Numeric)
    }

    /// A bytepair split engine.
    pub(crate) fn splitter(splitter: Splitter) -> Self {
        Self(Kind::Splitter(splitter))
    }

    /// The bytepair split engine this pattern runs on, if it is one (its matches then cover the whole text).
    pub(crate) fn as_splitter(&self) -> Option<&Splitter> {
        match &self.0 {
            Kind::Splitter(splitter) => Some(splitter),
            _ => None,
        }
    }

    /// Whether this pattern runs in linear time.
    pub fn is_linear(&self) -> bool {
        match &self.0 {
            Kind::Backtracking(_) => false,
            Kind::Splitter(splitter) => splitter.is_linear(),
            Kind::Automaton { .. } | Kind::Literal(_) | Kind::Numeric => true,
        }
    }

    /// Appends to `out` the parts of `text` in order, each `(start, end, is_match)`, together covering `text`
    /// (an empty text is one empty non-match), as `tokenizers`' `Pattern::find_matches`.
    pub fn find_matches(&self, text: &str, out: &mut Vec<(usize, usize, bool)>) -> Result<(), EncodeError> {
        if text.is_empty() {
            out.push((0, 0, false));
            return Ok(());
        }
        let mut covered = 0;
        let mut on_match = |start: usize, end: usize| {
            if covered < start {
                out.push((covered, start, false));
            }
            out.push((start, end, true));
            covered = end;
        };
        match &self.0 {
            Kind::Automaton { regex, pieces } => {
                let mut at = 0;
                while at < text.len() {
                    let input = Input::new(text).range(at..);
                    let found = regex.search(&input.clone().anchored(Anchored::Yes)).or_else(|| regex.search(&input));
                    let Some(found) = found else { break };
                    let end = match pieces[found.pattern().as_usize()] {
                        Piece::Whole => found.end(),
                        Piece::DropLastTwoChars => {
                            text[..found.end()].char_indices().nth_back(1).map_or(found.start(), |(at, _)| at)
                        }
                    };
                    on_match(found.start(), end);
                    at = if end > found.start() { end } else { next_char(text, end) };
                }
            }
            Kind::Backtracking(regex) => {
                for found in regex.find_iter(text) {
                    let found = found.map_err(|err| EncodeError::Split { offset: 0, message: err.to_string() })?;
                    on_match(found.start(), found.end());
                }
            }
            Kind::Splitter(splitter) => splitter.for_each_piece(text, &mut on_match)?,
            Kind::Literal(literal) => {
                if !literal.is_empty() {
                    for (start, found) in text.match_indices(literal.as_str()) {
                        on_match(start, start + found.len());
                    }
                }
            }
            Kind::Numeric => {
                for (start, c) in text.char_indices().filter(|(_, c)| c.is_numeric()) {
                    on_match(start, start + c.len_utf8());
                }
            }
        }
        if covered < text.len() {
            out.push((covered, text.len(), false));
        }
        Ok(())
    }
}

fn next_char(text: &str, at: usize) -> usize {
    text[at..].chars().next().map_or(text.len(), |c| at + c.len_utf8())
}

/// Rewrites Oniguruma's line anchors `^` and `$` (outside character classes) for engines where they mean the text's
/// ends.
fn line_anchors(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut class_depth = 0usize;
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                out.push(c);
                if let Some(escaped) = chars.next() {
                    out.push(escaped);
                }
            }
            '[' => {
                class_depth += 1;
                out.push(c);
                if chars.peek() == Some(&'^') {
                    out.push(chars.next().expect("peeked"));
                }
                if chars.peek() == Some(&']') {
                    out.push(chars.next().expect("peeked"));
                }
            }
            ']' if class_depth > 0 => {
                class_depth -= 1;
                out.push(c);
            }
            '^' if class_depth == 0 => out.push_str("(?m:^)"),
            '$' if class_depth == 0 => out.push_str("(?m:$)"),
            _ => out.push(c),
        }
    }
    out
}

/// The pattern's top-level alternatives (split at `|` outside groups and classes).
fn alternatives(pattern: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut group_depth, mut class_depth, mut start) = (0usize, 0usize, 0);
    let mut chars = pattern.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '[' => {
                class_depth += 1;
                if chars.peek().is_some_and(|&(_, c)| c == '^') {
                    chars.next();
                }
                if chars.peek().is_some_and(|&(_, c)| c == ']') {
                    chars.next();
                }
            }
            ']' if class_depth > 0 => class_depth -= 1,
            '(' if class_depth == 0 => group_depth += 1,
            ')' if class_depth == 0 => group_depth = group_depth.saturating_sub(1),
            '|' if class_depth == 0 && group_depth == 0 => {
                out.push(&pattern[start..at]);
                start = at + 1;
            }
            _ => {}
        }
    }
    out.push(&pattern[start..]);
    out
}

/// The pattern as a linear-time automaton, when its only non-regular part is a `\s+(?!\S)` alternative.
fn automaton(pattern: &str) -> Option<Kind> {
    let mut sources = Vec::new();
    let mut pieces = Vec::new();
    for alternative in alternatives(pattern) {
        if alternative == r"\s+(?!\S)" {
            sources.extend([r"\s+\z", r"\s\s+\S"]);
            pieces.extend([Piece::Whole, Piece::DropLastTwoChars]);
        } else {
            sources.push(alternative);
            pieces.push(Piece::Whole);
        }
    }
    let regex = meta::Regex::builder()
        .configure(meta::Config::new().match_kind(MatchKind::LeftmostFirst))
        .build_many(&sources)
        .ok()?;
    Some(Kind::Automaton { regex, pieces })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(pattern: &Pattern, text: &str) -> Vec<(String, bool)> {
        let mut out = Vec::new();
        pattern.find_matches(text, &mut out).expect("matches");
        out.into_iter().map(|(start, end, is_match)| (text[start..end].to_string(), is_match)).collect()
    }

    #[test]
    fn model_patterns_run_on_the_scanners_like_backtracking() {
        // The patterns as Llama 3 and Qwen2 ship them, against fancy-regex on the text as given.
        for original in [CL100K_ORIGINAL_PATTERN, QWEN2_ORIGINAL_PATTERN] {
            let fast = Pattern::regex(original).expect("compiles");
            assert!(matches!(fast.0, Kind::Splitter(_)), "{original}");
            let slow = Pattern(Kind::Backtracking(fancy_regex::Regex::new(original).expect("compiles")));
            for text in
                ["a   b", "  x", "x  ", "12345 don't\n\n  \tEND", " \u{a0}\u{3000}z", "a\r\n b", "\n\n \r\n\t1٣x"]
            {
                assert_eq!(parts(&fast, text), parts(&slow, text), "{original:?} {text:?}");
            }
        }
    }

    #[test]
    fn lookahead_alternative_runs_on_the_automaton_like_backtracking() {
        // Qwen2's pattern with one alternative moved, so that no scanner runs it.
        let pattern = r"\p{N}|(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
        let fast = Pattern::regex(pattern).expect("compiles");
        assert!(matches!(fast.0, Kind::Automaton { .. }));
        let slow = Pattern(Kind::Backtracking(fancy_regex::Regex::new(pattern).expect("compiles")));
        for text in ["a   b", "  x", "x  ", "12345 don't\n\n  \tEND", " \u{a0}\u{3000}z", "a\r\n b"] {
            assert_eq!(parts(&fast, text), parts(&slow, text), "{text:?}");
        }
    }

    #[test]
    fn gaps_between_matches_are_non_matches() {
        let digits = Pattern::regex(r"\p{N}{1,3}").expect("compiles");
        let got = parts(&digits, "ab12345c");
        let want = [("ab", false), ("123", true), ("45", true), ("c", false)];
        assert_eq!(got, want.map(|(s, m)| (s.to_string(), m)));
        assert_eq!(parts(&Pattern::numeric(), "a1"), [("a".to_string(), false), ("1".to_string(), true)]);
        assert_eq!(parts(&Pattern::literal("-"), ""), [(String::new(), false)]);
    }

    #[test]
    fn alternatives_respect_groups_and_classes() {
        assert_eq!(alternatives(r"a|(b|c)|[|]|\||d"), ["a", "(b|c)", "[|]", r"\|", "d"]);
        assert_eq!(line_anchors(r"^a$|[$^]"), r"(?m:^)a(?m:$)|[$^]");
    }
}
