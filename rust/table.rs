//! `LargeTable`, a fixed-length array of a few MiB in huge pages where the system gives them, and `prefetch_line`,
//! the hint that asks for a line of such a table before a lookup reads it.
//!
//! The token tables and the piece caches are read at random, a line per lookup, over 2-4 MiB each: with 4 KiB pages
//! such a lookup can also miss the TLB, and under a hypervisor a miss walks two levels of page tables (this machine
//! has no hardware counters to count them; the speed-up below is what was measured). A table of half a huge page or
//! more is therefore padded to whole huge pages, aligned to one and, on Linux, marked `MADV_HUGEPAGE` before it is
//! first written, so that the kernel backs it with 2 MiB pages where transparent huge pages are enabled (`always` or
//! `madvise`); elsewhere it is an ordinary allocation.
//!
//! Measured on this project's 2-core machine (KVM, AMD EPYC, THP `madvise`) with `benches/side_by_side.py`, the builds
//! before and after loaded in one process and timed in turn over the same slices of the 6 MB corpora:
//! `encode_to_numpy` 7.8-14.2% faster on each corpus with cl100k_base and o200k_base (1.4-8.8% in earlier runs), lists
//! 8-13%; a build against a copy of itself within 4.3%.

use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;

/// The huge page size of x86-64 and of aarch64 with 4 KiB base pages.
const HUGE_PAGE: usize = 2 << 20;

/// A boxed slice of `len` values of `T`, laid out for huge pages from half a huge page on.
pub(crate) struct LargeTable<T: Copy> {
    ptr: NonNull<T>,
    len: usize,
}

// SAFETY: a `LargeTable` owns its values, as a `Box<[T]>` does.
unsafe impl<T: Copy + Send> Send for LargeTable<T> {}
// SAFETY: as above; a shared `LargeTable` only lends shared references.
unsafe impl<T: Copy + Sync> Sync for LargeTable<T> {}

impl<T: Copy> LargeTable<T> {
    /// `len` copies of `value`.
    pub(crate) fn filled(len: usize, value: T) -> Self {
        let ptr = Self::allocate(len);
        for index in 0..len {
            // SAFETY: `index < len`, inside the allocation; nothing there needs dropping.
            unsafe { ptr.as_ptr().add(index).write(value) };
        }
        Self { ptr, len }
    }

    /// Room for `len` values, not yet written.
    fn allocate(len: usize) -> NonNull<T> {
        let layout = Self::layout(len);
        if layout.size() == 0 {
            return NonNull::dangling();
        }
        // SAFETY: the layout's size is not zero.
        let raw = unsafe { alloc(layout) };
        let Some(ptr) = NonNull::new(raw.cast::<T>()) else { handle_alloc_error(layout) };
        if layout.align() == HUGE_PAGE {
            advise_huge_pages(raw, layout.size());
        }
        ptr
    }

    /// The layout of `len` values: from half a huge page on, padded to whole huge pages and aligned to one.
    fn layout(len: usize) -> Layout {
        let layout = Layout::array::<T>(len).expect("a table that fits in memory");
        if layout.size() < HUGE_PAGE / 2 {
            return layout;
        }
        Layout::from_size_align(layout.size().next_multiple_of(HUGE_PAGE), HUGE_PAGE).expect("a table that fits")
    }
}

impl<T: Copy> Drop for LargeTable<T> {
    fn drop(&mut self) {
        let layout = Self::layout(self.len);
        if layout.size() != 0 {
            // SAFETY: allocated by `allocate` with this layout.
            unsafe { dealloc(self.ptr.as_ptr().cast(), layout) };
        }
    }
}

impl<T: Copy> Deref for LargeTable<T> {
    type Target = [T];

    #[inline]
    fn deref(&self) -> &[T] {
        // SAFETY: `len` values from `ptr`, all written by `filled` or `clone`.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl<T: Copy> DerefMut for LargeTable<T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut [T] {
        // SAFETY: as in `deref`, and `&mut self` makes the borrow unique.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl<T: Copy> Clone for LargeTable<T> {
    fn clone(&self) -> Self {
        let ptr = Self::allocate(self.len);
        // SAFETY: both hold `len` values and are distinct allocations (or both empty).
        unsafe { std::ptr::copy_nonoverlapping(self.ptr.as_ptr(), ptr.as_ptr(), self.len) };
        Self { ptr, len: self.len }
    }
}

impl<T: Copy> std::fmt::Debug for LargeTable<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LargeTable({} values)", self.len)
    }
}

/// Asks the CPU to bring the cache line of `address` into its caches; any address will do, since a prefetch never
/// faults.
#[inline]
pub(crate) fn prefetch_line<T>(address: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint: it reads nothing the program sees and changes no state of it, whatever the address.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(address.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = address;
}

/// Asks Linux to back `[start, start + len)` with huge pages; a hint, which a kernel without transparent huge pages
/// (or with them off) ignores.
#[cfg(target_os = "linux")]
fn advise_huge_pages(start: *mut u8, len: usize) {
    use std::ffi::{c_int, c_void};
    const MADV_HUGEPAGE: c_int = 14;
    extern "C" {
        fn madvise(addr: *mut c_void, len: usize, advice: c_int) -> c_int;
    }
    // SAFETY: the range is one allocation of ours, aligned to a page; the advice changes how it is backed, never what
    // it holds. A failure leaves it in ordinary pages.
    unsafe { madvise(start.cast(), len, MADV_HUGEPAGE) };
}

#[cfg(not(target_os = "linux"))]
fn advise_huge_pages(_start: *mut u8, _len: usize) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_its_values_and_clones_them() {
        for len in [0, 1, 1000, HUGE_PAGE / 2 / 16, HUGE_PAGE / 16 + 1] {
            let mut table = LargeTable::filled(len, (7u64, 9u32));
            assert_eq!(table.len(), len);
            assert!(table.iter().all(|&value| value == (7, 9)));
            if let Some(last) = table.last_mut() {
                *last = (1, 2);
            }
            let copy = table.clone();
            drop(table);
            assert_eq!(copy.len(), len);
            assert!(copy.iter().take(len.saturating_sub(1)).all(|&value| value == (7, 9)));
            assert!(len == 0 || copy[len - 1] == (1, 2));
        }
    }

    #[test]
    fn large_tables_start_on_a_huge_page() {
        // Half a huge page of 16-byte values and more: aligned; less: an ordinary allocation.
        for len in [HUGE_PAGE / 2 / 16, HUGE_PAGE / 16, 3 * HUGE_PAGE / 16 + 5] {
            let table = LargeTable::filled(len, [0u64; 2]);
            assert_eq!(table.as_ptr() as usize % HUGE_PAGE, 0, "{len} values");
            assert_eq!(LargeTable::<[u64; 2]>::layout(len).size() % HUGE_PAGE, 0);
        }
        assert!(LargeTable::<[u64; 2]>::layout(HUGE_PAGE / 2 / 16 - 1).align() < HUGE_PAGE);
    }
}
