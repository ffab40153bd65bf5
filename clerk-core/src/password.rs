//! Local (password) users for hybrid mode: argon2id hashing, a strength policy, and the
//! username + password check (feature `password`).
//!
//! Hybrid mode lets local staff accounts (created by `clerk createsuperuser`) sign in beside
//! Clerk users. The store only ever sees a PHC string ([`NewLocalUser::password_hash`]); this
//! module makes and checks them. It holds no randomness: the caller passes the 16-byte salt
//! (from the OS RNG), as the core never reads clocks or entropy itself.
//!
//! - [`hash_password`]: argon2id with OWASP's parameters (19 MiB, 2 passes, 1 lane).
//! - [`verify_password`]: constant-time comparison inside argon2; a malformed stored hash is
//!   an error, not a silent `false`.
//! - [`check_strength`]: refuses empty, short, all-digit, very common passwords and passwords
//!   close to the account's own username or email (Django's default validators, in spirit).
//! - [`authenticate_local`]: the login check. Unknown users cost the same argon2 work as
//!   known ones, so response times do not tell which usernames exist.
//!
//! ```
//! use clerk_core::password::{check_strength, hash_password, verify_password};
//!
//! let password = "correct horse battery staple";
//! check_strength(password, &["admin", "admin@example.com"])?;
//! let phc = hash_password(password, &[7; 16])?; // use 16 random bytes
//! assert!(verify_password(password, &phc)?);
//! assert!(!verify_password("wrong", &phc)?);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`NewLocalUser::password_hash`]: crate::model::NewLocalUser::password_hash

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::model::User;
use crate::store::{StoreError, UserStore};

/// Shortest password [`check_strength`] accepts, in characters.
pub const MIN_PASSWORD_CHARS: usize = 10;

/// Longest password accepted anywhere, in bytes: beyond it hashing is refused rather than
/// letting a request make the server hash megabytes.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Hashing or verification failed for a reason other than a wrong password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PasswordError {
    /// The stored hash is not a PHC string argon2 can read (the message says why).
    #[error("the stored password hash is malformed: {0}")]
    MalformedHash(String),
    /// The password is longer than [`MAX_PASSWORD_BYTES`].
    #[error("the password is longer than {MAX_PASSWORD_BYTES} bytes")]
    TooLong,
    /// argon2 refused the input (the message says why).
    #[error("password hashing failed: {0}")]
    Hashing(String),
}

/// Why [`check_strength`] refused a password. The messages are meant for the person typing it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WeakPassword {
    /// Nothing typed.
    #[error("the password is empty")]
    Empty,
    /// Shorter than [`MIN_PASSWORD_CHARS`].
    #[error("the password is too short: it must have at least {min} characters")]
    TooShort {
        /// The minimum.
        min: usize,
    },
    /// Longer than [`MAX_PASSWORD_BYTES`].
    #[error("the password is too long: at most {max} bytes")]
    TooLong {
        /// The maximum.
        max: usize,
    },
    /// Digits only.
    #[error("the password is entirely numeric")]
    AllDigits,
    /// One of the most common passwords.
    #[error("the password is too common")]
    Common,
    /// Contains, or is contained in, the account's username or email.
    #[error("the password is too similar to the account's {attribute}")]
    TooSimilar {
        /// Which attribute: `username` or `email`.
        attribute: &'static str,
    },
}

/// Why a local login failed. Show every variant to the user as the same "invalid username or
/// password"; the variants are for logs and tests.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LocalLoginError {
    /// Unknown username, a user without a password, or a wrong password.
    #[error("invalid username or password")]
    InvalidCredentials,
    /// The password matched but the account is deactivated, banned, locked or deleted.
    #[error("the account is inactive")]
    Inactive,
    /// The password matched but the account is not staff (for staff-only logins).
    #[error("the account is not staff")]
    NotStaff,
    /// The stored hash is malformed (an operator should look at it).
    #[error(transparent)]
    Password(#[from] PasswordError),
    /// The store failed: answer 503, do not count it as a failed login.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn hasher() -> Result<Argon2<'static>, PasswordError> {
    // OWASP's argon2id recommendation: m = 19 MiB, t = 2, p = 1.
    let params =
        Params::new(19 * 1024, 2, 1, None).map_err(|e| PasswordError::Hashing(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// The PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`) of `password` with `salt`.
///
/// # Errors
/// [`PasswordError::TooLong`] past [`MAX_PASSWORD_BYTES`]; [`PasswordError::Hashing`] if
/// argon2 refuses the input.
pub fn hash_password(password: &str, salt: &[u8; 16]) -> Result<String, PasswordError> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(PasswordError::TooLong);
    }
    let salt = SaltString::encode_b64(salt).map_err(|e| PasswordError::Hashing(e.to_string()))?;
    let hash = hasher()?
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| PasswordError::Hashing(e.to_string()))?;
    Ok(hash.to_string())
}

