//! What a message is on the wire: a stable name, chosen by the program,
//! never the Rust type's path.

use serde::de::DeserializeOwned;
use serde::Serialize;

/// A message that may travel between nodes: encoded with serde, and
/// known on the wire by a stable name.
///
/// The name, not the Rust type, is what two nodes agree on: a type may be
/// renamed or moved, and nodes built from different versions of a program
/// or with different compilers still understand each other, as long as
/// the name stays. Frames carry [`WIRE_ID`](Self::WIRE_ID), a 64-bit hash
/// of the name, not the name itself.
///
/// Derive it with `#[derive(Message)]` and `#[message(name = "...")]`;
/// plain types (`String`, integers, `bool`, `()`, `Vec<u8>`) have it
/// already, under their Rust names.
///
/// # Evolving a message
///
/// Structs are encoded with their field names, so a field added with
/// `#[serde(default)]` is read as its default by a node that does not send
/// it, and ignored by a node that does not know it. An enum variant that
/// the receiving node does not know is a dead letter there (a call gets
/// [`CallError::Rejected`](crate::CallError::Rejected)), and the
/// connection goes on.
///
/// # Examples
///
/// ```
/// use beamish_core::Message;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize, Message)]
/// #[message(name = "jobs.Dispatch")]
/// enum Dispatch {
///     Run { job: u64 },
///     Cancel { job: u64 },
/// }
///
/// assert_eq!(Dispatch::NAME, "jobs.Dispatch");
/// assert_eq!(Dispatch::WIRE_ID, beamish_core::wire_id("jobs.Dispatch"));
/// ```
pub trait Message: Serialize + DeserializeOwned + Send + 'static {
    /// The message's name on the wire, stable across builds.
    const NAME: &'static str;

    /// What frames carry instead of the name: [`wire_id`] of it.
    const WIRE_ID: u64 = wire_id(Self::NAME);
}

/// The 64-bit identity of a wire name, as frames carry it: FNV-1a over the
/// name's bytes, the same in every build and on every platform.
pub const fn wire_id(name: &str) -> u64 {
    let bytes = name.as_bytes();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    hash
}

macro_rules! plain {
    ($($ty:ty => $name:literal),* $(,)?) => {
        $(impl Message for $ty {
            const NAME: &'static str = $name;
        })*
    };
}

plain! {
    () => "()",
    bool => "bool",
    u8 => "u8",
    u16 => "u16",
    u32 => "u32",
    u64 => "u64",
    i8 => "i8",
    i16 => "i16",
    i32 => "i32",
    i64 => "i64",
    f32 => "f32",
    f64 => "f64",
    char => "char",
    String => "String",
    Vec<u8> => "Vec<u8>",
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_ids_are_fnv1a_and_stable() {
        // FNV-1a's published test vectors.
        assert_eq!(wire_id(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(wire_id("a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(wire_id("foobar"), 0x8594_4171_f739_67e8);
        assert_eq!(<u64 as Message>::WIRE_ID, wire_id("u64"));
    }
}
