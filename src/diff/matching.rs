//! Which probe of trace A is which probe of trace B.
//!
//! Identity is (file, line, name, role). Files are compared by their path
//! components from the end: the two traces usually ran in different
//! checkouts (`/home/me/src/loop.py` vs `/ci/work/src/loop.py`), so equal
//! base names match, and when several probes of B qualify, the one sharing
//! the longest trailing path wins. `--map OLD=NEW` renames A's files first:
//! a file of A whose trailing components are OLD is taken to be NEW.
//!
//! With `ignore_lines`, probes left unmatched after that are paired by
//! (file, name, role) alone when exactly one probe of A and one of B have
//! that key — the case of code moved up or down a file. An ambiguous key
//! (the same name probed on two lines) is left unmatched, never guessed.

use std::path::{Component, Path};

use crate::log::ProbeInfo;

/// A pair of probes to compare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    /// Probe id in A.
    pub a: u32,
    /// Probe id in B.
    pub b: u32,
    /// `identity`, `map` (a `--map` rule renamed A's file) or `name` (`--ignore-lines`).
    pub how: &'static str,
}

/// The matching of two probe tables.
#[derive(Debug, Clone, Default)]
pub struct Matching {
    /// Matched pairs, in A's probe order.
    pub pairs: Vec<Pair>,
    /// Probes of A without a partner.
    pub only_a: Vec<u32>,
    /// Probes of B without a partner.
    pub only_b: Vec<u32>,
}

fn components(p: &str) -> Vec<String> {
    Path::new(p)
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect()
}

fn common_suffix(a: &[String], b: &[String]) -> usize {
    a.iter()
        .rev()
        .zip(b.iter().rev())
        .take_while(|(x, y)| x == y)
        .count()
}

/// `file` after the first `--map` rule whose OLD is a trailing part of it
/// (the rule's NEW replaces those components). `None` when no rule applies.
pub fn mapped(file: &str, maps: &[(String, String)]) -> Option<Vec<String>> {
    let f = components(file);
    for (old, new) in maps {
        let o = components(old);
        if !o.is_empty() && o.len() <= f.len() && f[f.len() - o.len()..] == o[..] {
            let mut out = f[..f.len() - o.len()].to_vec();
            out.extend(components(new));
            return Some(out);
        }
    }
    None
}