/// Whether `password` matches the PHC string `phc` (the parameters are read from it).
///
/// # Errors
/// [`PasswordError::MalformedHash`] when `phc` cannot be read. A password over
/// [`MAX_PASSWORD_BYTES`] is simply `false`.
pub fn verify_password(password: &str, phc: &str) -> Result<bool, PasswordError> {
    let parsed = PasswordHash::new(phc).map_err(|e| PasswordError::MalformedHash(e.to_string()))?;
    if parsed.hash.is_none() || parsed.salt.is_none() {
        return Err(PasswordError::MalformedHash("no salt or hash".into()));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Ok(false);
    }
    match hasher()?.verify_password(password.as_bytes(), &parsed) {
        Ok(()) => Ok(true),
        Err(argon2::password_hash::Error::Password) => Ok(false),
        Err(e) => Err(PasswordError::MalformedHash(e.to_string())),
    }
}

/// Refuses weak passwords. `context` holds the account's own attributes, username first then
/// email (`["admin", "admin@example.com"]`); a password containing one of them (or the local
/// part of the email), or contained in one, is refused.
///
/// # Errors
/// The first [`WeakPassword`] rule the password breaks.
pub fn check_strength(password: &str, context: &[&str]) -> Result<(), WeakPassword> {
    if password.is_empty() {
        return Err(WeakPassword::Empty);
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(WeakPassword::TooLong {
            max: MAX_PASSWORD_BYTES,
        });
    }
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(WeakPassword::TooShort {
            min: MIN_PASSWORD_CHARS,
        });
    }
    if password.chars().all(|c| c.is_ascii_digit()) {
        return Err(WeakPassword::AllDigits);
    }
    let lower = password.to_lowercase();
    if COMMON_PASSWORDS.contains(&lower.as_str()) {
        return Err(WeakPassword::Common);
    }
    for (index, value) in context.iter().enumerate() {
        let attribute = if value.contains('@') || index > 0 {
            "email"
        } else {
            "username"
        };
        let value = value.trim().to_lowercase();
        let local_part = value.split('@').next().unwrap_or_default().to_owned();
        for part in [value, local_part] {
            if part.chars().count() >= 3 && (lower.contains(&part) || part.contains(&lower)) {
                return Err(WeakPassword::TooSimilar { attribute });
            }
        }
    }
    Ok(())
}

/// A hash to verify against when the username is unknown, so that case costs the same work.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        hash_password("clerk-core dummy password", &[0x5a; 16]).unwrap_or_else(|_| {
            // Unreachable with these constant inputs; a fixed valid PHC keeps the timing.
            "$argon2id$v=19$m=19456,t=2,p=1$WlpaWlpaWlpaWlpaWlpaWg$\
             rgNk8a1Tg0nGzJ7p+0Xf3l1s6mB0bA0D6kx0f3wYqXk"
                .to_owned()
        })
    })
}

/// A local login whose store lookup is done and whose password check is not: the check is
/// argon2 (tens of milliseconds of CPU), so an async server moves it off its executor.
///
/// ```no_run
/// # async fn login(store: &impl clerk_core::store::UserStore, username: &str, password: String)
/// # -> Result<clerk_core::model::User, Box<dyn std::error::Error + Send + Sync>> {
/// use clerk_core::password::PendingLogin;
///
/// let pending = PendingLogin::staff(store, username).await?; // store I/O
/// let user = tokio::task::spawn_blocking(move || pending.check(&password)).await??; // argon2
/// # Ok(user) }
/// ```
#[derive(Debug)]
#[must_use = "a pending login has not checked the password yet: call `check`"]
pub struct PendingLogin {
    /// The local user and their stored hash; `None` for an unknown username or a user
    /// without a password (checked against a dummy hash, so the work is the same).
    found: Option<(User, String)>,
    staff_only: bool,
}

impl PendingLogin {
    /// Looks `username` up among the local (password) users of `store`. Clerk users (rows
    /// with a Clerk id) never match: they sign in through Clerk.
    ///
    /// # Errors
    /// [`LocalLoginError::Store`] when the store fails.
    pub async fn local<S: UserStore + ?Sized>(
        store: &S,
        username: &str,
    ) -> Result<Self, LocalLoginError> {
        let user = store.local_user_by_username(username.trim()).await?;
        Ok(PendingLogin {
            found: user.and_then(|u| u.password_hash.clone().map(|h| (u, h))),
            staff_only: false,
        })
    }

