//! Rendering: plots drawn with `plotters` for `probe replay` and
//! `probe diff --plot`.

pub mod decimate;
pub mod encode;
pub mod font;
pub mod plot;
