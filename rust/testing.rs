//! Helpers shared by the unit tests.

/// A xorshift32 generator started at `seed` (not 0): the tests' repeatable pseudo-random input.
pub fn xorshift(seed: u32) -> impl FnMut() -> usize {
    let mut state = seed;
    move || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state as usize
    }
}

/// The vocab of cl100k_base, from the copy the package ships.
pub fn cl100k_base() -> crate::vocab::Vocab {
    let file = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/python/bytepair/vocab/cl100k_base.tiktoken"))
        .expect("the bundled vocab");
    crate::vocab::Vocab::parse(&file).expect("valid vocab")
}
