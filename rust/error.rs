//! The crate's error types, one enum per failure domain, each variant carrying the offending value.

use crate::vocab::Rank;

/// A vocab, pattern or special-token table that cannot make an [`Encoder`](crate::Encoder).
#[derive(Debug, thiserror::Error)]
pub enum VocabError {
    /// A rank file line is not `<base64 token> <rank>`.
    #[error("line {line}: expected `<base64 token> <rank>`, found {found:?}")]
    MalformedLine {
        /// 1-based line number.
        line: usize,
        /// The line as found (lossily decoded, truncated).
        found: String,
    },
    /// A token's base64 does not decode.
    #[error("line {line}: invalid base64 token {token:?}")]
    InvalidBase64 {
        /// 1-based line number.
        line: usize,
        /// The base64 text.
        token: String,
    },
    /// A rank is not a non-negative 32-bit integer.
    #[error("line {line}: invalid rank {rank:?} (expected an integer from 0 to {max})", max = Rank::MAX)]
    InvalidRank {
        /// 1-based line number.
        line: usize,
        /// The rank text.
        rank: String,
    },
    /// A rank beyond what the dense decode table allows.
    #[error("rank {rank} is too large (the largest allowed is {max})", max = crate::vocab::MAX_RANK)]
    RankTooLarge {
        /// The rank.
        rank: Rank,
    },
    /// The tokens together exceed 4 GiB.
    #[error("the vocab's tokens add up to more than 4 GiB")]
    TooLarge,
    /// Two entries give the same token bytes.
    #[error("token {token:?} appears twice, with ranks {first} and {second}{lines}")]
    DuplicateToken {
        /// The token bytes, escaped.
        token: String,
        /// The rank of the first entry.
        first: Rank,
        /// The rank of the second entry.
        second: Rank,
        /// Where they are in a rank file (` (lines 3 and 9)`), or empty.
        lines: String,
    },
    /// Two entries give the same rank.
    #[error("rank {rank} appears twice, for tokens {first:?} and {second:?}{lines}")]
    DuplicateRank {
        /// The repeated rank.
        rank: Rank,
        /// The first token with it, escaped.
        first: String,
        /// The second token with it, escaped.
        second: String,
        /// Where they are in a rank file (` (lines 3 and 9)`), or empty.
        lines: String,
    },
    /// A single byte has no rank, so some text could not be encoded.
    #[error("the vocab has no token for the single byte 0x{byte:02x}; byte-level BPE needs all 256")]
    MissingByte {
        /// The byte without a token.
        byte: u8,
    },
    /// An empty token.
    #[error("the vocab contains an empty token (rank {rank})")]
    EmptyToken {
        /// Its rank.
        rank: Rank,
    },
    /// A special token's id is already the rank of an ordinary token or of another special token.
    #[error("special token {token:?} has id {rank}, which is already used by {other}")]
    SpecialTokenCollision {
        /// The special token.
        token: String,
        /// Its id.
        rank: Rank,
        /// What else has that id.
        other: String,
    },
    /// The same special token string given twice.
    #[error("special token {token:?} is given twice")]
    DuplicateSpecialToken {
        /// The special token.
        token: String,
    },
    /// An empty special token string.
    #[error("special token with id {rank} is the empty string")]
    EmptySpecialToken {
        /// Its id.
        rank: Rank,
    },
    /// The split pattern does not compile.
    #[error("invalid split pattern: {0}")]
    Pattern(#[from] Box<fancy_regex::Error>),
}

/// Text that a call may not encode.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    /// The text contains a special token that the call disallowed.
    #[error("text contains the special token {token:?} at byte {offset}, but it is not in allowed_special")]
    DisallowedSpecialToken {
        /// The special token text.
        token: String,
        /// Its byte offset in the text.
        offset: usize,
    },
    /// Bytes to be encoded as text are not UTF-8.
    #[error("not UTF-8 at byte {offset}")]
    NotUtf8 {
        /// Where the first invalid sequence starts.
        offset: usize,
    },
    /// The split pattern gave up on the text (its backtracking limit was exceeded).
    #[error("the split pattern could not process the text near byte {offset}: {message}")]
    Split {
        /// Where the failing search started.
        offset: usize,
        /// The regex engine's message.
        message: String,
    },
}

/// Tokens that cannot be decoded.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The id is neither an ordinary nor a special token.
    #[error("unknown token id {token}")]
    UnknownToken {
        /// The id.
        token: Rank,
    },
}

/// Parts of a Hugging Face `tokenizer.json` that cannot make an [`HfTokenizer`](crate::HfTokenizer).
#[derive(Debug, thiserror::Error)]
pub enum HfError {
    /// A merge-list line that is not two tokens separated by one space.
    #[error("model.merges[{index}] must be 'left right' or [left, right], found {merge:?}")]
    MalformedMerge {
        /// 0-based position in the merge list.
        index: usize,
        /// The line.
        merge: String,
    },
    /// A merge names a token the vocab does not have (its parts, or the two joined).
    #[error("merge {index} ({merge:?}) needs the token {token:?}, which is not in the vocab")]
    MergeOutOfVocab {
        /// 0-based position in the merge list.
        index: usize,
        /// The merge as `left right`.
        merge: String,
        /// The missing token.
        token: String,
    },
    /// An added token with empty content.
    #[error("added token {id} has empty content")]
    EmptyAddedToken {
        /// Its id.
        id: Rank,
    },
    /// A split or replace pattern that does not compile.
    #[error("pattern {pattern:?} does not compile: {message}")]
    Pattern {
        /// The pattern.
        pattern: String,
        /// The regex engine's message.
        message: String,
    },
    /// A normalizer failed on an added token's content.
    #[error("normalizing the added tokens failed: {0}")]
    Normalizer(String),
    /// A step name this crate does not know (the Python loader names the component before it gets here).
    #[error("unsupported {what}: {name:?}")]
    Unsupported {
        /// Which kind of step.
        what: &'static str,
        /// Its name.
        name: String,
    },
}
