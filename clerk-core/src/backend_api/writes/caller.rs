//! The [`BackendApi`] methods of the writes: build, send, parse, and retry by the endpoint's
//! [`RetryClass`] ([`may_retry`]) within the caller's [`RetryPolicy`](crate::backend_api::RetryPolicy).

use super::invitations::{self, ApiAppInvitation, NewInvitation};
use super::organizations::{self, NewOrganization, OrganizationUpdate};
use super::sessions::{self, ApiSession, SessionStatus};
use super::users::{self, MetadataPatch, UserUpdate};
use super::{may_retry, parse_deleted, DeletedObject};
use crate::backend_api::client::BackendApi;
use crate::backend_api::error::{ApiError, Endpoint};
use crate::backend_api::request::{pin_api_version, PageParams};
use crate::backend_api::types::{ApiMembership, ApiOrganization, ApiUser, Page};
use crate::model::InvitationStatus;
use crate::secret::SecretKey;

/// What [`BackendApi::revoke_user_sessions`] did.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct SessionRevocations {
    /// The sessions revoked (ids).
    pub revoked: Vec<String>,
    /// The sessions that could not be revoked, with why (after retries).
    pub failed: Vec<(String, ApiError)>,
}

impl BackendApi {
    /// [`call_classed`](Self::call_classed) with this caller's retry policy.
    async fn write<T>(
        &self,
        endpoint: Endpoint,
        build: impl Fn(&str, &SecretKey) -> Result<http::Request<Vec<u8>>, ApiError>,
        parse: impl Fn(&http::Response<Vec<u8>>) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        self.call_classed(self.retry, endpoint, build, parse).await
    }

