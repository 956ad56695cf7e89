//! Rendering: plots drawn with `plotters` for `probe replay` and
//! `probe diff --plot`.

pub mod font;
