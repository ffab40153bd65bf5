//! The adapters' machine extractor types, written once (like the session ones in
//! `flow::types`): each adapter expands [`__machine_types!`](crate::__machine_types) and adds
//! only its framework's trait impls.

/// Expands `MachineAuth<A>` (a credential of a kind `A` accepts, see
/// [`Accepts`](crate::machine::Accepts)) and `RequireScope<A, S>` (the same, granting scope
/// `S`, see [`scope!`](crate::scope!)), each with an async or pure `decide`. Not for
/// applications.
#[doc(hidden)]
#[macro_export]
macro_rules! __machine_types {
    () => {
        /// A verified credential of a kind `A` accepts: an API key, an M2M token, an OAuth
        /// token (read from `Authorization: Bearer` only, never from a cookie) or, for
        /// [`AnyToken`](clerk_core::machine::AnyToken), a session. `A` is one of
        /// [`ApiKeys`](clerk_core::machine::ApiKeys), [`M2mTokens`](clerk_core::machine::M2mTokens),
        /// [`OAuthTokens`](clerk_core::machine::OAuthTokens),
        /// [`ApiKeysOrM2m`](clerk_core::machine::ApiKeysOrM2m),
        /// [`AnyMachine`](clerk_core::machine::AnyMachine),
        /// [`AnyToken`](clerk_core::machine::AnyToken), or your own
        /// [`Accepts`](clerk_core::machine::Accepts).
        ///
        /// Refused with 401 and Clerk's reason (`token-type-mismatch` for a kind `A` does not
        /// accept, `token-invalid` for an unknown, revoked or expired credential,
        /// `token-verification-failed` for a bad machine JWT, `No token in header` without
        /// one), 503 when Clerk cannot be asked, 500 when no
        /// [`MachineVerifier`](clerk_core::machine::MachineVerifier) is wired.
        pub struct MachineAuth<A> {
            credential: $crate::machine::Credential,
            _accepts: ::std::marker::PhantomData<fn() -> A>,
        }

        impl<A> MachineAuth<A> {
            /// The credential.
            #[must_use]
            pub fn credential(&self) -> &$crate::machine::Credential {
                &self.credential
            }

            /// The credential, by value.
            #[must_use]
            pub fn into_credential(self) -> $crate::machine::Credential {
                self.credential
            }

            /// `api_key`, `m2m_token`, `oauth_token` or `session_token`.
            #[must_use]
            pub fn token_type(&self) -> $crate::machine::TokenType {
                self.credential.token_type()
            }

            /// Who the credential acts for.
            #[must_use]
            pub fn subject(&self) -> &str {
                self.credential.subject()
            }

            /// The granted scopes.
            #[must_use]
            pub fn scopes(&self) -> &[String] {
                self.credential.scopes()
            }

            /// The verified machine credential (id, claims, expiry, name, client id).
            #[must_use]
            pub fn machine(&self) -> Option<&::std::sync::Arc<$crate::machine::MachineAuth>> {
                self.credential.machine()
            }

            /// Whether the credential grants `scope`.
            #[must_use]
            pub fn has_scope(&self, scope: &str) -> bool {
                self.credential.has_scope(scope)
            }
        }

        impl<A: $crate::machine::Accepts> MachineAuth<A> {
            #[allow(dead_code)]
            async fn decide(
                verifier: Option<&$crate::machine::MachineVerifier>,
                authorization: Option<&[u8]>,
                session: Option<&$crate::flow::RequestAuth>,
            ) -> ::std::result::Result<Self, $crate::flow::Refusal> {
                let credential =
                    $crate::machine::authenticate(verifier, A::ACCEPTED, authorization, session)
                        .await?;
                Ok(MachineAuth {
                    credential,
                    _accepts: ::std::marker::PhantomData,
                })
            }

            #[allow(dead_code)]
            fn needs_session() -> bool {
                A::ACCEPTED.accepts($crate::machine::TokenType::SessionToken)
            }
        }

        impl<A> ::std::clone::Clone for MachineAuth<A> {
            fn clone(&self) -> Self {
                MachineAuth {
                    credential: self.credential.clone(),
                    _accepts: ::std::marker::PhantomData,
                }
            }
        }

        impl<A> ::std::fmt::Debug for MachineAuth<A> {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.debug_struct("MachineAuth")
                    .field("credential", &self.credential)
                    .finish()
            }
        }

        /// A [`MachineAuth<A>`] whose credential grants scope `S` (declared with
        /// [`scope!`](clerk_core::scope!)). Refused with 403
        /// `{"error":"forbidden","reason":"missing_scope","required":S::NAME}` without it (a
        /// session never has scopes), and like [`MachineAuth<A>`] otherwise.
        pub struct RequireScope<A, S> {
            inner: MachineAuth<A>,
            _scope: ::std::marker::PhantomData<fn() -> S>,
        }

        impl<A: $crate::machine::Accepts, S: $crate::machine::ScopeName> RequireScope<A, S> {
            #[allow(dead_code)]
            fn decide(inner: MachineAuth<A>) -> ::std::result::Result<Self, $crate::flow::Refusal> {
                let credential = $crate::machine::require_scope(inner.credential, S::NAME)?;
                Ok(RequireScope {
                    inner: MachineAuth {
                        credential,
                        _accepts: ::std::marker::PhantomData,
                    },
                    _scope: ::std::marker::PhantomData,
                })
            }
        }

        impl<A, S> RequireScope<A, S> {
            /// The credential (with the scope).
            #[must_use]
            pub fn machine_auth(&self) -> &MachineAuth<A> {
                &self.inner
            }
        }

        impl<A, S> ::std::ops::Deref for RequireScope<A, S> {
            type Target = MachineAuth<A>;

            fn deref(&self) -> &MachineAuth<A> {
                &self.inner
            }
        }

        impl<A, S> ::std::clone::Clone for RequireScope<A, S> {
            fn clone(&self) -> Self {
                RequireScope {
                    inner: self.inner.clone(),
                    _scope: ::std::marker::PhantomData,
                }
            }
        }

        impl<A, S: $crate::machine::ScopeName> ::std::fmt::Debug for RequireScope<A, S> {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.debug_struct("RequireScope")
                    .field("required", &S::NAME)
                    .field("credential", &self.inner.credential)
                    .finish()
            }
        }
    };
}