    /// Builds, sends and parses — every call, reads and writes — retrying while [`may_retry`]
    /// allows it for the endpoint's [`RetryClass`](super::RetryClass) and `retry` has
    /// attempts and a delay left.
    pub(in crate::backend_api) async fn call_classed<T>(
        &self,
        retry: crate::backend_api::RetryPolicy,
        endpoint: Endpoint,
        build: impl Fn(&str, &SecretKey) -> Result<http::Request<Vec<u8>>, ApiError>,
        parse: impl Fn(&http::Response<Vec<u8>>) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let class = endpoint.retry_class();
        let mut attempt: u32 = 0;
        loop {
            let mut request = build(&self.api_url, &self.secret_key)?;
            pin_api_version(&mut request, &self.api_version);
            attempt = attempt.saturating_add(1);
            let result = match self.http.send(request).await {
                Ok(response) => parse(&response),
                Err(source) => Err(ApiError::Transport { endpoint, source }),
            };
            let error = match result {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            if !may_retry(class, &error) {
                return Err(error);
            }
            let Some(delay) = retry.next_delay(attempt, &error, (self.jitter)()) else {
                return Err(error);
            };
            tracing::warn!(
                %endpoint,
                attempt,
                delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                %error,
                "retrying a Clerk Backend API request"
            );
            self.sleeper.sleep(delay).await;
        }
    }

    async fn user_write(
        &self,
        endpoint: Endpoint,
        build: impl Fn(&str, &SecretKey) -> Result<http::Request<Vec<u8>>, ApiError>,
    ) -> Result<ApiUser, ApiError> {
        self.write(endpoint, build, |r| users::parse_user_write(endpoint, r))
            .await
    }

    /// `PATCH /v1/users/{user_id}`. Idempotent: retried on 429, 5xx and transport failures.
    ///
    /// # Errors
    /// [`ApiError::InvalidParam`] before sending; [`ApiError::NotFound`] for an unknown user;
    /// [`ApiError::Status`] 422 for parameters Clerk refuses; the others after retries.
    pub async fn update_user(
        &self,
        user_id: &str,
        update: &UserUpdate,
    ) -> Result<ApiUser, ApiError> {
        self.user_write(Endpoint::UpdateUser, |u, k| {
            users::update_user_request(u, k, user_id, update)
        })
        .await
    }

    /// `PATCH /v1/users/{user_id}/metadata`: deep merge. Idempotent.
    ///
    /// # Errors
    /// As [`update_user`](Self::update_user).
    pub async fn update_user_metadata(
        &self,
        user_id: &str,
        patch: &MetadataPatch,
    ) -> Result<ApiUser, ApiError> {
        self.user_write(Endpoint::UpdateUserMetadata, |u, k| {
            users::update_user_metadata_request(u, k, user_id, patch)
        })
        .await
    }

    /// `POST /v1/users/{user_id}/ban`. Idempotent.
    ///
    /// # Errors
    /// As [`update_user`](Self::update_user).
    pub async fn ban_user(&self, user_id: &str) -> Result<ApiUser, ApiError> {
        self.user_write(Endpoint::BanUser, |u, k| {
            users::ban_user_request(u, k, user_id)
        })
        .await
    }

    /// `POST /v1/users/{user_id}/unban`. Idempotent.
    ///
    /// # Errors
    /// As [`update_user`](Self::update_user).
    pub async fn unban_user(&self, user_id: &str) -> Result<ApiUser, ApiError> {
        self.user_write(Endpoint::UnbanUser, |u, k| {
            users::unban_user_request(u, k, user_id)
        })
        .await
    }

    /// `POST /v1/users/{user_id}/lock`. Idempotent.
    ///
    /// # Errors
    /// As [`update_user`](Self::update_user).
    pub async fn lock_user(&self, user_id: &str) -> Result<ApiUser, ApiError> {
        self.user_write(Endpoint::LockUser, |u, k| {
            users::lock_user_request(u, k, user_id)
        })
        .await
    }

    /// `POST /v1/users/{user_id}/unlock`. Idempotent.
    ///
    /// # Errors
    /// As [`update_user`](Self::update_user).
    pub async fn unlock_user(&self, user_id: &str) -> Result<ApiUser, ApiError> {
        self.user_write(Endpoint::UnlockUser, |u, k| {
            users::unlock_user_request(u, k, user_id)
        })
        .await
    }

    /// `DELETE /v1/users/{user_id}`. Idempotent (a retry after a lost answer may get a 404:
    /// the user is gone either way).
    ///
    /// # Errors
    /// As [`update_user`](Self::update_user).
    pub async fn delete_user(&self, user_id: &str) -> Result<DeletedObject, ApiError> {
        self.write(
            Endpoint::DeleteUser,
            |u, k| users::delete_user_request(u, k, user_id),
            |r| parse_deleted(Endpoint::DeleteUser, r),
        )
        .await
    }

    /// One page of `GET /v1/sessions?user_id=…[&status=…]`. Idempotent.
    ///
    /// # Errors
    /// [`ApiError::InvalidParam`] for a bad id; the others after retries.
    pub async fn list_sessions(
        &self,
        user_id: &str,
        status: Option<SessionStatus>,
        page: PageParams,
    ) -> Result<Page<ApiSession>, ApiError> {
        self.write(
            Endpoint::ListSessions,
            |u, k| sessions::list_sessions_request(u, k, user_id, status, page),
            sessions::parse_sessions_page,
        )
        .await
    }

    /// Every session of `user_id` with `status` (all statuses when `None`), walking the
    /// pages of [`list_sessions`](Self::list_sessions) 500 at a time.
    ///
    /// # Errors
    /// The first page that fails (after retries).
    pub async fn all_sessions(
        &self,
        user_id: &str,
        status: Option<SessionStatus>,
    ) -> Result<Vec<ApiSession>, ApiError> {
        let mut page = PageParams::default();
        let mut all = Vec::new();
        loop {
            let p = self.list_sessions(user_id, status, page).await?;
            let n = p.data.len();
            all.extend(p.data);
            let limit = usize::try_from(page.limit()).unwrap_or(usize::MAX);
            if n < limit || n == 0 {
                return Ok(all);
            }
            page = page.advanced_by(n);
        }
    }

    /// `POST /v1/sessions/{session_id}/revoke`. Idempotent.
    ///
    /// # Errors
    /// [`ApiError::NotFound`] for an unknown session; the others after retries.
    pub async fn revoke_session(&self, session_id: &str) -> Result<ApiSession, ApiError> {
        self.write(
            Endpoint::RevokeSession,
            |u, k| sessions::revoke_session_request(u, k, session_id),
            sessions::parse_session_response,
        )
        .await
    }

    /// Revokes every `active` session of `user_id`, one by one; a session that fails does
    /// not stop the others (see [`SessionRevocations::failed`]).
    ///
    /// # Errors
    /// When the sessions cannot be listed.
    pub async fn revoke_user_sessions(
        &self,
        user_id: &str,
    ) -> Result<SessionRevocations, ApiError> {
        let active = self
            .all_sessions(user_id, Some(SessionStatus::Active))
            .await?;
        let mut outcome = SessionRevocations::default();
        for session in active {
            match self.revoke_session(&session.id).await {
                Ok(s) => outcome.revoked.push(s.id),
                Err(e) => outcome.failed.push((session.id, e)),
            }
        }
        Ok(outcome)
    }

    /// `POST /v1/invitations`. **Create-once**: retried only on 429 and refused connections.
    ///
    /// # Errors
    /// [`ApiError::InvalidParam`] before sending; [`ApiError::Status`] 422 for an address
    /// Clerk refuses (already invited, already a user); the others after retries.
    pub async fn create_invitation(
        &self,
        invitation: &NewInvitation,
    ) -> Result<ApiAppInvitation, ApiError> {
        self.write(
            Endpoint::CreateInvitation,
            |u, k| invitations::create_invitation_request(u, k, invitation),
            |r| invitations::parse_app_invitation_response(Endpoint::CreateInvitation, r),
        )
        .await
    }

    /// `POST /v1/invitations/{invitation_id}/revoke`. Idempotent.
    ///
    /// # Errors
    /// [`ApiError::NotFound`] for an unknown invitation; the others after retries.
    pub async fn revoke_invitation(
        &self,
        invitation_id: &str,
    ) -> Result<ApiAppInvitation, ApiError> {
        self.write(
            Endpoint::RevokeInvitation,
            |u, k| invitations::revoke_invitation_request(u, k, invitation_id),
            |r| invitations::parse_app_invitation_response(Endpoint::RevokeInvitation, r),
        )
        .await
    }

    /// One page of `GET /v1/invitations` (application invitations). Idempotent.
    ///
    /// # Errors
    /// The [`ApiError`]s after retries.
    pub async fn list_app_invitations(
        &self,
        status: Option<&InvitationStatus>,
        page: PageParams,
    ) -> Result<Page<ApiAppInvitation>, ApiError> {
        self.write(
            Endpoint::ListAppInvitations,
            |u, k| invitations::list_app_invitations_request(u, k, status, page),
            invitations::parse_app_invitations_page,
        )
        .await
    }

    /// `POST /v1/organizations`. **Create-once**.
    ///
    /// # Errors
    /// [`ApiError::InvalidParam`] before sending; 422 for a taken slug; the others after
    /// retries.
    pub async fn create_organization(
        &self,
        organization: &NewOrganization,
    ) -> Result<ApiOrganization, ApiError> {
        self.write(
            Endpoint::CreateOrganization,
            |u, k| organizations::create_organization_request(u, k, organization),
            |r| organizations::parse_organization_response(Endpoint::CreateOrganization, r),
        )
        .await
    }

    /// `PATCH /v1/organizations/{organization_id}`. Idempotent.
    ///
    /// # Errors
    /// [`ApiError::NotFound`] for an unknown organization; the others after retries.
    pub async fn update_organization(
        &self,
        organization_id: &str,
        update: &OrganizationUpdate,
    ) -> Result<ApiOrganization, ApiError> {
        self.write(
            Endpoint::UpdateOrganization,
            |u, k| organizations::update_organization_request(u, k, organization_id, update),
            |r| organizations::parse_organization_response(Endpoint::UpdateOrganization, r),
        )
        .await
    }

    /// `DELETE /v1/organizations/{organization_id}`. Idempotent.
    ///
    /// # Errors
    /// [`ApiError::NotFound`] for an unknown organization; the others after retries.
    pub async fn delete_organization(
        &self,
        organization_id: &str,
    ) -> Result<DeletedObject, ApiError> {
        self.write(
            Endpoint::DeleteOrganization,
            |u, k| organizations::delete_organization_request(u, k, organization_id),
            |r| parse_deleted(Endpoint::DeleteOrganization, r),
        )
        .await
    }

    /// `POST /v1/organizations/{organization_id}/memberships`. **Create-once**.
    ///
    /// # Errors
    /// [`ApiError::NotFound`] for an unknown organization or user; 422 for an existing
    /// member; the others after retries.
    pub async fn create_membership(
        &self,
        organization_id: &str,
        user_id: &str,
        role: &str,
    ) -> Result<ApiMembership, ApiError> {
        self.write(
            Endpoint::CreateMembership,
            |u, k| organizations::create_membership_request(u, k, organization_id, user_id, role),
            |r| organizations::parse_membership_response(Endpoint::CreateMembership, r),
        )
        .await
    }

    /// `PATCH /v1/organizations/{organization_id}/memberships/{user_id}`: the role.
    /// Idempotent.
    ///
    /// # Errors
    /// [`ApiError::NotFound`] for an unknown membership; the others after retries.
    pub async fn update_membership(
        &self,
        organization_id: &str,
        user_id: &str,
        role: &str,
    ) -> Result<ApiMembership, ApiError> {
        self.write(
            Endpoint::UpdateMembership,
            |u, k| organizations::update_membership_request(u, k, organization_id, user_id, role),
            |r| organizations::parse_membership_response(Endpoint::UpdateMembership, r),
        )
        .await
    }

    /// `DELETE /v1/organizations/{organization_id}/memberships/{user_id}`. Idempotent.
    ///
    /// # Errors
    /// [`ApiError::NotFound`] for an unknown membership; the others after retries.
    pub async fn delete_membership(
        &self,
        organization_id: &str,
        user_id: &str,
    ) -> Result<ApiMembership, ApiError> {
        self.write(
            Endpoint::DeleteMembership,
            |u, k| organizations::delete_membership_request(u, k, organization_id, user_id),
            |r| organizations::parse_membership_response(Endpoint::DeleteMembership, r),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend_api::RetryPolicy;
    use crate::http::HttpError;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    type Answer = Box<dyn Fn(usize) -> Result<http::Response<Vec<u8>>, HttpError> + Send + Sync>;

    /// An API whose n-th request gets `answer(n)`; records (method, path) and sleeps.
    type Sent = Arc<Mutex<Vec<(String, String)>>>;
    type Sleeps = Arc<Mutex<Vec<Duration>>>;

    fn api(answer: Answer) -> (BackendApi, Sent, Sleeps) {
        let sent = Arc::new(Mutex::new(Vec::new()));
        let sleeps = Arc::new(Mutex::new(Vec::new()));
        let s = Arc::clone(&sent);
        let answer = Arc::new(answer);
        let http = move |r: http::Request<Vec<u8>>| {
            assert_eq!(
                r.headers()["clerk-api-version"],
                crate::backend_api::DEFAULT_API_VERSION
            );
            let n = {
                let mut s = s.lock().unwrap();
                s.push((r.method().to_string(), r.uri().path().to_owned()));
                s.len() - 1
            };
            let result = answer(n);
            async move { result }
        };
        let z = Arc::clone(&sleeps);
        let sleeper = move |d: Duration| {
            z.lock().unwrap().push(d);
            async {}
        };
        let api = BackendApi::new(
            Arc::new(http),
            "http://clerk.test",
            SecretKey::new("sk_test_x"),
            Arc::new(sleeper),
        )
        .with_retry_policy(RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(10),
        })
        .with_jitter(|| 0.0);
        (api, sent, sleeps)
    }

    fn status(code: u16, headers: &[(&str, &str)], body: &str) -> http::Response<Vec<u8>> {
        let mut b = http::Response::builder().status(code);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(body.as_bytes().to_vec()).unwrap()
    }

    const USER: &str = r#"{"id":"user_1","banned":true}"#;
    const INVITATION: &str = r#"{"id":"inv_1","email_address":"a@b.co","status":"pending"}"#;

    #[tokio::test]
    async fn idempotent_writes_retry_5xx_and_timeouts() {
        let (api, sent, _) = api(Box::new(|n| match n {
            0 => Ok(status(503, &[], "")),
            1 => Err(HttpError::Timeout),
            _ => Ok(status(200, &[], USER)),
        }));
        assert!(api.ban_user("user_1").await.unwrap().banned);
        assert_eq!(sent.lock().unwrap().len(), 3);
        assert!(sent
            .lock()
            .unwrap()
            .iter()
            .all(|(m, p)| m == "POST" && p == "/v1/users/user_1/ban"));
    }

    #[tokio::test]
    async fn creates_are_not_retried_after_a_5xx_or_a_timeout() {
        for failure in [
            Ok(status(502, &[], "")),
            Err(HttpError::Timeout),
            Err(HttpError::Other("connection reset".into())),
        ] {
            let failure = Arc::new(failure);
            let f = Arc::clone(&failure);
            let (api, sent, _) = api(Box::new(move |n| {
                if n == 0 {
                    (*f).clone()
                } else {
                    Ok(status(200, &[], INVITATION))
                }
            }));
            let err = api
                .create_invitation(&NewInvitation::new("a@b.co"))
                .await
                .unwrap_err();
            assert!(err.is_clerk_unavailable(), "{err:?}");
            assert_eq!(sent.lock().unwrap().len(), 1, "{failure:?} was retried");
        }
    }

    #[tokio::test]
    async fn creates_are_retried_after_429_honouring_retry_after_and_refused_connections() {
        let (api, sent, sleeps) = api(Box::new(|n| match n {
            0 => Ok(status(429, &[("retry-after", "3")], "")),
            1 => Err(HttpError::Connect("refused".into())),
            _ => Ok(status(200, &[], r#"{"id":"org_1","name":"Acme"}"#)),
        }));
        let org = api
            .create_organization(&NewOrganization::new("Acme"))
            .await
            .unwrap();
        assert_eq!(org.id, "org_1");
        assert_eq!(sent.lock().unwrap().len(), 3);
        let sleeps = sleeps.lock().unwrap().clone();
        assert_eq!(sleeps[0], Duration::from_secs(3));
        assert_eq!(sleeps.len(), 2);
    }

    #[tokio::test]
    async fn invalid_inputs_send_nothing() {
        let (api, sent, _) = api(Box::new(|_| Ok(status(200, &[], USER))));
        assert!(matches!(
            api.lock_user("").await,
            Err(ApiError::InvalidParam { .. })
        ));
        assert!(matches!(
            api.create_invitation(&NewInvitation::new("nope")).await,
            Err(ApiError::InvalidParam {
                param: "email_address",
                ..
            })
        ));
        assert!(matches!(
            api.update_membership("org_1", "user_1", " ").await,
            Err(ApiError::InvalidParam { param: "role", .. })
        ));
        assert!(sent.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn revoking_a_user_s_sessions_walks_pages_and_counts_failures() {
        let (api, sent, _) = api(Box::new(|n| {
            if n == 0 {
                let sessions: Vec<String> = (0..500)
                    .map(|i| format!(r#"{{"id":"sess_{i}","user_id":"user_1","status":"active"}}"#))
                    .collect();
                return Ok(status(
                    200,
                    &[],
                    &format!(r#"{{"data":[{}],"total_count":501}}"#, sessions.join(",")),
                ));
            }
            if n == 1 {
                return Ok(status(
                    200,
                    &[],
                    r#"{"data":[{"id":"sess_500","user_id":"user_1","status":"active"}],"total_count":501}"#,
                ));
            }
            if n == 2 {
                return Ok(status(
                    404,
                    &[],
                    r#"{"errors":[{"code":"resource_not_found","message":"gone"}]}"#,
                ));
            }
            Ok(status(
                200,
                &[],
                r#"{"id":"sess_x","user_id":"user_1","status":"revoked"}"#,
            ))
        }));
        let outcome = api.revoke_user_sessions("user_1").await.unwrap();
        assert_eq!((outcome.revoked.len(), outcome.failed.len()), (500, 1));
        assert_eq!(outcome.failed[0].0, "sess_0");
        let sent = sent.lock().unwrap();
        assert_eq!(sent[0], ("GET".to_owned(), "/v1/sessions".to_owned()));
        assert_eq!(
            sent[2],
            ("POST".to_owned(), "/v1/sessions/sess_0/revoke".to_owned())
        );
        assert_eq!(sent.len(), 2 + 501);
    }
}
