//! Plain old data: Rust values whose bytes can be handed to the kernel as a
//! map key or value, and made from the bytes the kernel hands back.
//!
//! The kernel copies keys and values as bytes (`copy_from_user` and
//! `copy_to_user` of `key_size` and `value_size` bytes in
//! kernel/bpf/syscall.c); it knows nothing of Rust's types. A type can stand
//! for those bytes only if every byte of it is data (no padding, which is
//! uninitialised memory to read) and every bit pattern of its size is a
//! valid value (the kernel, or a BPF program, may write anything).

/// A type whose values are exactly their bytes.
///
/// # Safety
///
/// Implement it only for a type that
/// - has no padding bytes (a `#[repr(C)]` struct whose fields leave no
///   gaps and no tail, or `#[repr(transparent)]`),
/// - accepts every bit pattern of `size_of::<Self>()` bytes as a valid value
///   (integers, floats, arrays of them; not `bool`, `char`, enums,
///   references or pointers one would dereference),
/// - and has no interior mutability or drop glue (it is `Copy`).
///
/// The crate implements it for the integer and float types and for arrays
/// of any `Pod`.
pub unsafe trait Pod: Copy + 'static {}

macro_rules! pod {
    ($($t:ty),*) => {
        $(
            // SAFETY: a primitive number: no padding, every bit pattern valid.
            unsafe impl Pod for $t {}
        )*
    };
}
pod!(u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize, f32, f64);

// SAFETY: an array has no padding between or after elements of a type with
// no padding, and every bit pattern is valid when it is for each element.
unsafe impl<T: Pod, const N: usize> Pod for [T; N] {}

/// The bytes of a `Pod` value.
pub fn bytes_of<T: Pod>(value: &T) -> &[u8] {
    // SAFETY: `T: Pod` has no padding, so all size_of::<T>() bytes behind
    // the reference are initialised; u8 has alignment 1; the slice borrows
    // `value` for its lifetime.
    unsafe { std::slice::from_raw_parts((value as *const T).cast::<u8>(), size_of::<T>()) }
}

/// A `Pod` value made from exactly `size_of::<T>()` bytes, or None if
/// `bytes` has another length.
pub fn from_bytes<T: Pod>(bytes: &[u8]) -> Option<T> {
    if bytes.len() != size_of::<T>() {
        return None;
    }
    // SAFETY: `bytes` holds size_of::<T>() initialised bytes (checked), any
    // bit pattern is a valid T (`Pod`), and read_unaligned needs no
    // alignment.
    Some(unsafe { bytes.as_ptr().cast::<T>().read_unaligned() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_values_round_trip_through_their_bytes() {
        let v = [1u32, 2, 0xdead_beef];
        let bytes = bytes_of(&v);
        assert_eq!(bytes.len(), 12);
        assert_eq!(&bytes[8..], &0xdead_beefu32.to_ne_bytes());
        assert_eq!(from_bytes::<[u32; 3]>(bytes), Some(v));
        assert_eq!(from_bytes::<u64>(bytes), None, "wrong length");
        assert_eq!(from_bytes::<u16>(&[1, 0]), Some(u16::from_ne_bytes([1, 0])));
    }
}