    /// [`local`](Self::local) for staff-only logins (`/admin`): [`check`](Self::check) then
    /// also requires `is_staff`.
    ///
    /// # Errors
    /// [`LocalLoginError::Store`] when the store fails.
    pub async fn staff<S: UserStore + ?Sized>(
        store: &S,
        username: &str,
    ) -> Result<Self, LocalLoginError> {
        Ok(PendingLogin {
            staff_only: true,
            ..Self::local(store, username).await?
        })
    }

    /// Checks `password` (argon2, on the calling thread) and the account's standing, and
    /// returns the user. Unknown users cost the same argon2 work as known ones.
    ///
    /// # Errors
    /// [`LocalLoginError`]; all but `Password` should be shown as one message.
    pub fn check(self, password: &str) -> Result<User, LocalLoginError> {
        let Some((user, phc)) = self.found else {
            let _ = verify_password(password, dummy_hash());
            return Err(LocalLoginError::InvalidCredentials);
        };
        if !verify_password(password, &phc)? {
            return Err(LocalLoginError::InvalidCredentials);
        }
        if !user.is_active || user.banned || user.locked || user.deleted_at.is_some() {
            return Err(LocalLoginError::Inactive);
        }
        if self.staff_only && !user.is_staff {
            return Err(LocalLoginError::NotStaff);
        }
        Ok(user)
    }
}

/// Checks a username and password against the local (password) users of `store` and returns
/// the user: [`PendingLogin::local`] then [`PendingLogin::check`], argon2 included, on the
/// calling task. Servers with concurrent logins split the two (see [`PendingLogin`]).
///
/// # Errors
/// [`LocalLoginError`]; all but `Store` and `Password` should be shown as one message.
pub async fn authenticate_local<S: UserStore + ?Sized>(
    store: &S,
    username: &str,
    password: &str,
) -> Result<User, LocalLoginError> {
    PendingLogin::local(store, username).await?.check(password)
}

/// [`authenticate_local`] for staff-only logins (`/admin`): the user must be `is_staff`.
///
/// # Errors
/// As [`authenticate_local`], plus [`LocalLoginError::NotStaff`].
pub async fn authenticate_staff<S: UserStore + ?Sized>(
    store: &S,
    username: &str,
    password: &str,
) -> Result<User, LocalLoginError> {
    PendingLogin::staff(store, username).await?.check(password)
}

