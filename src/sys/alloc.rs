//! The heap of the `rawbpf` binary: the system allocator, with freed small
//! blocks kept for reuse instead of handed back.
//!
//! The static build links musl, whose allocator returns memory to the kernel
//! as soon as a group of blocks is free: loading 64 programs made about 120
//! mmap and 120 munmap calls of a few KiB each, one pair for every few
//! allocations. Each costs a page fault or two, and once a worker thread
//! runs (the parallel load, `parallel`), each munmap must also flush the
//! TLB of every other CPU the process runs on: an interprocessor interrupt,
//! slow in a VM. A loader lives for milliseconds and frees mostly what it
//! will soon allocate again (a buffer per program, a name per pin), so
//! keeping freed blocks costs little memory and saves all of that.
//!
//! Blocks up to 64 KiB are rounded up to a power of two and carved, one
//! after the other, from chunks of 256 KiB taken from the system allocator
//! and never given back; a freed block goes on the list of its size and is
//! handed out again by the next request of that size. Only the pages of a
//! chunk that were carved and written become resident. Larger blocks, and
//! any alignment above 16, go straight to the system allocator, which maps
//! large blocks on their own and unmaps them when freed, as it should.
//!
//! Only the binary installs it (`#[global_allocator]` in main.rs): a program
//! that embeds the library keeps its own allocator.
//!
//! One lock guards the lists. A child forked while another thread holds it
//! would wait forever on its first allocation, so a forked child must not
//! allocate (the only fork, `sys::probe_from_cgroup`, does not).

use std::alloc::{GlobalAlloc, Layout, System};
use std::ptr;
use std::sync::{Mutex, PoisonError};

/// The smallest block: room for the free list's link, and the alignment
/// every block gets (the system allocator's own, for blocks this size).
const SMALLEST: usize = 16;
/// The largest block kept for reuse (64 KiB).
const LARGEST: usize = 64 * 1024;
/// One free list per power of two from SMALLEST to LARGEST.
const CLASSES: usize = (LARGEST.trailing_zeros() - SMALLEST.trailing_zeros() + 1) as usize;
/// Small blocks are carved from chunks of 256 KiB: the system allocator
/// maps each on its own, and only the pages carved and used become
/// resident.
const CHUNK: Layout = match Layout::from_size_align(256 * 1024, SMALLEST) {
    Ok(layout) => layout,
    Err(_) => panic!("a valid layout"),
};

/// Small blocks carved from chunks, kept for reuse; large ones the system's.
pub struct ReusingAllocator {
    heap: Mutex<Heap>,
}

/// The state behind the lock: a free list per size class, and the part of
/// the newest chunk not yet carved.
struct Heap {
    /// The head of each class's free list; a free block's first word points
    /// to the next free block of its class (null ends the list).
    free: [*mut u8; CLASSES],
    /// The uncarved part of the current chunk, `next..end`.
    next: *mut u8,
    end: *mut u8,
}

// SAFETY: the pointers are to memory no one else uses (free blocks and the
// uncarved chunk), only read or changed under the Mutex.
unsafe impl Send for Heap {}

impl ReusingAllocator {
    /// An allocator with nothing carved yet.
    pub const fn new() -> ReusingAllocator {
        ReusingAllocator {
            heap: Mutex::new(Heap {
                free: [ptr::null_mut(); CLASSES],
                next: ptr::null_mut(),
                end: ptr::null_mut(),
            }),
        }
    }

