//! The README's quick starts, compiled.
//!
//! Every `rust` code block of the repository's `README.md` is a doctest of this crate, so a
//! snippet that stops compiling (a renamed item, a missing import, an undefined value) fails
//! `cargo test --workspace`. Snippets that would need a real Clerk are `no_run`: compiled, not
//! run.

/// The README, as doctests (only under `cargo test --doc`; nothing is exported).
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
