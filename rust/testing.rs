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
