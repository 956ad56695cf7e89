//! The native capture core (`crates/agent`): the extension module the agent
//! loads into the traced interpreter (Python 3.12+) for `--core native`
//! and `auto`. build.rs builds it; the binary carries it, and the recorder
//! hands it to the agent inside the bundle (an in-memory file), which loads
//! it from an in-memory file of its own: nothing is written to or loaded
//! from the file system.

/// The extension module's bytes (an ELF shared object for CPython's stable
/// ABI 3.12+).
pub const IMAGE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/_probe_native.so"));

#[cfg(test)]
mod tests {
    #[test]
    fn image_is_a_shared_object_with_the_module_entry_point() {
        assert_eq!(&super::IMAGE[..4], b"\x7fELF");
        let needle = b"PyInit__probe_native";
        assert!(super::IMAGE.windows(needle.len()).any(|w| w == needle));
    }
}
