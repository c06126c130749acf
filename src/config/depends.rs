//! `depends_on`: which targets and status pages a target depends on. Every name must be a
//! target or a status page other than itself, and targets must not depend on each other in
//! a cycle (a cycle could hold every alert in it forever). Errors point at the name.

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::sync::Arc;

use super::error::suggest;
use super::raw::RawTarget;
use super::Validator;

/// Target -> the targets it depends on, each with where it is written (span, context).
type Edges<'a> = HashMap<&'a str, Vec<(&'a str, Range<usize>, &'a str)>>;

impl Validator<'_> {
    /// The dependencies of each target, by name as written.
    pub(super) fn depends_on(
        &mut self,
        targets: &[(RawTarget, Range<usize>, String)],
        pages: &[&str],
    ) -> HashMap<String, Vec<Arc<str>>> {
        let names: Vec<&str> = targets
            .iter()
            .filter_map(|(r, _, _)| r.name.as_ref().map(|n| n.get_ref().as_str()))
            .collect();
        let known: Vec<&str> = names.iter().chain(pages).copied().collect();
        let is_target: HashSet<&str> = names.iter().copied().collect();
        let is_known: HashSet<&str> = known.iter().copied().collect();
        let mut deps: HashMap<String, Vec<Arc<str>>> = HashMap::new();
        // Edges between targets, with where each is written, for the cycle check.
        let mut edges: Edges<'_> = HashMap::new();
        for (raw, _, ctx) in targets {
            let (Some(name), Some(list)) = (&raw.name, &raw.depends_on) else {
                continue;
            };
            let name = name.get_ref().as_str();
            for item in list.get_ref() {
                let parent = item.get_ref().as_str();
                if parent == name {
                    self.d.push(
                        item.span(),
                        ctx,
                        format!("depends_on: {parent:?} is this target itself"),
                    );
                } else if is_known.contains(parent) {
                    deps.entry(name.to_string())
                        .or_default()
                        .push(Arc::from(parent));
                    if is_target.contains(parent) {
                        edges
                            .entry(name)
                            .or_default()
                            .push((parent, item.span(), ctx.as_str()));
                    }
                } else {
                    let hint = match suggest(parent, &known) {
                        Some(s) => format!(" (did you mean {s:?}?)"),
                        None => String::new(),
                    };
                    self.d.push(
                        item.span(),
                        ctx,
                        format!("depends_on: no target or status_page named {parent:?}{hint}"),
                    );
                }
            }
        }
        // Depth-first, each target once (done), so a wide graph costs its size; a name on
        // the current path seen again closes a cycle, reported at that name.
        let mut done: HashSet<&str> = HashSet::new();
        for start in &names {
            let mut path = Vec::new();
            self.walk(&edges, start, &mut path, &mut done);
        }
        deps
    }

    fn walk<'a>(
        &mut self,
        edges: &Edges<'a>,
        node: &'a str,
        path: &mut Vec<&'a str>,
        done: &mut HashSet<&'a str>,
    ) {
        if done.contains(&node) {
            return;
        }
        path.push(node);
        for (next, at, ctx) in edges.get(node).into_iter().flatten() {
            if let Some(i) = path.iter().position(|p| p == next) {
                let mut cycle: Vec<&str> = path[i..].to_vec();
                cycle.push(next);
                self.d.push(
                    at.clone(),
                    ctx,
                    format!(
                        "depends_on: a cycle ({}): break it, a target cannot wait on itself",
                        cycle.join(" -> ")
                    ),
                );
            } else {
                self.walk(edges, next, path, done);
            }
        }
        path.pop();
        done.insert(node);
    }
}
