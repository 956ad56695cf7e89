//! Capture: the in-process tracer core and the records it produces.
//!
//! The tracer core is pure Python (`agent.py`), shipped inside the binary and
//! run inside the user's own interpreter; `record` holds the Rust view of
//! what it captures.

pub mod record;

/// Source of the in-process agent, passed to the interpreter with `-c`.
pub const AGENT_SOURCE: &str = include_str!("agent.py");
