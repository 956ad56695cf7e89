//! Rendering: plots drawn with `plotters` for `probe replay` and
//! `probe diff --plot` — one renderer: [`plot`] draws replay's panels and
//! holds the chart helpers [`diff`] draws its rows with; [`axis`] makes
//! any data a safe axis; [`decimate`] reduces lines to the pixels exactly
//! (M4) and clips them; [`encode`] turns frames into PNG/SVG/GIF bytes.

pub mod axis;
pub mod decimate;
pub mod diff;
pub mod encode;
pub mod font;
pub mod plot;
