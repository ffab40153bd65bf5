//! Who opened a connection: a signed-in user (a Clerk session token) or a machine (an M2M
//! token), and when the connection has to end.

use std::sync::Arc;

use clerk_core::machine::{MachineAuth, MachineVerifier};
use clerk_core::time::UnixTime;
use clerk_core::Auth;

/// The identity a connection carries; one connection never carries two.
#[derive(Debug, Clone)]
pub(crate) enum Peer {
    /// A user, from a session token (header or `__session` cookie).
    User(Arc<Auth>),
    /// A machine, from an M2M token in `Authorization: Bearer`.
    Machine(MachinePeer),
}

/// A machine connection: what Clerk said of its token, and the token itself, kept only to
/// verify it again (never logged, never sent back).
#[derive(Clone)]
pub(crate) struct MachinePeer {
    pub(crate) auth: Arc<MachineAuth>,
    pub(crate) credential: String,
    pub(crate) verifier: MachineVerifier,
}

impl std::fmt::Debug for MachinePeer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MachinePeer")
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

impl Peer {
    /// When the connection ends unless extended: the session token's `exp`, the M2M token's
    /// expiry (`None`: it has none; it ends when a re-verification fails).
    pub(crate) fn expires_at(&self) -> Option<UnixTime> {
        match self {
            Peer::User(auth) => Some(auth.expires_at),
            Peer::Machine(machine) => machine.auth.expires_at,
        }
    }

    /// The subject, for logs (a user id or a machine id).
    pub(crate) fn subject(&self) -> &str {
        match self {
            Peer::User(auth) => &auth.user_id,
            Peer::Machine(machine) => &machine.auth.subject,
        }
    }
}