/// Match `a`'s probes to `b`'s (see the module docs).
pub fn match_probes(
    a: &[ProbeInfo],
    b: &[ProbeInfo],
    maps: &[(String, String)],
    ignore_lines: bool,
) -> Matching {
    let files_a: Vec<(Vec<String>, bool)> = a
        .iter()
        .map(|p| match mapped(&p.file, maps) {
            Some(f) => (f, true),
            None => (components(&p.file), false),
        })
        .collect();
    let files_b: Vec<Vec<String>> = b.iter().map(|p| components(&p.file)).collect();
    let mut taken_b = vec![false; b.len()];
    let mut partner_a: Vec<Option<(u32, &'static str)>> = vec![None; a.len()];

    for (i, pa) in a.iter().enumerate() {
        let (fa, was_mapped) = &files_a[i];
        let best = b
            .iter()
            .enumerate()
            .filter(|(j, pb)| {
                !taken_b[*j] && pb.line == pa.line && pb.name == pa.name && pb.role == pa.role
            })
            .map(|(j, _)| (j, common_suffix(fa, &files_b[j])))
            .filter(|(_, s)| *s >= 1)
            .max_by_key(|(j, s)| (*s, std::cmp::Reverse(*j)));
        if let Some((j, _)) = best {
            taken_b[j] = true;
            partner_a[i] = Some((j as u32, if *was_mapped { "map" } else { "identity" }));
        }
    }

    if ignore_lines {
        let key_a = |i: usize| (files_a[i].0.last().cloned(), &a[i].name, a[i].role);
        let key_b = |j: usize| (files_b[j].last().cloned(), &b[j].name, b[j].role);
        for i in 0..a.len() {
            if partner_a[i].is_some() {
                continue;
            }
            let k = key_a(i);
            let same_a = (0..a.len())
                .filter(|&x| partner_a[x].is_none() && key_a(x) == k)
                .count();
            let cands: Vec<usize> = (0..b.len())
                .filter(|&j| !taken_b[j] && key_b(j) == k)
                .collect();
            if same_a == 1 && cands.len() == 1 {
                taken_b[cands[0]] = true;
                partner_a[i] = Some((cands[0] as u32, "name"));
            }
        }
    }

    let mut m = Matching::default();
    for (i, p) in partner_a.iter().enumerate() {
        match p {
            Some((j, how)) => m.pairs.push(Pair {
                a: i as u32,
                b: *j,
                how,
            }),
            None => m.only_a.push(i as u32),
        }
    }
    m.only_b = (0..b.len() as u32)
        .filter(|&j| !taken_b[j as usize])
        .collect();
    m
}

/// The program a trace ran, for telling traces of different programs
/// apart: the module of `-m MODULE`, else the base name of the first
/// `*.py` argument, else the base name of the first word.
pub fn program_name(command: &[String]) -> String {
    if let Some(i) = command.iter().position(|w| w == "-m") {
        if let Some(m) = command.get(i + 1) {
            return m.clone();
        }
    }
    let base = |w: &String| {
        Path::new(w)
            .file_name()
            .map_or_else(|| w.clone(), |f| f.to_string_lossy().into_owned())
    };
    command
        .iter()
        .find(|w| w.ends_with(".py"))
        .or_else(|| command.first())
        .map(base)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Role;

    fn p(id: u32, file: &str, line: u32, name: &str) -> ProbeInfo {
        ProbeInfo {
            id,
            spec: format!("{file}:{line}:{name}@lhs"),
            file: file.into(),
            line,
            name: name.into(),
            role: Role::Lhs,
        }
    }

    #[test]
    fn same_base_name_in_other_checkouts_matches() {
        let a = [p(0, "/home/me/src/loop.py", 4, "x")];
        let b = [p(0, "/ci/work/src/loop.py", 4, "x")];
        let m = match_probes(&a, &b, &[], false);
        assert_eq!(
            m.pairs,
            vec![Pair {
                a: 0,
                b: 0,
                how: "identity"
            }]
        );
    }

    #[test]
    fn the_longest_shared_path_wins() {
        let a = [p(0, "/x/pkg/a/mod.py", 4, "x")];
        let b = [
            p(0, "/y/pkg/b/mod.py", 4, "x"),
            p(1, "/y/pkg/a/mod.py", 4, "x"),
        ];
        let m = match_probes(&a, &b, &[], false);
        assert_eq!(m.pairs[0].b, 1);
        assert_eq!(m.only_b, vec![0]);
    }

    #[test]
    fn map_renames_and_ignore_lines_pairs_unambiguous_names() {
        let a = [p(0, "/s/old.py", 4, "x"), p(1, "/s/old.py", 9, "y")];
        let b = [p(0, "/s/new.py", 4, "x"), p(1, "/s/new.py", 11, "y")];
        let m = match_probes(&a, &b, &[], false);
        assert!(m.pairs.is_empty());
        let maps = [("old.py".to_string(), "new.py".to_string())];
        let m = match_probes(&a, &b, &maps, false);
        assert_eq!(
            m.pairs,
            vec![Pair {
                a: 0,
                b: 0,
                how: "map"
            }]
        );
        assert_eq!(m.only_a, vec![1]);
        let m = match_probes(&a, &b, &maps, true);
        assert_eq!(
            m.pairs[1],
            Pair {
                a: 1,
                b: 1,
                how: "name"
            }
        );
    }

    #[test]
    fn ignore_lines_leaves_ambiguous_names_alone() {
        let a = [p(0, "/s/f.py", 4, "x"), p(1, "/s/f.py", 8, "x")];
        let b = [p(0, "/s/f.py", 5, "x"), p(1, "/s/f.py", 9, "x")];
        let m = match_probes(&a, &b, &[], true);
        assert!(m.pairs.is_empty());
    }

    #[test]
    fn program_names() {
        let c = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        assert_eq!(program_name(&c("python3 /a/b/loop.py 3")), "loop.py");
        assert_eq!(program_name(&c("python3 -m pkg.main")), "pkg.main");
        assert_eq!(program_name(&c("/bin/tool")), "tool");
    }
}
