//! Byte-level BPE tokenization: split text into pieces with a regex, merge each piece's bytes by rank.
//!
//! Glossary, used the same way in Rust, Python, the tests and the README:
//! - *token*: a [`Rank`] (`u32`) id;
//! - *rank*: merge priority, equal to the token id in byte-level BPE;
//! - *vocab*: the bytes <-> rank table ([`Vocab`]);
//! - *piece*: one match of the split pattern;
//! - *pattern*: the split regex;
//! - *special token*: a string encoded to a fixed id, never merged;
//! - *encoding*: a named configuration such as `"cl100k_base"` (defined on the Python side).
//!
//! ```
//! let vocab = include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/tiny.tiktoken"));
//! let encoder = bytepair::Encoder::from_vocab_file(vocab, r"\S+|\s+", Vec::new())?;
//! assert_eq!(encoder.encode_ordinary("abcd")?, [258]);
//! assert_eq!(encoder.decode_bytes(&encoder.encode_ordinary("ab cd")?)?, b"ab cd");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod backtrack;
mod batch;
mod cache;
mod encoder;
mod error;
mod hf;
mod merge;
mod special;
mod split;
mod table;
mod vocab;

#[cfg(test)]
mod testing;

#[cfg(feature = "python")]
mod bindings;

pub use batch::{FlatBatch, Padding, Side, TokenWidth};
pub use encoder::Encoder;
pub use error::{DecodeError, EncodeError, HfError, VocabError};
pub use hf::{
    flatten_encodings, split_merge_line, AddedToken, Behavior, HfEncoding, HfTokenizer, Normalizer, Pattern,
    PreTokenizer,
};
pub use special::SpecialPolicy;
pub use vocab::{parse_rank_file, Rank, RankEntries, Vocab};
