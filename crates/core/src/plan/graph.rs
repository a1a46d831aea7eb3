//! The DAG: edges from each document's producer to the items that require it (plus
//! `after` waits), the stage-order check, a topological order (Kahn, stage-major, file
//! order where free) and, only when that fails, every cycle as a path (Tarjan's SCC).

use std::collections::HashMap;

use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;

use crate::spec::Anchor;

use super::compile::*;
use super::*;

impl Compiler<'_> {
    /// Builds the DAG of `items` (reporting items that wait for a later stage), orders it
    /// topologically and reports every cycle. The order is shorter than `items` exactly
    /// when there is a cycle.
    pub(super) fn graph(
        &mut self,
        items: &[Item],
        producer: &[Option<usize>],
        documents: &[Document],
    ) -> (DiGraph<usize, Edge>, Vec<usize>) {
        let l = self.loaded;
        let mut graph: DiGraph<usize, Edge> = DiGraph::with_capacity(items.len(), items.len() * 3);
        for i in 0..items.len() {
            graph.add_node(i);
        }
        // One edge per (predecessor, item) pair, holding every document and/or the
        // `after`; built item by item so no global map is needed.
        let mut edge_list: Vec<(usize, usize, Edge)> = Vec::with_capacity(items.len() * 3);
        let mut preds: Vec<(usize, Option<usize>)> = Vec::new();
        for (b, item) in items.iter().enumerate() {
            preds.clear();
            preds.extend(
                item.requires
                    .documents
                    .iter()
                    .filter_map(|&d| producer[d].map(|a| (a, Some(d)))),
            );
            preds.extend(item.after.iter().map(|&a| (a, None)));
            preds.sort_unstable();
            for &(a, d) in &preds {
                match edge_list.last_mut() {
                    Some((la, lb, e)) if *la == a && *lb == b => match d {
                        Some(_) => e.documents += 1,
                        None => e.after = true,
                    },
                    _ => edge_list.push((
                        a,
                        b,
                        Edge {
                            documents: u32::from(d.is_some()),
                            after: d.is_none(),
                        },
                    )),
                }
            }
        }
        for (a, b, e) in edge_list {
            if items[a].stage > items[b].stage
                && !self.stageless.contains(&a)
                && !self.stageless.contains(&b)
            {
                let why = match first_document(&items[b], producer, a) {
                    None => "waits for".to_string(),
                    Some(d) => format!("requires `{}` from", documents[d].id),
                };
                self.error(
                    "stage-order",
                    Some(&items[b].id),
                    format!(
                        "item `{}` ({}) {why} `{}`, which is in a later stage ({})",
                        items[b].id,
                        items[b].stage.id(),
                        items[a].id,
                        items[a].stage.id()
                    ),
                    Anchor::at(&l.items[b], sub(&["stage"])),
                );
            }
            graph.add_edge(NodeIndex::new(a), NodeIndex::new(b), e);
        }

        // Topological order, stage-major, otherwise in file order where the graph allows
        // (Kahn's algorithm with the smallest (stage, index) first), so reports read in
        // the order the workflow was written.
        let mut indegree = vec![0usize; items.len()];
        for e in graph.edge_references() {
            indegree[e.target().index()] += 1;
        }
        let mut ready: std::collections::BinaryHeap<std::cmp::Reverse<(Stage, usize)>> = (0..items
            .len())
            .filter(|&i| indegree[i] == 0)
            .map(|i| std::cmp::Reverse((items[i].stage, i)))
            .collect();
        let mut topo = Vec::with_capacity(items.len());
        while let Some(std::cmp::Reverse((_, i))) = ready.pop() {
            topo.push(i);
            for e in graph.edges(NodeIndex::new(i)) {
                let j = e.target().index();
                indegree[j] -= 1;
                if indegree[j] == 0 {
                    ready.push(std::cmp::Reverse((items[j].stage, j)));
                }
            }
        }

        // Only a graph that Kahn's algorithm could not finish has a cycle; then report each
        // strongly connected component once, as a whole path.
        let sccs = if topo.len() < items.len() {
            petgraph::algo::tarjan_scc(&graph)
        } else {
            Vec::new()
        };
        for scc in sccs {
            let is_cycle = scc.len() > 1 || graph.contains_edge(scc[0], scc[0]);
            if !is_cycle {
                continue;
            }
            let cycle = find_cycle(&graph, &scc);
            let start = cycle[0];
            let mut text = items[start].id.clone();
            // `A -(d1)-> B -(after)-> A`: each step names the document or the `after`.
            for w in cycle
                .windows(2)
                .chain(std::iter::once(&[cycle[cycle.len() - 1], start][..]))
            {
                let via = match first_document(&items[w[1]], producer, w[0]) {
                    Some(d) => documents[d].id.as_str(),
                    None => "after",
                };
                text.push_str(&format!(" -({via})-> {}", items[w[1]].id));
            }
            self.error(
                "cycle",
                Some(&items[start].id),
                format!("dependency cycle: {text}"),
                Anchor::at(&l.items[start], sub(&["id"])),
            );
        }
        (graph, topo)
    }
}

/// The first document `item` requires from item `a`.
pub(super) fn first_document(item: &Item, producer: &[Option<usize>], a: usize) -> Option<usize> {
    item.requires
        .documents
        .iter()
        .copied()
        .find(|&d| producer[d] == Some(a))
}

/// A cycle through the strongly connected component `scc`, as item indexes, starting at
/// its lowest index (so the report is stable).
pub(super) fn find_cycle(graph: &DiGraph<usize, Edge>, scc: &[NodeIndex]) -> Vec<usize> {
    let start = *scc.iter().min().expect("non-empty component");
    let inside: std::collections::HashSet<NodeIndex> = scc.iter().copied().collect();
    // Breadth-first search from start back to start, inside the component: the shortest
    // cycle through it.
    let mut prev: HashMap<NodeIndex, NodeIndex> = HashMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(x) = queue.pop_front() {
        let mut next: Vec<NodeIndex> = graph.neighbors(x).filter(|y| inside.contains(y)).collect();
        next.sort();
        for y in next {
            if y == start {
                let mut path = vec![x.index()];
                let mut cur = x;
                while cur != start {
                    cur = prev[&cur];
                    path.push(cur.index());
                }
                path.reverse();
                return path;
            }
            if let std::collections::hash_map::Entry::Vacant(e) = prev.entry(y) {
                e.insert(x);
                queue.push_back(y);
            }
        }
    }
    vec![start.index()]
}
