//! History: every probe's complete record history rebuilt from a log
//! ([`buffer::ProbeDataBuffer`]), and the schedule on which a display
//! refreshing at a fixed rate would have redrawn it
//! ([`throttle::RedrawThrottler`]). Consumed by `replay` (and the viewer).

pub mod buffer;
pub mod throttle;
