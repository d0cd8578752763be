//! Special tokens: finding them in text in one pass, and the allowed/disallowed policy of a call.
//!
//! tiktoken checks for disallowed special tokens with a second, Python-side regex pass; here one Aho-Corasick scan
//! both rejects disallowed tokens and finds the allowed ones that cut the text into ordinary segments. The scan
//! reports overlapping matches, so an occurrence of a disallowed token is found even inside another special token.

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use rustc_hash::FxHashMap;

use crate::error::{EncodeError, VocabError};
use crate::vocab::Rank;

/// The special tokens of an encoding: strings encoded to fixed ids and never merged.
#[derive(Debug, Clone)]
pub struct SpecialTokens {
    texts: Vec<String>,
    ranks: Vec<Rank>,
    by_text: FxHashMap<String, usize>,
    by_rank: FxHashMap<Rank, usize>,
    matcher: Option<AhoCorasick>,
}

/// Which special tokens one call encodes as special tokens, and which make it fail.
///
/// Built by [`Encoder::special_policy`](crate::Encoder::special_policy); immutable, so callers may keep one per
/// argument combination. Names that are not special tokens are ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecialPolicy {
    allowed: Vec<bool>,
    disallowed: Vec<bool>,
    any_allowed: bool,
    any_disallowed: bool,
}

/// One allowed special token found in text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpecialMatch {
    /// Byte offset of its first byte.
    pub start: usize,
    /// Byte offset just past it.
    pub end: usize,
    /// Its id.
    pub rank: Rank,
}

impl SpecialTokens {
    /// Validates the special tokens; `is_taken` says whether an id already belongs to an ordinary token.
    ///
    /// Two special tokens may share an id (o200k_harmony names id 200018 both `<|endofprompt|>` and
    /// `<|reserved_200018|>`, as tiktoken does); both encode to it, and it decodes to the one given first.
    pub fn new(
        tokens: impl IntoIterator<Item = (String, Rank)>,
        is_taken: impl Fn(Rank) -> Option<String>,
    ) -> Result<Self, VocabError> {
        let mut tokens: Vec<(String, Rank)> = tokens.into_iter().collect();
        // Stable: among tokens sharing an id, the first given stays first and is the one that id decodes to.
        tokens.sort_by_key(|(_, rank)| *rank);
        let mut by_text = FxHashMap::default();
        let mut by_rank = FxHashMap::default();
        for (index, (text, rank)) in tokens.iter().enumerate() {
            if text.is_empty() {
                return Err(VocabError::EmptySpecialToken { rank: *rank });
            }
            if let Some(other) = is_taken(*rank) {
                return Err(VocabError::SpecialTokenCollision { token: text.clone(), rank: *rank, other });
            }
            if by_text.insert(text.clone(), index).is_some() {
                return Err(VocabError::DuplicateSpecialToken { token: text.clone() });
            }
            by_rank.entry(*rank).or_insert(index);
        }
        let (texts, ranks): (Vec<String>, Vec<Rank>) = tokens.into_iter().unzip();
        let matcher = if texts.is_empty() {
            None
        } else {
            Some(
                AhoCorasick::builder()
                    .match_kind(MatchKind::Standard)
                    .kind(Some(AhoCorasickKind::DFA))
                    .build(&texts)
                    .expect("a DFA over the special tokens of an encoding fits aho-corasick's limits"),
            )
        };
        Ok(Self { texts, ranks, by_text, by_rank, matcher })
    }

    /// The id of a special token.
    pub fn rank(&self, text: &[u8]) -> Option<Rank> {
        let text = std::str::from_utf8(text).ok()?;
        self.by_text.get(text).map(|&index| self.ranks[index])
    }

    /// The text of the special token with id `rank`.
    pub fn text(&self, rank: Rank) -> Option<&str> {
        self.by_rank.get(&rank).map(|&index| self.texts[index].as_str())
    }

