//! What the tests and benchmarks share and no production crate links: the conformance
//! suite every store backend passes, a throwaway PostgreSQL cluster, the fuzz targets'
//! entry points (replayed over the committed corpora), and the server tests' helpers
//! (a node in process or as the binary, tokens, forms, waiting for a condition).

#![deny(missing_docs)]

pub mod conformance;
pub mod fuzzing;
pub mod node;
pub mod scratch;
