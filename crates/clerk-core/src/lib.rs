//! Sans-IO core of the Clerk toolkit.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod secret;
pub mod time;
