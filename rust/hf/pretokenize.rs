//! Pre-tokenizers of a `tokenizer.json` (Split, Digits, ByteLevel, in a Sequence): cut normalized text into the
//! pieces the BPE model merges, with `tokenizers`' delimiter behaviours.

use super::normalize::Normalized;
use super::pattern::Pattern;
use crate::error::EncodeError;

/// What happens to the matches of a split pattern (`tokenizers`' `SplitDelimiterBehavior`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behavior {
    /// Matches are dropped.
    Removed,
    /// Matches are pieces of their own.
    Isolated,
    /// A match joins the piece before it.
    MergedWithPrevious,
    /// A match joins the piece after it.
    MergedWithNext,
    /// Adjacent matches (and adjacent non-matches) form one piece.
    Contiguous,
}

/// One pre-tokenizer step.
#[derive(Debug)]
pub enum PreTokenizer {
    /// Split each piece by a pattern (`Split`, `Digits`, and the regex of `ByteLevel`).
    Split {
        /// What to look for.
        pattern: Pattern,
        /// What to do with the matches.
        behavior: Behavior,
        /// Whether the non-matches are the delimiters instead.
        invert: bool,
    },
    /// `ByteLevel(add_prefix_space=true)`: a space before each piece that does not start with one.
    PrefixSpace,
}

/// Applies `steps` to `text`, returning the byte ranges of the pieces of `text` (which a prefix space may change).
pub fn pre_tokenize(
    steps: &[PreTokenizer],
    text: &mut Normalized<'_>,
    pieces: &mut Vec<(usize, usize)>,
) -> Result<(), EncodeError> {
    pieces.clear();
    if !text.text.is_empty() {
        pieces.push((0, text.text.len()));
    }
    let mut parts = Vec::new();
    let mut next = Vec::new();
    for step in steps {
        match step {
            PreTokenizer::Split { pattern, behavior, invert } => {
                next.clear();
                for &(start, end) in pieces.iter() {
                    parts.clear();
                    pattern.find_matches(&text.text[start..end], &mut parts)?;
                    if *invert {
                        for part in &mut parts {
                            part.2 = !part.2;
                        }
                    }
                    apply_behavior(*behavior, &parts, |from, to| {
                        if to > from {
                            next.push((start + from, start + to));
                        }
                    });
                }
                std::mem::swap(pieces, &mut next);
            }
            PreTokenizer::PrefixSpace => add_prefix_spaces(text, pieces),
        }
    }
    Ok(())
}

/// Turns `(start, end, is_match)` parts into pieces by `behavior`, as `NormalizedString::split` does.
fn apply_behavior(behavior: Behavior, parts: &[(usize, usize, bool)], mut emit: impl FnMut(usize, usize)) {
    match behavior {
        Behavior::Isolated => parts.iter().for_each(|&(start, end, _)| emit(start, end)),
        Behavior::Removed => parts.iter().filter(|part| !part.2).for_each(|&(start, end, _)| emit(start, end)),
        Behavior::Contiguous | Behavior::MergedWithPrevious => {
            let mut pending: Option<(usize, usize)> = None;
            let mut previous_match = false;
            for &(start, end, is_match) in parts {
                let joins = match behavior {
                    Behavior::Contiguous => is_match == previous_match,
                    _ => is_match && !previous_match,
                };
                pending = match pending {
                    Some((from, _)) if joins => Some((from, end)),
                    Some(piece) => {
                        emit(piece.0, piece.1);
                        Some((start, end))
                    }
                    None => Some((start, end)),
                };
                previous_match = is_match;
            }
            if let Some((from, to)) = pending {
                emit(from, to);
            }
        }
        Behavior::MergedWithNext => {
            // The mirror image of MergedWithPrevious: scan backwards, a match joins the piece that follows it.
            let mut merged: Vec<(usize, usize)> = Vec::with_capacity(parts.len());
            let mut previous_match = false;
            for &(start, end, is_match) in parts.iter().rev() {
                match merged.last_mut() {
                    Some(last) if is_match && !previous_match => last.0 = start,
                    _ => merged.push((start, end)),
                }
                previous_match = is_match;
            }
            merged.iter().rev().for_each(|&(start, end)| emit(start, end));
        }
    }
}

/// Puts a space before each piece that does not start with one, aligned with the piece's first character (as
/// `NormalizedString::prepend` aligns it); the pieces move right by the spaces inserted before them.
fn add_prefix_spaces(text: &mut Normalized<'_>, pieces: &mut [(usize, usize)]) {
    let positions: Vec<usize> =
        pieces.iter().map(|&(start, _)| start).filter(|&start| text.text.as_bytes()[start] != b' ').collect();
    if positions.is_empty() {
        return;
    }
    text.insert_spaces(&positions);
    let mut inserted = 0;
    for piece in pieces.iter_mut() {
        piece.0 += inserted;
        if positions.get(inserted) == Some(&(piece.0 - inserted)) {
            inserted += 1;
        }
        piece.1 += inserted;
    }
}
