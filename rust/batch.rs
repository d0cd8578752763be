//! Batches: run one function over many inputs on several threads, keeping the input order.
//!
//! Scoped threads are started per call and joined before it returns, so no pool outlives a call: nothing to
//! deadlock after `os.fork()`. Threads take inputs one at a time from a shared counter, so one long document does
//! not leave the other threads idle behind a fixed partition.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Applies `work` to every input on up to `threads` threads (0: one per CPU this process may use); results come in
/// input order, and the first error (in input order) is returned.
pub fn map_in_parallel<I, T, E>(
    inputs: &[I],
    threads: usize,
    work: impl Fn(&I) -> Result<T, E> + Sync,
) -> Result<Vec<T>, E>
where
    I: Sync,
    T: Send,
    E: Send,
{
    let threads = if threads == 0 {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    } else {
        threads
    };
    let threads = threads.clamp(1, inputs.len().max(1));
    if threads == 1 {
        return inputs.iter().map(work).collect();
    }
    let next = AtomicUsize::new(0);
    let mut done: Vec<(usize, Result<T, E>)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut results = Vec::new();
                    loop {
                        let index = next.fetch_add(1, Ordering::Relaxed);
                        let Some(input) = inputs.get(index) else {
                            break;
                        };
                        results.push((index, work(input)));
                    }
                    results
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|worker| match worker.join() {
                Ok(results) => results,
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    });
    done.sort_unstable_by_key(|(index, _)| *index);
    done.into_iter().map(|(_, result)| result).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_input_order_and_reports_errors() {
        let inputs: Vec<u32> = (0..1000).collect();
        let doubled = map_in_parallel(&inputs, 4, |&x| Ok::<_, ()>(x * 2)).expect("no errors");
        assert_eq!(doubled, inputs.iter().map(|x| x * 2).collect::<Vec<_>>());
        let failed = map_in_parallel(&inputs, 4, |&x| if x == 500 { Err(x) } else { Ok(x) });
        assert_eq!(failed, Err(500));
    }
}
