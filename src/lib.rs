//! probe: record the values of variables of a running Python program.

pub mod capture;
pub mod diff;
pub mod export;
pub mod log;
pub mod record;
pub mod render;
pub mod replay;
pub mod wire;