/// Lower-cased; checked after the length rule, so only entries of 10+ characters matter.
const COMMON_PASSWORDS: &[&str] = &[
    "1234567890",
    "12345678910",
    "123456789a",
    "1q2w3e4r5t",
    "1qaz2wsx3edc",
    "abcdefghij",
    "administrator",
    "changeme123",
    "iloveyou123",
    "letmein123",
    "password1!",
    "password12",
    "password123",
    "password1234",
    "passw0rd123",
    "qwertyuiop",
    "qwerty1234",
    "qwerty12345",
    "qwerty123456",
    "superman123",
    "trustno1234",
    "welcome123",
    "welcome1234",
    "zaq12wsxcde",
    "1q2w3e4r5t6y",
    "asdfghjkl;",
    "football123",
    "baseball123",
    "monkey12345",
    "dragon12345",
    "sunshine123",
    "princess123",
    "computer123",
    "michael1234",
    "starwars123",
    "whatever123",
    "aa12345678",
    "abc1234567",
    "abcd123456",
    "p@ssw0rd123",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{NewLocalUser, UserId};
    use crate::time::UnixTime;
    use std::future::Future;

    /// Five local users by username; the only read `authenticate_local` makes.
    struct Users(Vec<User>);

    #[crate::store::async_trait]
    impl UserStore for Users {
        async fn user(&self, _: UserId) -> Result<Option<User>, StoreError> {
            Ok(None)
        }
        async fn user_by_clerk_id(&self, _: &str) -> Result<Option<User>, StoreError> {
            Ok(None)
        }
        async fn user_by_email(&self, _: &str) -> Result<Option<User>, StoreError> {
            Ok(None)
        }
        async fn local_user_by_username(&self, username: &str) -> Result<Option<User>, StoreError> {
            if username == "down" {
                return Err(StoreError::unavailable("the database is down"));
            }
            Ok(self
                .0
                .iter()
                .find(|u| u.username.as_deref() == Some(username))
                .cloned())
        }
        async fn list_users(&self, _: Option<UserId>, _: usize) -> Result<Vec<User>, StoreError> {
            Ok(self.0.clone())
        }
    }

    const GOOD: &str = "a long enough password";

    fn local(id: i64, username: &str, staff: bool, hash: Option<&str>) -> User {
        let mut new = NewLocalUser::new(username);
        new.is_staff = staff;
        new.password_hash = hash.map(str::to_owned);
        User::from_local(UserId(id), &new, UnixTime::from_secs(1))
    }

    fn users() -> Users {
        let phc = hash_password(GOOD, &[3; 16]).unwrap();
        let mut inactive = local(3, "gone", true, Some(&phc));
        inactive.is_active = false;
        let mut banned = local(5, "banned", true, Some(&phc));
        banned.banned = true;
        Users(vec![
            local(1, "staff", true, Some(&phc)),
            local(2, "plain", false, Some(&phc)),
            inactive,
            local(4, "nohash", true, None),
            banned,
        ])
    }

    fn block<F: Future>(future: F) -> F::Output {
        futures_util::FutureExt::now_or_never(future).expect("the fake store never waits")
    }

    #[test]
    fn local_logins_check_the_password_then_the_account() {
        let store = users();
        let ok = block(authenticate_staff(&store, " staff ", GOOD)).unwrap();
        assert_eq!(ok.id, UserId(1));
        assert_eq!(
            block(authenticate_local(&store, "plain", GOOD)).unwrap().id,
            UserId(2)
        );
        let refused = |username: &str, password: &str| {
            block(authenticate_staff(&store, username, password)).unwrap_err()
        };
        assert!(matches!(
            refused("staff", "wrong password!"),
            LocalLoginError::InvalidCredentials
        ));
        assert!(matches!(
            refused("nobody", GOOD),
            LocalLoginError::InvalidCredentials
        ));
        assert!(matches!(
            refused("nohash", GOOD),
            LocalLoginError::InvalidCredentials
        ));
        assert!(matches!(refused("plain", GOOD), LocalLoginError::NotStaff));
        assert!(matches!(refused("gone", GOOD), LocalLoginError::Inactive));
        assert!(matches!(refused("banned", GOOD), LocalLoginError::Inactive));
        // A wrong password never reveals the account's state.
        assert!(matches!(
            refused("gone", "wrong password!"),
            LocalLoginError::InvalidCredentials
        ));
        assert!(matches!(refused("down", GOOD), LocalLoginError::Store(_)));
    }

    #[test]
    fn hashes_are_argon2id_salted_and_verify() {
        let a = hash_password("a long enough password", &[1; 16]).unwrap();
        let b = hash_password("a long enough password", &[2; 16]).unwrap();
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
        assert_ne!(a, b, "the salt is used");
        assert!(verify_password("a long enough password", &a).unwrap());
        assert!(!verify_password("a long enough passwore", &a).unwrap());
        assert!(!verify_password("", &a).unwrap());
    }

    #[test]
    fn a_malformed_hash_is_an_error_not_a_false() {
        for phc in ["", "plain", "$argon2id$v=19$m=19456", "$bcrypt$xyz"] {
            assert!(
                matches!(
                    verify_password("x", phc),
                    Err(PasswordError::MalformedHash(_))
                ),
                "{phc}"
            );
        }
    }

    #[test]
    fn oversized_passwords_are_refused_before_hashing() {
        let huge = "x".repeat(MAX_PASSWORD_BYTES + 1);
        assert_eq!(hash_password(&huge, &[0; 16]), Err(PasswordError::TooLong));
        let phc = hash_password("a long enough password", &[1; 16]).unwrap();
        assert!(!verify_password(&huge, &phc).unwrap());
        assert_eq!(
            check_strength(&huge, &[]),
            Err(WeakPassword::TooLong {
                max: MAX_PASSWORD_BYTES
            })
        );
    }

    #[test]
    fn the_dummy_hash_is_valid_so_unknown_users_cost_a_real_verify() {
        assert!(PasswordHash::new(dummy_hash()).is_ok());
        assert!(!verify_password("anything", dummy_hash()).unwrap());
    }

    #[test]
    fn weak_passwords_are_refused_with_the_rule_named() {
        let ctx = ["alice", "bob.smith@example.com"];
        let cases: &[(&str, WeakPassword)] = &[
            ("", WeakPassword::Empty),
            (
                "short1!",
                WeakPassword::TooShort {
                    min: MIN_PASSWORD_CHARS,
                },
            ),
            ("123456789012", WeakPassword::AllDigits),
            ("Password123", WeakPassword::Common),
            ("QWERTYUIOP", WeakPassword::Common),
            (
                "alice-is-great",
                WeakPassword::TooSimilar {
                    attribute: "username",
                },
            ),
            (
                "my bob.smith pass",
                WeakPassword::TooSimilar { attribute: "email" },
            ),
        ];
        for (password, expected) in cases {
            assert_eq!(
                check_strength(password, &ctx).as_ref(),
                Err(expected),
                "{password:?}"
            );
        }
        assert_eq!(check_strength("correct horse battery staple", &ctx), Ok(()));
        // Multi-byte characters count as characters, not bytes.
        assert_eq!(
            check_strength("ééééééééé", &[]),
            Err(WeakPassword::TooShort {
                min: MIN_PASSWORD_CHARS
            })
        );
    }
}
