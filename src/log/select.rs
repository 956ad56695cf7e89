//! Probe selection (`--probe SELECTOR`, repeatable): one implementation for
//! every command that takes it.

use crate::model::{short_labels, ProbeInfo};

/// A selector that names no probe of the log.
#[derive(Debug, thiserror::Error)]
#[error("--probe {selector:?} matches no probe of this log (its probes: {available})")]
pub struct NoSuchProbe {
    /// The selector given.
    pub selector: String,
    /// The log's probes, by their short labels, comma-separated.
    pub available: String,
}

/// Which probes of a table are chosen (index = probe id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    wanted: Vec<bool>,
    all: bool,
}

impl Selection {
    /// Every probe of a table of `n`.
    pub fn all(n: usize) -> Selection {
        Selection {
            wanted: vec![true; n],
            all: true,
        }
    }

    /// The probes any of `selectors` matches ([`ProbeInfo::matches`]);
    /// every probe when there is no selector. Each selector must match.
    pub fn new(probes: &[ProbeInfo], selectors: &[String]) -> Result<Selection, NoSuchProbe> {
        if selectors.is_empty() {
            return Ok(Selection::all(probes.len()));
        }
        let mut wanted = vec![false; probes.len()];
        for s in selectors {
            let mut hit = false;
            for (w, p) in wanted.iter_mut().zip(probes) {
                if p.matches(s) {
                    *w = true;
                    hit = true;
                }
            }
            if !hit {
                let labels = short_labels(probes);
                return Err(NoSuchProbe {
                    selector: s.clone(),
                    available: if labels.is_empty() {
                        "none".to_string()
                    } else {
                        labels.join(", ")
                    },
                });
            }
        }
        Ok(Selection { wanted, all: false })
    }

    /// True when probe `id` is chosen (false for ids outside the table).
    #[inline]
    pub fn contains(&self, id: u32) -> bool {
        self.wanted.get(id as usize).copied().unwrap_or(false)
    }

    /// True when every probe is chosen.
    pub fn is_all(&self) -> bool {
        self.all
    }

    /// One flag per probe id.
    pub fn flags(&self) -> &[bool] {
        &self.wanted
    }

    /// The chosen probe ids, in table order.
    pub fn ids(&self) -> Vec<usize> {
        (0..self.wanted.len()).filter(|&i| self.wanted[i]).collect()
    }

    /// How many probes are chosen.
    pub fn count(&self) -> usize {
        self.wanted.iter().filter(|w| **w).count()
    }
}
