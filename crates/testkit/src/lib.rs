//! What the tests and benchmarks share and no production crate links: the conformance
//! suite every store backend passes, a throwaway PostgreSQL cluster, the fuzz targets'
//! entry points (replayed over the committed corpora).

#![deny(missing_docs)]

pub mod conformance;
pub mod fuzzing;
pub mod scratch;
