//! probe: record the values of variables of a running Python program.
//!
//! The modules follow the data's path: [`model`] (the shared vocabulary:
//! values, statuses, records) → [`capture`] (the in-process agent and its
//! resolver) → [`wire`] (agent → recorder stream) → [`record`] (the
//! recorder) → [`log`] (the `.probe` file: writer, reader, verify, info) →
//! [`history`] (per-probe histories, the redraw throttler) → [`render`],
//! [`replay`], [`diff`], [`export`] → [`cli`] (one file per command).

pub mod capture;
pub mod cli;
pub mod diff;
pub mod export;
pub mod history;
pub mod log;
pub mod model;
pub mod record;
pub mod render;
pub mod replay;
pub mod view;
pub mod wire;
