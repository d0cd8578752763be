//! The regex engines: the rewritten automaton for the bundled patterns, and fancy-regex for any other.
//!
//! Any pattern works through `fancy-regex`, tiktoken's own engine, so look-ahead and possessive forms mean exactly
//! what they mean there. But that engine backtracks with a bounded stack: on a run of about a million spaces (or
//! letters, with o200k_base) it gives up, which is the failure tiktoken shows on such text. The patterns of the
//! bundled encodings can also be rewritten into equivalent regular expressions that `regex-automata` runs in
//! linear time with no stack at all (the hand-written scanners are faster still; the automaton is the reference
//! the tests hold them to, and the engine for the original GPT-2 pattern):
//!
//! - possessive quantifiers (`\p{L}++`, `?+`, `{1,3}+`) become greedy ones: in these patterns nothing after them
//!   could ever match what backtracking would give back, so the two forms accept the same pieces;
//! - `\s+(?!\S)` (a whitespace run not followed by a non-space) becomes two alternatives in its place: `\s+\z` (the
//!   run reaches the end of the text) and `\s\s+\S`, whose match is then shortened by its last two characters. The
//!   look-ahead version backtracks from the end of a run followed by a non-space to give the run minus its last
//!   character, and fails on a run of one; the rewrite matches in exactly those cases and, once shortened, gives
//!   the same piece. Alternatives keep their order, so leftmost-first priority is unchanged.

use regex_automata::meta;
use regex_automata::{Anchored, Input, MatchKind};

use super::{CL100K_PATTERN, GPT2_ORIGINAL_PATTERN, O200K_PATTERN, QWEN2_PATTERN, R50K_PATTERN};
use crate::error::{EncodeError, VocabError};

/// What to do with a match of one alternative of a rewritten pattern.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Piece {
    /// The match is the piece.
    Whole,
    /// The match is `\s\s+\S`; the piece is the match minus its last two characters.
    DropLastTwoChars,
}

const SPACE_RUN_TO_END: &str = r"\s+\z";
const SPACE_RUN_THEN_NON_SPACE: &str = r"\s\s+\S";