    fn heap(&self) -> std::sync::MutexGuard<'_, Heap> {
        // Nothing under the lock can panic; poison is ignored.
        self.heap.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Heap {
    /// A block of `class`: a kept one, else carved from the chunk (a new
    /// chunk when this one has too little left). Null when the system has
    /// no memory.
    fn take(&mut self, class: usize) -> *mut u8 {
        let block = self.free[class];
        if !block.is_null() {
            // SAFETY: a listed block is at least SMALLEST bytes, 16-aligned,
            // and `keep` wrote the next block's address into its first word.
            self.free[class] = unsafe { block.cast::<*mut u8>().read() };
            return block;
        }
        let size = SMALLEST << class;
        if (self.end as usize - self.next as usize) < size {
            self.keep_rest();
            // SAFETY: CHUNK is a valid, non-zero layout.
            let chunk = unsafe { System.alloc(CHUNK) };
            if chunk.is_null() {
                return chunk;
            }
            self.next = chunk;
            // SAFETY: the end of the block just allocated.
            self.end = unsafe { chunk.add(CHUNK.size()) };
        }
        let block = self.next;
        // SAFETY: size bytes are left between next and end (checked above).
        self.next = unsafe { self.next.add(size) };
        block
    }

    /// Puts what is left of the chunk on the free lists, largest blocks
    /// first: it is a multiple of SMALLEST smaller than LARGEST, so each
    /// class gets at most one block and nothing is lost.
    fn keep_rest(&mut self) {
        for class in (0..CLASSES).rev() {
            let size = SMALLEST << class;
            if (self.end as usize - self.next as usize) >= size {
                let block = self.next;
                // SAFETY: size bytes are left between next and end.
                self.next = unsafe { self.next.add(size) };
                // SAFETY: carved from the chunk just now; no one has it.
                unsafe { self.keep(class, block) };
            }
        }
    }

    /// Keeps `block` of `class` for reuse.
    ///
    /// # Safety
    /// `block` must be a block of that class from this heap, and no one may
    /// use it any more.
    unsafe fn keep(&mut self, class: usize, block: *mut u8) {
        // SAFETY: the block is ours now (the caller's promise), at least
        // SMALLEST bytes and 16-aligned, so its first word holds the link.
        unsafe { block.cast::<*mut u8>().write(self.free[class]) };
        self.free[class] = block;
    }
}

impl Default for ReusingAllocator {
    fn default() -> Self {
        ReusingAllocator::new()
    }
}

/// The size class of a request, or None for one the system allocator
/// serves directly (too large, or aligned above SMALLEST).
fn class_of(size: usize, align: usize) -> Option<usize> {
    if align > SMALLEST || size > LARGEST {
        return None;
    }
    let block = size.max(SMALLEST).next_power_of_two();
    Some((block.trailing_zeros() - SMALLEST.trailing_zeros()) as usize)
}

// SAFETY: every block handed out is at least the requested size and aligned
// as asked (a class block is 16-aligned and a power of two no smaller than
// the request; the rest is the system allocator's); a kept block is handed
// out once only, since `take` unlinks it under the lock.
unsafe impl GlobalAlloc for ReusingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match class_of(layout.size(), layout.align()) {
            // SAFETY: the caller's layout, passed on unchanged.
            None => unsafe { System.alloc(layout) },
            Some(class) => self.heap().take(class),
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        match class_of(layout.size(), layout.align()) {
            // The system's own: a large zeroed block is fresh pages that
            // become resident only where written (a 4 MiB verifier log).
            // SAFETY: the caller's layout, passed on unchanged.
            None => unsafe { System.alloc_zeroed(layout) },
            Some(class) => {
                let block = self.heap().take(class);
                if !block.is_null() {
                    // SAFETY: the block holds at least layout.size() bytes.
                    unsafe { block.write_bytes(0, layout.size()) };
                }
                block
            }
        }
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        match class_of(layout.size(), layout.align()) {
            // SAFETY: allocated by System with this very layout (alloc's
            // None arm, or realloc's).
            None => unsafe { System.dealloc(block, layout) },
            // SAFETY: allocated with this class (the same layout gives the
            // same class) and given up by the caller.
            Some(class) => unsafe { self.heap().keep(class, block) },
        }
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let old = class_of(layout.size(), layout.align());
        match (old, class_of(new_size, layout.align())) {
            // Growing or shrinking within its block: nothing to do.
            (Some(a), Some(b)) if a == b => block,
            // SAFETY: both sizes are the system allocator's; the caller
            // guarantees block, layout and new_size are valid for realloc.
            (None, None) => unsafe { System.realloc(block, layout, new_size) },
            _ => {
                // SAFETY: new_size with the old alignment is a valid layout
                // (the caller's promise for realloc).
                let new_layout =
                    unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
                // SAFETY: a valid, non-zero layout.
                let new = unsafe { self.alloc(new_layout) };
                if !new.is_null() {
                    // SAFETY: both blocks are live, distinct, and at least
                    // this many bytes long; the old one is then given up.
                    unsafe {
                        ptr::copy_nonoverlapping(block, new, layout.size().min(new_size));
                        self.dealloc(block, layout);
                    }
                }
                new
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_round_up_to_their_class() {
        assert_eq!(class_of(1, 1), Some(0));
        assert_eq!(class_of(16, 8), Some(0));
        assert_eq!(class_of(17, 8), Some(1));
        assert_eq!(class_of(4096, 16), Some(8));
        assert_eq!(class_of(LARGEST, 8), Some(CLASSES - 1));
        assert_eq!(class_of(LARGEST + 1, 8), None);
        assert_eq!(class_of(64, 32), None);
        assert_eq!(SMALLEST << (CLASSES - 1), LARGEST);
    }

    #[test]
    fn a_freed_block_is_handed_out_again() {
        let heap = ReusingAllocator::new();
        let layout = Layout::from_size_align(100, 8).unwrap();
        // SAFETY: valid layouts; every block is freed with its own layout.
        unsafe {
            let a = heap.alloc(layout);
            assert!(!a.is_null());
            a.write_bytes(0xaa, 100);
            heap.dealloc(a, layout);
            let b = heap.alloc(Layout::from_size_align(128, 16).unwrap());
            assert_eq!(a, b, "the kept 128-byte block is reused");
            // Growing within the class keeps the block and its bytes.
            let c = heap.realloc(b, Layout::from_size_align(128, 16).unwrap(), 120);
            assert_eq!(c, b);
            // Growing past it moves the bytes to a larger block.
            c.write_bytes(7, 120);
            let d = heap.realloc(c, Layout::from_size_align(120, 16).unwrap(), 1000);
            assert_ne!(d, c);
            assert!((0..120).all(|i| *d.add(i) == 7));
            heap.dealloc(d, Layout::from_size_align(1000, 16).unwrap());
            // Large blocks are the system's, through realloc too.
            let big = Layout::from_size_align(LARGEST + 1, 8).unwrap();
            let e = heap.alloc(big);
            e.write_bytes(3, LARGEST + 1);
            let f = heap.realloc(e, big, 2 * LARGEST);
            assert_eq!(*f.add(LARGEST), 3);
            heap.dealloc(f, Layout::from_size_align(2 * LARGEST, 8).unwrap());
        }
    }

    #[test]
    fn zeroed_blocks_are_zero_also_when_reused() {
        let heap = ReusingAllocator::new();
        let small = Layout::from_size_align(200, 8).unwrap();
        // SAFETY: valid layouts; each block is freed with its own.
        unsafe {
            let a = heap.alloc(small);
            a.write_bytes(0xff, 200);
            heap.dealloc(a, small);
            let b = heap.alloc_zeroed(small);
            assert_eq!(a, b, "the dirty block is reused");
            assert!((0..200).all(|i| *b.add(i) == 0));
            heap.dealloc(b, small);
            let big = Layout::from_size_align(4 << 20, 8).unwrap();
            let c = heap.alloc_zeroed(big);
            assert!(*c == 0 && *c.add((4 << 20) - 1) == 0);
            heap.dealloc(c, big);
        }
    }

    #[test]
    fn carved_blocks_do_not_overlap_across_chunks() {
        let heap = ReusingAllocator::new();
        let mut blocks = Vec::new();
        // Enough of every size to use several chunks and their rests.
        for round in 0..40usize {
            for size in [24, 100, 1000, 5000, 40_000, LARGEST] {
                let layout = Layout::from_size_align(size, 8).unwrap();
                // SAFETY: a valid layout; the block is written within it.
                let block = unsafe { heap.alloc(layout) };
                assert!(!block.is_null());
                assert_eq!(block as usize % SMALLEST, 0);
                // SAFETY: size bytes of a live block.
                unsafe { block.write_bytes(round as u8, size) };
                blocks.push((block, layout, round as u8));
            }
        }
        for (block, layout, byte) in blocks {
            // SAFETY: each block is live and freed once, with its layout.
            unsafe {
                assert!((0..layout.size()).all(|i| *block.add(i) == byte));
                heap.dealloc(block, layout);
            }
        }
    }
}
