//! The pointer formats: each knows a chat's keys, encodes messages and opens pointers.

pub mod clm201;
pub mod clm202;
pub mod native;
pub mod native2;
pub mod padding;

/// Largest ciphertext a pointer may carry (2 MiB): room for a 1 MiB message with margin,
/// and small enough that the detector's memory stays bounded.
pub const MAX_DATA_BYTES: usize = 2 * 1024 * 1024;

pub(crate) fn check_size(len: usize) -> Result<(), crate::EncodeError> {
    if len > MAX_DATA_BYTES {
        return Err(crate::EncodeError::TooLarge { len, max: MAX_DATA_BYTES });
    }
    Ok(())
}