/// The alternatives of each known pattern, rewritten for `regex-automata` (see the module docs).
fn rewrite(pattern: &str) -> Option<Vec<(&'static str, Piece)>> {
    use Piece::{DropLastTwoChars, Whole};
    let lookahead = [(SPACE_RUN_TO_END, Whole), (SPACE_RUN_THEN_NON_SPACE, DropLastTwoChars)];
    let mut alternatives: Vec<(&'static str, Piece)> = Vec::new();
    let head: Vec<&'static str>;
    let tail: &[&'static str];
    if pattern == R50K_PATTERN {
        head = vec![r"'(?:[sdmt]|ll|ve|re)", r" ?\p{L}+", r" ?\p{N}+", r" ?[^\s\p{L}\p{N}]+", r"\s+$"];
        tail = &[r"\s"];
    } else if pattern == GPT2_ORIGINAL_PATTERN {
        head = vec![r"'s|'t|'re|'ve|'m|'ll|'d", r" ?\p{L}+", r" ?\p{N}+", r" ?[^\s\p{L}\p{N}]+"];
        tail = &[r"\s+"];
    } else if pattern == CL100K_PATTERN || pattern == QWEN2_PATTERN {
        head = vec![
            r"'(?i:[sdmt]|ll|ve|re)",
            r"[^\r\n\p{L}\p{N}]?\p{L}+",
            if pattern == CL100K_PATTERN { r"\p{N}{1,3}" } else { r"\p{N}" },
            r" ?[^\s\p{L}\p{N}]+[\r\n]*",
            r"\s+$",
            r"\s*[\r\n]",
        ];
        tail = &[r"\s"];
    } else if pattern == O200K_PATTERN {
        head = vec![
            r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
            r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
            r"\p{N}{1,3}",
            r" ?[^\s\p{L}\p{N}]+[\r\n/]*",
            r"\s*[\r\n]+",
        ];
        tail = &[r"\s+"];
    } else {
        return None;
    }
    alternatives.extend(head.iter().map(|&alt| (alt, Whole)));
    alternatives.extend(lookahead);
    alternatives.extend(tail.iter().map(|&alt| (alt, Whole)));
    Some(alternatives)
}

/// Cuts text into pieces by a split pattern, with a regex engine.
#[derive(Debug)]
pub enum RegexSplitter {
    /// A known pattern, rewritten into a linear-time automaton; one entry per alternative.
    Automaton {
        /// One pattern per alternative, leftmost-first in their order.
        regex: meta::Regex,
        /// How each alternative's match becomes a piece, indexed by pattern id.
        pieces: Vec<Piece>,
    },
    /// Any other pattern, run by tiktoken's engine.
    Backtracking(fancy_regex::Regex),
}

impl RegexSplitter {
    /// Compiles `pattern`, choosing the automaton when the pattern is one whose rewrite is known.
    pub fn new(pattern: &str) -> Result<Self, VocabError> {
        if let Some(alternatives) = rewrite(pattern) {
            let sources: Vec<&str> = alternatives.iter().map(|(source, _)| *source).collect();
            let regex = meta::Regex::builder()
                .configure(meta::Config::new().match_kind(MatchKind::LeftmostFirst))
                .build_many(&sources)
                .expect("the rewritten alternatives are fixed, valid regular expressions");
            let pieces = alternatives.into_iter().map(|(_, piece)| piece).collect();
            return Ok(Self::Automaton { regex, pieces });
        }
        Self::backtracking(pattern)
    }

    /// Compiles `pattern` for the backtracking engine, whatever it is (tests compare the two engines).
    pub fn backtracking(pattern: &str) -> Result<Self, VocabError> {
        let regex = fancy_regex::RegexBuilder::new(pattern)
            // The step limit would turn long but linear inputs into errors; the engine's own stack bound remains.
            .backtrack_limit(usize::MAX)
            .build()
            .map_err(Box::new)?;
        Ok(Self::Backtracking(regex))
    }

    /// Whether this splitter runs in linear time on any input.
    pub fn is_linear(&self) -> bool {
        matches!(self, Self::Automaton { .. })
    }

    /// Calls `on_piece` with the byte range of each piece of `text`, in order.
    ///
    /// Text between pieces (which a pattern that does not cover every character leaves) is dropped, as in tiktoken.
    pub fn for_each_piece(&self, text: &str, mut on_piece: impl FnMut(usize, usize)) -> Result<(), EncodeError> {
        match self {
            Self::Automaton { regex, pieces } => {
                let mut start = 0;
                while start < text.len() {
                    // The bundled patterns cover every character, so an anchored search (no reverse scan for the
                    // start) finds the next piece; an unanchored one is only needed for patterns with gaps.
                    let input = Input::new(text).range(start..);
                    let found = regex.search(&input.clone().anchored(Anchored::Yes)).or_else(|| regex.search(&input));
                    let Some(found) = found else { break };
                    let end = match pieces[found.pattern().as_usize()] {
                        Piece::Whole => found.end(),
                        Piece::DropLastTwoChars => drop_last_chars(text, found.start(), found.end(), 2),
                    };
                    on_piece(found.start(), end);
                    start = end;
                }
                Ok(())
            }
            Self::Backtracking(regex) => {
                for found in regex.find_iter(text) {
                    let found = found.map_err(|err| EncodeError::Split { offset: 0, message: err.to_string() })?;
                    on_piece(found.start(), found.end());
                }
                Ok(())
            }
        }
    }
}

/// The end of `text[start..end]` less its last `n` characters.
fn drop_last_chars(text: &str, start: usize, end: usize, n: usize) -> usize {
    let mut end = end;
    for _ in 0..n {
        end = text[start..end].char_indices().next_back().map_or(start, |(at, _)| start + at);
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(splitter: &RegexSplitter, text: &str) -> Vec<String> {
        let mut out = Vec::new();
        splitter.for_each_piece(text, |start, end| out.push(text[start..end].to_string())).expect("splits");
        out
    }

    #[test]
    fn lookahead_rewrite_leaves_one_space_for_the_next_word() {
        for pattern in [R50K_PATTERN, CL100K_PATTERN, O200K_PATTERN, QWEN2_PATTERN, GPT2_ORIGINAL_PATTERN] {
            let fast = RegexSplitter::new(pattern).expect("compiles");
            assert!(fast.is_linear());
            assert_eq!(pieces(&fast, "a   b"), ["a", "  ", " b"], "{pattern}");
        }
    }

    #[test]
    fn both_engines_agree_on_whitespace_edge_cases() {
        let texts = [
            "",
            " ",
            "  ",
            "a ",
            "a  ",
            " a",
            "  a",
            "a \n b",
            "x\r\n\r\n  y",
            "\t\t!",
            " \u{a0}\u{3000}z",
            "hello  world  ",
            "1234567 89",
            "don't STOP'LL",
            "a\n\n\n",
            "  \n  \n  x",
            "x  !!  ??\n/ ",
        ];
        for pattern in [R50K_PATTERN, CL100K_PATTERN, O200K_PATTERN, QWEN2_PATTERN, GPT2_ORIGINAL_PATTERN] {
            let fast = RegexSplitter::new(pattern).expect("compiles");
            let slow = RegexSplitter::backtracking(pattern).expect("compiles");
            for text in texts {
                assert_eq!(pieces(&fast, text), pieces(&slow, text), "pattern {pattern:?}, text {text:?}");
            }
        }
    }

    #[test]
    fn long_runs_split_in_linear_time_where_backtracking_gives_up() {
        let text = " ".repeat(1 << 20) + "x";
        let fast = RegexSplitter::new(O200K_PATTERN).expect("compiles");
        let got = pieces(&fast, &text);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].len(), (1 << 20) - 1);
        assert_eq!(got[1], " x");
        let slow = RegexSplitter::backtracking(O200K_PATTERN).expect("compiles");
        assert!(slow.for_each_piece(&text, |_, _| ()).is_err());
    }
}
