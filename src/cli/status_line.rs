//! `probe record`'s live line on a terminal, kept out of the program's way.
//!
//! The program writes to the same terminal, at moments the recorder cannot
//! see, so a line redrawn with `\r` (what a progress bar does) ends up in
//! the middle of the program's own lines. Instead the line lives on the
//! terminal's last row, outside a scrolling region that covers the rows
//! above it (DECSTBM, as apt does while dpkg prints): the program's output
//! scrolls inside the region and never meets the line, and the line is
//! drawn with the cursor saved and restored around it, so the program's
//! next byte lands where it would have anyway. The region is reset when the
//! recording ends (also on errors and panics: `Drop`), and re-set when the
//! terminal is resized. Off when stderr is not a terminal, `TERM` is
//! `dumb`, the terminal has fewer than 3 rows, or with `-q`.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use crate::text::format_duration;

/// The live line; inert when disabled. The terminal is touched only once
/// there is something to show (a run refused at its start leaves it as it
/// was).
pub struct StatusLine {
    enabled: bool,
    set_up: bool,
    rows: u16,
    cols: u16,
    started: Instant,
    last_draw: Option<Instant>,
    text: String,
}

fn winsize() -> Option<(u16, u16)> {
    // SAFETY: TIOCGWINSZ fills the zeroed winsize struct for fd 2.
    unsafe {
        let mut ws: libc::winsize = std::mem::zeroed();
        if libc::ioctl(2, libc::TIOCGWINSZ, &mut ws) != 0 {
            return None;
        }
        Some((ws.ws_row, ws.ws_col))
    }
}

/// One write of `s` to stderr (the terminal serialises whole writes, so
/// the program's output never lands inside one of ours).
fn put(s: &str) {
    let mut e = std::io::stderr().lock();
    let _ = e.write_all(s.as_bytes());
    let _ = e.flush();
}

impl StatusLine {
    /// A status line, if `quiet` is off and stderr is a usable terminal.
    pub fn new(quiet: bool) -> StatusLine {
        let term_ok = std::env::var("TERM").is_ok_and(|t| !t.is_empty() && t != "dumb");
        let size = if !quiet && term_ok && std::io::stderr().is_terminal() {
            winsize().filter(|&(r, c)| r >= 3 && c >= 20)
        } else {
            None
        };
        let (rows, cols) = size.unwrap_or((0, 0));
        StatusLine {
            enabled: size.is_some(),
            set_up: false,
            rows,
            cols,
            started: Instant::now(),
            last_draw: None,
            text: String::new(),
        }
    }

    fn set_up(&mut self) {
        if !self.set_up {
            self.set_up = true;
            // A newline first, so that a cursor on the last row moves off
            // the row the line takes; then the region, whose setting homes
            // the cursor: put it back, one row up.
            put(&format!("\n\x1b7\x1b[1;{}r\x1b8\x1b[1A", self.rows - 1));
        }
    }

    /// Shows `msg` after the elapsed time, at most 4 times a second.
    pub fn update(&mut self, msg: &str) {
        if !self.enabled {
            return;
        }
        if self
            .last_draw
            .is_some_and(|t| t.elapsed() < Duration::from_millis(250))
        {
            return;
        }
        self.text = format!(
            "probe: {} {msg}",
            format_duration(std::time::Duration::from_secs(
                self.started.elapsed().as_secs()
            ))
        );
        self.draw();
    }

    fn draw(&mut self) {
        self.set_up();
        self.last_draw = Some(Instant::now());
        let text: String = self
            .text
            .chars()
            .take(usize::from(self.cols.saturating_sub(1)))
            .collect();
        put(&format!("\x1b7\x1b[{};1H\x1b[2K{text}\x1b8", self.rows));
    }

    /// The terminal changed size: move the region and the line.
    pub fn resized(&mut self) {
        if !self.enabled || !self.set_up {
            return;
        }
        match winsize().filter(|&(r, c)| r >= 3 && c >= 20) {
            Some((rows, cols)) => {
                // Clear the old line's row, then set the region anew.
                put(&format!(
                    "\x1b7\x1b[{};1H\x1b[2K\x1b[1;{}r\x1b8",
                    self.rows.min(rows),
                    rows - 1
                ));
                self.rows = rows;
                self.cols = cols;
                self.draw();
            }
            None => self.finish(),
        }
    }

    /// Removes the line and gives the whole terminal back.
    pub fn finish(&mut self) {
        if !self.enabled {
            return;
        }
        self.enabled = false;
        if !self.set_up {
            return;
        }
        put(&format!("\x1b7\x1b[r\x1b[{};1H\x1b[2K\x1b8", self.rows));
    }
}

impl Drop for StatusLine {
    fn drop(&mut self) {
        self.finish();
    }
}
