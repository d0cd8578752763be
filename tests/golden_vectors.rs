//! Golden vectors through the Rust `Encoder`, no Python: the ids tiktoken gave for `tests/vectors/<encoding>.jsonl`.
//!
//! The vectors are made by `tests/vectors/generate.py`; `tests/test_vectors.py` checks the same files through the
//! Python API.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use bytepair::{Encoder, Rank};
use serde_json::Value;

/// The encodings that `encodings.json` must describe, each with a vectors file.
const ENCODINGS: [&str; 7] =
    ["gpt2", "r50k_base", "p50k_base", "p50k_edit", "cl100k_base", "o200k_base", "o200k_harmony"];

/// Fewer cases than this means the vectors file was cut short, and a pass would prove little.
const MIN_CASES: usize = 60;

/// How many failing cases one test reports before giving up.
const MAX_REPORTED: usize = 10;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()))
}

fn encodings() -> Value {
    let path = root().join("tests/vectors/encodings.json");
    serde_json::from_str(&read(&path)).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

/// The encoder that `encodings.json` describes for `name`.
fn build_encoder(name: &str) -> Encoder {
    let all = encodings();
    let spec = &all[name];
    let vocab_file = spec["vocab_file"].as_str().expect("vocab_file is a string");
    let pattern = spec["pattern"].as_str().expect("pattern is a string");
    let specials: Vec<(String, Rank)> = spec["special_tokens"]
        .as_object()
        .expect("special_tokens is an object")
        .iter()
        .map(|(token, id)| {
            let id = id.as_u64().and_then(|id| Rank::try_from(id).ok()).expect("special-token id is a u32");
            (token.clone(), id)
        })
        .collect();
    let vocab_path = root().join("python/bytepair/vocab").join(vocab_file);
    let bytes = std::fs::read(&vocab_path).unwrap_or_else(|err| panic!("cannot read {}: {err}", vocab_path.display()));
    Encoder::from_vocab_file(&bytes, pattern, specials).unwrap_or_else(|err| panic!("{name}: {err}"))
}

struct Case {
    line: usize,
    text: String,
    ordinary: Vec<Rank>,
    all_special: Vec<Rank>,
}

fn ids(value: &Value) -> Vec<Rank> {
    value
        .as_array()
        .expect("ids are an array")
        .iter()
        .map(|id| id.as_u64().and_then(|id| Rank::try_from(id).ok()).expect("id is a u32"))
        .collect()
}

fn cases(name: &str) -> Vec<Case> {
    let path = root().join("tests/vectors").join(format!("{name}.jsonl"));
    read(&path)
        .split('\n')
        .enumerate()
        .filter(|(_, line)| !line.is_empty())
        .map(|(index, line)| {
            let case: Value =
                serde_json::from_str(line).unwrap_or_else(|err| panic!("{}:{}: {err}", path.display(), index + 1));
            Case {
                line: index + 1,
                text: case["text"].as_str().expect("text is a string").to_owned(),
                ordinary: ids(&case["ordinary"]),
                all_special: ids(&case["all_special"]),
            }
        })
        .collect()
}

/// Every case of `name`.jsonl: `encode_ordinary`, `encode` with every special token allowed, and decoding back.
fn check_vectors(name: &str) {
    let encoder = build_encoder(name);
    let special_tokens: Vec<String> = encoder.special_tokens().map(|(token, _)| token.to_owned()).collect();
    let allow_all = encoder.special_policy(special_tokens.iter().map(String::as_str), std::iter::empty());
    let cases = cases(name);
    assert!(cases.len() >= MIN_CASES, "{name}: only {} cases", cases.len());

    let mut failures = Vec::new();
    for case in &cases {
        let mut problems: Vec<String> = Vec::new();
        match encoder.encode_ordinary(&case.text) {
            Ok(ids) if ids == case.ordinary => {}
            Ok(ids) => problems.push(format!("encode_ordinary: expected {:?}, got {ids:?}", case.ordinary)),
            Err(err) => problems.push(format!("encode_ordinary failed: {err}")),
        }
        match encoder.encode(&case.text, &allow_all) {
            Ok(ids) if ids == case.all_special => {}
            Ok(ids) => problems.push(format!("encode (all special): expected {:?}, got {ids:?}", case.all_special)),
            Err(err) => problems.push(format!("encode (all special) failed: {err}")),
        }
        for (column, ids) in [("ordinary", &case.ordinary), ("all_special", &case.all_special)] {
            match encoder.decode_bytes(ids) {
                Ok(bytes) if bytes == case.text.as_bytes() => {}
                Ok(bytes) => {
                    let decoded = String::from_utf8_lossy(&bytes);
                    problems.push(format!("decode_bytes({column}) gave {decoded:?}"));
                }
                Err(err) => problems.push(format!("decode_bytes({column}) failed: {err}")),
            }
        }
        if !problems.is_empty() {
            failures.push(format!(
                "{name}.jsonl line {}: text {:?}\n  {}\n",
                case.line,
                case.text,
                problems.join("\n  ")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from tiktoken:\n{}",
        failures.len(),
        cases.len(),
        failures.iter().take(MAX_REPORTED).cloned().collect::<String>()
    );
}

#[test]
fn encodings_json_describes_every_encoding_with_a_vectors_file() {
    let all = encodings();
    let described: HashMap<&str, &Value> =
        all.as_object().expect("encodings.json holds an object").iter().map(|(k, v)| (k.as_str(), v)).collect();
    for name in ENCODINGS {
        assert!(described.contains_key(name), "encodings.json lacks {name}");
        assert!(root().join("tests/vectors").join(format!("{name}.jsonl")).is_file(), "no {name}.jsonl");
    }
    assert_eq!(described.len(), ENCODINGS.len(), "encodings.json describes unexpected encodings");
}

#[test]
fn bundled_patterns_run_on_the_linear_splitter() {
    // Only the pattern decides the engine, so the hand-made vocab is enough (and keeps special tokens out of it).
    let tiny = std::fs::read(root().join("tests/vectors/tiny.tiktoken")).expect("tests/vectors/tiny.tiktoken");
    let all = encodings();
    for name in ENCODINGS {
        let pattern = all[name]["pattern"].as_str().expect("pattern is a string");
        let encoder =
            Encoder::from_vocab_file(&tiny, pattern, Vec::new()).unwrap_or_else(|err| panic!("{name}: {err}"));
        assert!(encoder.has_linear_splitter(), "{name}: bundled pattern not recognised: {pattern}");
    }
}

macro_rules! golden {
    ($($test:ident => $name:literal,)*) => {$(
        #[test]
        fn $test() {
            check_vectors($name);
        }
    )*};
}

golden! {
    gpt2_ids_equal_tiktoken_on_golden_vectors => "gpt2",
    r50k_base_ids_equal_tiktoken_on_golden_vectors => "r50k_base",
    p50k_base_ids_equal_tiktoken_on_golden_vectors => "p50k_base",
    p50k_edit_ids_equal_tiktoken_on_golden_vectors => "p50k_edit",
    cl100k_base_ids_equal_tiktoken_on_golden_vectors => "cl100k_base",
    o200k_base_ids_equal_tiktoken_on_golden_vectors => "o200k_base",
    o200k_harmony_ids_equal_tiktoken_on_golden_vectors => "o200k_harmony",
}
