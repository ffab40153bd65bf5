//! Code shared by several processor test binaries (declare with `mod common;` after
//! `mod processor_support;`): the convergence property's generator and checker, and
//! per-test PostgreSQL schemas.
#![allow(dead_code, unreachable_pub)]

pub mod convergence;
pub mod postgres;