    /// Every `(text, id)`, in id order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Rank)> + '_ {
        self.texts.iter().map(String::as_str).zip(self.ranks.iter().copied())
    }

    /// The largest id, if there are special tokens.
    pub fn max_rank(&self) -> Option<Rank> {
        self.ranks.last().copied()
    }

    /// A policy from the names a call allows and disallows.
    pub fn policy<'a>(
        &self,
        allowed: impl IntoIterator<Item = &'a str>,
        disallowed: impl IntoIterator<Item = &'a str>,
    ) -> SpecialPolicy {
        let mark = |names: &mut dyn Iterator<Item = &'a str>| {
            let mut marks = vec![false; self.texts.len()];
            for name in names {
                if let Some(&index) = self.by_text.get(name) {
                    marks[index] = true;
                }
            }
            marks
        };
        let allowed = mark(&mut allowed.into_iter());
        let disallowed = mark(&mut disallowed.into_iter());
        SpecialPolicy {
            any_allowed: allowed.contains(&true),
            any_disallowed: disallowed.contains(&true),
            allowed,
            disallowed,
        }
    }

    /// The allowed special tokens of `text` that cut it, in order and not overlapping, or the first disallowed one.
    ///
    /// Where allowed tokens overlap, the one that starts first wins, and the longest of those starting together.
    pub fn find(&self, text: &str, policy: &SpecialPolicy) -> Result<Vec<SpecialMatch>, EncodeError> {
        let mut found = Vec::new();
        let Some(matcher) = &self.matcher else {
            return Ok(found);
        };
        if !(policy.any_allowed || policy.any_disallowed) {
            return Ok(found);
        }
        for hit in matcher.find_overlapping_iter(text) {
            let index = hit.pattern().as_usize();
            if policy.disallowed.get(index).copied().unwrap_or(false) {
                return Err(EncodeError::DisallowedSpecialToken {
                    token: self.texts[index].clone(),
                    offset: hit.start(),
                });
            }
            if policy.allowed.get(index).copied().unwrap_or(false) {
                found.push(SpecialMatch { start: hit.start(), end: hit.end(), rank: self.ranks[index] });
            }
        }
        // Overlapping search reports matches by end position; cut greedily by start instead.
        found.sort_unstable_by_key(|hit| (hit.start, std::cmp::Reverse(hit.end)));
        let mut cursor = 0;
        found.retain(|hit| {
            let keep = hit.start >= cursor;
            if keep {
                cursor = hit.end;
            }
            keep
        });
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn specials(names: &[&str]) -> SpecialTokens {
        SpecialTokens::new(names.iter().zip(1000..).map(|(name, rank)| ((*name).to_owned(), rank)), |_| None)
            .expect("valid")
    }

    #[test]
    fn disallowed_token_is_found_inside_an_allowed_one() {
        let tokens = specials(&["<|a|>", "a"]);
        let policy = tokens.policy(["<|a|>"], ["a"]);
        let err = tokens.find("x<|a|>", &policy).unwrap_err();
        assert!(matches!(err, EncodeError::DisallowedSpecialToken { offset: 3, .. }), "{err}");
    }

    #[test]
    fn allowed_tokens_cut_leftmost_then_longest() {
        let tokens = specials(&["<s>", "<s>x", "x<"]);
        let policy = tokens.policy(["<s>", "<s>x", "x<"], []);
        let found = tokens.find("a<s>x<s>", &policy).expect("nothing disallowed");
        let cuts: Vec<(usize, usize)> = found.iter().map(|hit| (hit.start, hit.end)).collect();
        assert_eq!(cuts, [(1, 5), (5, 8)]);
    }

    #[test]
    fn special_tokens_may_share_an_id_and_it_decodes_to_the_first() {
        let tokens = SpecialTokens::new([("<b>".to_owned(), 5), ("<a>".to_owned(), 5)], |_| None).expect("valid");
        assert_eq!(tokens.rank(b"<a>"), Some(5));
        assert_eq!(tokens.rank(b"<b>"), Some(5));
        assert_eq!(tokens.text(5), Some("<b>"));
    }

    #[test]
    fn ids_of_ordinary_tokens_are_rejected() {
        let err = SpecialTokens::new([("<a>".to_owned(), 5)], |_| Some("token \"x\"".into())).unwrap_err();
        assert!(err.to_string().contains("already used by token"), "{err}");
    }
}
