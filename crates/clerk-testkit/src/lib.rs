//! Test kit for Clerk integrations.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
