//! Svix-signed Clerk webhooks.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
