//! [`BackendApi`]: the thin async caller over [`HttpClient`], with retries; and [`Pager`].

use std::collections::hash_map::RandomState;
use std::fmt;
use std::future::Future;
use std::hash::BuildHasher;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;

use super::error::{ApiError, Endpoint};
use super::request::{self, PageParams, UserOrder};
use super::response;
use super::retry::{CallBudget, RetryPolicy};
use super::types::{ApiInvitation, ApiMembership, ApiOrganization, ApiUser, Page};
use crate::config::ClerkConfig;
use crate::http::HttpClient;
use crate::secret::SecretKey;

/// Waits between retries. The caller's runtime provides it (this crate has no runtime):
/// [`TokioSleeper`] with the `reqwest` feature, or any closure
/// `Fn(Duration) -> impl Future<Output = ()>`; tests pass one that advances a manual clock.
pub trait Sleeper: Send + Sync + 'static {
    /// A future that completes after `duration`.
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()>;
}

impl<F, Fut> Sleeper for F
where
    F: Fn(Duration) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(self(duration))
    }
}

/// [`Sleeper`] over `tokio::time::sleep` (the `reqwest` feature, which runs on tokio anyway).
#[cfg(feature = "reqwest")]
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioSleeper;

#[cfg(feature = "reqwest")]
impl Sleeper for TokioSleeper {
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(duration))
    }
}

type Jitter = Arc<dyn Fn() -> f64 + Send + Sync>;

/// The default jitter source: the standard library's randomly keyed hasher (no extra crate).
fn std_jitter() -> f64 {
    let bits = RandomState::new().hash_one(0u8);
    // 53 random bits → [0, 1).
    #[allow(clippy::cast_precision_loss)]
    let unit = (bits >> 11) as f64 / (1u64 << 53) as f64;
    unit
}

/// The Backend API caller: builds each request, sends it through the [`HttpClient`], parses
/// the response, and retries per its [`RetryPolicy`] (sleeping through its [`Sleeper`], with
/// jitter from its jitter source). Cheap to share behind an `Arc`; every method takes `&self`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use std::time::Duration;
/// use clerk_core::backend_api::{BackendApi, UserOrder};
/// use clerk_core::secret::SecretKey;
///
/// // An HttpClient that answers every request with one page of one user.
/// let http = |_request: http::Request<Vec<u8>>| async {
///     Ok(http::Response::builder()
///         .status(200)
///         .body(br#"[{"id":"user_1","created_at":1,"updated_at":2}]"#.to_vec())
///         .unwrap())
/// };
/// let api = BackendApi::new(
///     Arc::new(http),
///     "https://api.clerk.com",
///     SecretKey::new("sk_test_x"),
///     Arc::new(|d: Duration| tokio::time::sleep(d)),
/// );
/// let mut pages = api.users_pager(UserOrder::CreatedAtAsc, 500)?;
/// let page = pages.next_page().await?.expect("a first page");
/// assert_eq!(page[0].id, "user_1");
/// assert!(pages.next_page().await?.is_none()); // a short page was the last one
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct BackendApi {
    pub(super) http: Arc<dyn HttpClient>,
    pub(super) api_url: String,
    pub(super) api_version: String,
    pub(super) secret_key: SecretKey,
    pub(super) retry: RetryPolicy,
    pub(super) sleeper: Arc<dyn Sleeper>,
    pub(super) jitter: Jitter,
}

impl fmt::Debug for BackendApi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackendApi")
            .field("api_url", &self.api_url)
            .field("secret_key", &self.secret_key)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl BackendApi {
    /// A caller of the Backend API at `api_url` (for example `https://api.clerk.com`) with
    /// `secret_key`, the default [`RetryPolicy`] and jitter from the standard library's
    /// random hasher keys.
    pub fn new(
        http: Arc<dyn HttpClient>,
        api_url: impl Into<String>,
        secret_key: SecretKey,
        sleeper: Arc<dyn Sleeper>,
    ) -> Self {
        let api_url = api_url.into().trim_end_matches('/').to_owned();
        BackendApi {
            http,
            api_url,
            api_version: super::request::DEFAULT_API_VERSION.to_owned(),
            secret_key,
            retry: RetryPolicy::default(),
            sleeper,
            jitter: Arc::new(std_jitter),
        }
    }

    /// A caller for `CLERK_API_URL` with `CLERK_SECRET_KEY` from `config`.
    ///
    /// # Errors
    /// [`ApiError::NoSecretKey`] when the configuration has no secret key.
    pub fn from_config(
        config: &ClerkConfig,
        http: Arc<dyn HttpClient>,
        sleeper: Arc<dyn Sleeper>,
    ) -> Result<Self, ApiError> {
        let secret_key = config.secret_key().ok_or(ApiError::NoSecretKey)?.clone();
        Ok(Self::new(http, config.api_url(), secret_key, sleeper)
            .with_api_version(config.api_version()))
    }

    /// Pins another Backend API version (`Clerk-API-Version`; default
    /// [`DEFAULT_API_VERSION`](super::DEFAULT_API_VERSION)).
    #[must_use]
    pub fn with_api_version(mut self, version: impl Into<String>) -> Self {
        self.api_version = version.into();
        self
    }

    /// Replaces the retry policy.
    #[must_use]
    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Replaces the jitter source: a function returning numbers in `0..=1` (tests pass a
    /// constant).
    #[must_use]
    pub fn with_jitter(mut self, jitter: impl Fn() -> f64 + Send + Sync + 'static) -> Self {
        self.jitter = Arc::new(jitter);
        self
    }

    /// The retry policy in use.
    #[must_use]
    pub fn retry_policy(&self) -> RetryPolicy {
        self.retry
    }

    /// The Backend API base URL (no trailing slash).
    #[must_use]
    pub fn api_url(&self) -> &str {
        &self.api_url
    }

    /// Builds, sends and parses, retrying what the policy retries.
    async fn call<T>(
        &self,
        endpoint: Endpoint,
        build: impl Fn(&str, &SecretKey) -> Result<http::Request<Vec<u8>>, ApiError>,
        parse: impl Fn(&http::Response<Vec<u8>>) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        self.call_with(self.retry, endpoint, build, parse).await
    }

    /// [`call`](Self::call) with `retry` (the loop, shared with the writes, is
    /// `call_classed` in `writes/caller.rs`; every read is idempotent).
    async fn call_with<T>(
        &self,
        retry: RetryPolicy,
        endpoint: Endpoint,
        build: impl Fn(&str, &SecretKey) -> Result<http::Request<Vec<u8>>, ApiError>,
        parse: impl Fn(&http::Response<Vec<u8>>) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        self.call_classed(retry, endpoint, build, parse).await
    }

    /// `GET /v1/users/{user_id}`.
    ///
    /// # Errors
    /// [`ApiError::NotFound`] for an unknown id; the other [`ApiError`]s after retries.
    pub async fn get_user(&self, user_id: &str) -> Result<ApiUser, ApiError> {
        self.call(
            Endpoint::GetUser,
            |url, key| request::get_user_request(url, key, user_id),
            response::parse_user_response,
        )
        .await
    }

    /// `GET /v1/users/{user_id}` for a client that is waiting: within `budget` (its tries,
    /// no wait longer than half of it, cut off when it runs out), whatever the retry policy
    /// of this caller says. Just-in-time provisioning uses it.
    ///
    /// # Errors
    /// [`ApiError::NotFound`] for an unknown id; [`ApiError::BudgetExhausted`] when the budget
    /// runs out; the other [`ApiError`]s after the budget's tries.
    pub async fn get_user_within(
        &self,
        user_id: &str,
        budget: CallBudget,
    ) -> Result<ApiUser, ApiError> {
        let call = self.call_with(
            budget.retry_policy(&self.retry),
            Endpoint::GetUser,
            |url, key| request::get_user_request(url, key, user_id),
            response::parse_user_response,
        );
        let deadline = self.sleeper.sleep(budget.total);
        match futures_util::future::select(std::pin::pin!(call), deadline).await {
            futures_util::future::Either::Left((result, _)) => result,
            futures_util::future::Either::Right(((), _)) => Err(ApiError::BudgetExhausted {
                endpoint: Endpoint::GetUser,
                budget: budget.total,
            }),
        }
    }

    /// One page of `GET /v1/users` (a bare array; a page shorter than the limit is the last).
    ///
    /// # Errors
    /// The [`ApiError`]s after retries.
    pub async fn list_users(
        &self,
        page: PageParams,
        order: UserOrder,
    ) -> Result<Vec<ApiUser>, ApiError> {
        self.call(
            Endpoint::ListUsers,
            |url, key| request::list_users_request(url, key, page, order),
            response::parse_users_page,
        )
        .await
    }

    /// `GET /v1/users/count`.
    ///
    /// # Errors
    /// The [`ApiError`]s after retries.
    pub async fn count_users(&self) -> Result<u64, ApiError> {
        self.call(
            Endpoint::CountUsers,
            request::count_users_request,
            response::parse_user_count,
        )
        .await
    }

    /// One page of `GET /v1/organizations` (with member counts), oldest first.
    ///
    /// # Errors
    /// The [`ApiError`]s after retries.
    pub async fn list_organizations(
        &self,
        page: PageParams,
    ) -> Result<Page<ApiOrganization>, ApiError> {
        self.call(
            Endpoint::ListOrganizations,
            |url, key| request::list_organizations_request(url, key, page),
            response::parse_organizations_page,
        )
        .await
    }

    /// One page of `GET /v1/organizations/{organization_id}/memberships`, oldest first.
    ///
    /// # Errors
    /// [`ApiError::NotFound`] for an unknown organization; the other [`ApiError`]s after retries.
    pub async fn list_memberships(
        &self,
        organization_id: &str,
        page: PageParams,
    ) -> Result<Page<ApiMembership>, ApiError> {
        self.call(
            Endpoint::ListMemberships,
            |url, key| request::list_memberships_request(url, key, organization_id, page),
            response::parse_memberships_page,
        )
        .await
    }

    /// One page of `GET /v1/organization_invitations` (every organization's), oldest first.
    ///
    /// # Errors
    /// The [`ApiError`]s after retries.
    pub async fn list_invitations(
        &self,
        page: PageParams,
    ) -> Result<Page<ApiInvitation>, ApiError> {
        self.call(
            Endpoint::ListInvitations,
            |url, key| request::list_invitations_request(url, key, page),
            |r| response::parse_invitations_page(Endpoint::ListInvitations, r),
        )
        .await
    }

    /// One page of `GET /v1/organizations/{organization_id}/invitations`.
    ///
    /// # Errors
    /// [`ApiError::NotFound`] for an unknown organization; the other [`ApiError`]s after retries.
    pub async fn list_organization_invitations(
        &self,
        organization_id: &str,
        page: PageParams,
    ) -> Result<Page<ApiInvitation>, ApiError> {
        self.call(
            Endpoint::ListOrganizationInvitations,
            |url, key| {
                request::list_organization_invitations_request(url, key, organization_id, page)
            },
            |r| response::parse_invitations_page(Endpoint::ListOrganizationInvitations, r),
        )
        .await
    }

    /// Every user, `page_size` at a time, in `order`.
    ///
    /// # Errors
    /// [`ApiError::InvalidLimit`] when `page_size` is not in `1..=500`.
    pub fn users_pager(
        &self,
        order: UserOrder,
        page_size: u32,
    ) -> Result<Pager<'_, ApiUser>, ApiError> {
        Pager::new(
            page_size,
            Box::new(move |page| {
                Box::pin(async move { Ok((self.list_users(page, order).await?, None)) })
            }),
        )
    }

    /// Every organization, `page_size` at a time, oldest first.
    ///
    /// # Errors
    /// [`ApiError::InvalidLimit`] when `page_size` is not in `1..=500`.
    pub fn organizations_pager(
        &self,
        page_size: u32,
    ) -> Result<Pager<'_, ApiOrganization>, ApiError> {
        Pager::new(
            page_size,
            Box::new(move |page| {
                Box::pin(async move {
                    let p = self.list_organizations(page).await?;
                    Ok((p.data, Some(p.total_count)))
                })
            }),
        )
    }

    /// Every membership of one organization, `page_size` at a time, oldest first.
    ///
    /// # Errors
    /// [`ApiError::InvalidLimit`] when `page_size` is not in `1..=500`.
    pub fn memberships_pager(
        &self,
        organization_id: impl Into<String>,
        page_size: u32,
    ) -> Result<Pager<'_, ApiMembership>, ApiError> {
        let organization_id: Arc<str> = organization_id.into().into();
        Pager::new(
            page_size,
            Box::new(move |page| {
                let organization_id = Arc::clone(&organization_id);
                Box::pin(async move {
                    let p = self.list_memberships(&organization_id, page).await?;
                    Ok((p.data, Some(p.total_count)))
                })
            }),
        )
    }

    /// Every invitation of the instance, `page_size` at a time, oldest first.
    ///
    /// # Errors
    /// [`ApiError::InvalidLimit`] when `page_size` is not in `1..=500`.
    pub fn invitations_pager(&self, page_size: u32) -> Result<Pager<'_, ApiInvitation>, ApiError> {
        Pager::new(
            page_size,
            Box::new(move |page| {
                Box::pin(async move {
                    let p = self.list_invitations(page).await?;
                    Ok((p.data, Some(p.total_count)))
                })
            }),
        )
    }
}

type FetchPage<'a, T> = Box<
    dyn Fn(PageParams) -> BoxFuture<'a, Result<(Vec<T>, Option<u64>), ApiError>> + Send + Sync + 'a,
>;

/// Walks a listing one page at a time (`limit` + `offset`), holding only the current page.
///
/// The listing ends at the first page shorter than the page size (or an empty one). A failed
/// [`next_page`](Self::next_page) (after the caller's retries) leaves the pager where it was:
/// calling it again asks for the same page. Offsets are positions in Clerk's order, so a
/// stable order (`created_at` ascending) is what makes a walk see every object once while
/// objects are added at the end.
pub struct Pager<'a, T> {
    fetch: FetchPage<'a, T>,
    next: PageParams,
    done: bool,
    total_count: Option<u64>,
}

impl<T> fmt::Debug for Pager<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pager")
            .field("next", &self.next)
            .field("done", &self.done)
            .field("total_count", &self.total_count)
            .finish_non_exhaustive()
    }
}

impl<'a, T> Pager<'a, T> {
    fn new(page_size: u32, fetch: FetchPage<'a, T>) -> Result<Self, ApiError> {
        Ok(Pager {
            fetch,
            next: PageParams::first(page_size)?,
            done: false,
            total_count: None,
        })
    }

    /// The next page, or `None` once the listing is exhausted.
    ///
    /// # Errors
    /// The call's [`ApiError`]; the pager does not advance.
    pub async fn next_page(&mut self) -> Result<Option<Vec<T>>, ApiError> {
        if self.done {
            return Ok(None);
        }
        let (items, total_count) = (self.fetch)(self.next).await?;
        if total_count.is_some() {
            self.total_count = total_count;
        }
        let limit = usize::try_from(self.next.limit()).unwrap_or(usize::MAX);
        if items.len() < limit {
            self.done = true;
        }
        self.next = self.next.advanced_by(items.len());
        if items.is_empty() {
            return Ok(None);
        }
        Ok(Some(items))
    }

    /// The offset of the next page: how many objects the walk has received.
    #[must_use]
    pub fn offset(&self) -> u64 {
        self.next.offset()
    }

    /// Whether the listing has been walked to its end.
    #[must_use]
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// The `total_count` of the last page, for listings that send one (not `GET /v1/users`).
    #[must_use]
    pub fn total_count(&self) -> Option<u64> {
        self.total_count
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::HttpError;
    use std::sync::Mutex;

    /// A scripted HTTP client and a manual clock the sleeper advances.
    #[derive(Clone, Default)]
    struct Script {
        now: Arc<Mutex<Duration>>,
        /// (time sent, path and query) of each request.
        sent: Arc<Mutex<Vec<(Duration, String)>>>,
        sleeps: Arc<Mutex<Vec<Duration>>>,
    }

    fn respond(status: u16, headers: &[(&str, &str)], body: &str) -> http::Response<Vec<u8>> {
        let mut b = http::Response::builder().status(status);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(body.as_bytes().to_vec()).unwrap()
    }

    impl Script {
        /// An API whose n-th request (0-based) gets `answer(n, path_and_query)`.
        fn api(
            &self,
            answer: impl Fn(usize, &str) -> Result<http::Response<Vec<u8>>, HttpError>
                + Send
                + Sync
                + 'static,
        ) -> BackendApi {
            let me = self.clone();
            let http = move |request: http::Request<Vec<u8>>| {
                let now = *me.now.lock().unwrap();
                let pq = request.uri().path_and_query().unwrap().to_string();
                assert_eq!(request.headers()["authorization"], "Bearer sk_test_x");
                // Every attempt, retries included, pins the API version as Clerk's SDKs do.
                assert_eq!(
                    request.headers()["clerk-api-version"],
                    crate::backend_api::DEFAULT_API_VERSION
                );
                let n = {
                    let mut sent = me.sent.lock().unwrap();
                    sent.push((now, pq.clone()));
                    sent.len() - 1
                };
                let result = answer(n, &pq);
                async move { result }
            };
            let clock = self.clone();
            let sleeper = move |d: Duration| {
                *clock.now.lock().unwrap() += d;
                clock.sleeps.lock().unwrap().push(d);
                async {}
            };
            BackendApi::new(
                Arc::new(http),
                "http://clerk.test/",
                SecretKey::new("sk_test_x"),
                Arc::new(sleeper),
            )
            .with_retry_policy(RetryPolicy {
                max_attempts: 5,
                base_delay: Duration::from_millis(100),
                max_delay: Duration::from_secs(10),
            })
            .with_jitter(|| 0.5)
        }

        fn sent(&self) -> Vec<(Duration, String)> {
            self.sent.lock().unwrap().clone()
        }
    }

    const USER: &str = r#"{"id":"user_1","created_at":1,"updated_at":2}"#;

    #[tokio::test]
    async fn no_request_is_sent_before_retry_after() {
        let script = Script::default();
        let api = script.api(|n, _| {
            Ok(match n {
                0 => respond(
                    429,
                    &[("retry-after", "3")],
                    r#"{"errors":[{"code":"too_many_requests","message":"slow"}]}"#,
                ),
                1 => respond(429, &[("retry-after", "1")], ""),
                _ => respond(200, &[], USER),
            })
        });
        let user = api.get_user("user_1").await.unwrap();
        assert_eq!(user.id, "user_1");
        let sent = script.sent();
        assert_eq!(sent.len(), 3);
        assert!(sent[1].0 - sent[0].0 >= Duration::from_secs(3), "{sent:?}");
        assert!(sent[2].0 - sent[1].0 >= Duration::from_secs(1), "{sent:?}");
        assert_eq!(sent[0].1, "/v1/users/user_1");
    }

    #[tokio::test]
    async fn a_5xx_burst_and_transport_errors_are_survived_with_capped_backoff() {
        let script = Script::default();
        let api = script.api(|n, _| match n {
            0 | 1 => Ok(respond(503, &[], "")),
            2 => Err(HttpError::Timeout),
            _ => Ok(respond(
                200,
                &[],
                r#"{"object":"total_count","total_count":42}"#,
            )),
        });
        assert_eq!(api.count_users().await.unwrap(), 42);
        let sleeps = script.sleeps.lock().unwrap().clone();
        // Equal jitter at 0.5: 3/4 of 100, 200, 400 ms.
        assert_eq!(
            sleeps,
            [
                Duration::from_millis(75),
                Duration::from_millis(150),
                Duration::from_millis(300)
            ]
        );
    }

    #[tokio::test]
    async fn attempts_run_out_with_the_last_error_and_4xx_is_not_retried() {
        let script = Script::default();
        let api = script.api(|_, _| Ok(respond(500, &[], "")));
        let err = api.count_users().await.unwrap_err();
        assert!(matches!(err, ApiError::Server { status: 500, .. }));
        assert_eq!(script.sent().len(), 5);

        let script = Script::default();
        let api = script.api(|_, _| {
            Ok(respond(
                404,
                &[],
                r#"{"errors":[{"code":"resource_not_found","message":"not found"}]}"#,
            ))
        });
        let err = api.get_user("user_nope").await.unwrap_err();
        assert!(matches!(err, ApiError::NotFound { clerk: Some(_), .. }));
        assert_eq!(script.sent().len(), 1);
        assert!(script.sleeps.lock().unwrap().is_empty());
    }

    fn users_listing(
        total: usize,
    ) -> impl Fn(usize, &str) -> Result<http::Response<Vec<u8>>, HttpError> {
        move |_, pq| {
            let query = pq.split_once('?').unwrap().1;
            let param = |name: &str| {
                query
                    .split('&')
                    .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
                    .unwrap()
                    .parse::<usize>()
                    .unwrap()
            };
            let (limit, offset) = (param("limit"), param("offset"));
            let users: Vec<String> = (offset..total.min(offset + limit))
                .map(|i| format!(r#"{{"id":"user_{i}","created_at":{i},"updated_at":{i}}}"#))
                .collect();
            Ok(respond(200, &[], &format!("[{}]", users.join(","))))
        }
    }

    #[tokio::test]
    async fn the_users_pager_walks_every_page_in_order_once() {
        let script = Script::default();
        let api = script.api(users_listing(1203));
        let mut pager = api.users_pager(UserOrder::CreatedAtAsc, 500).unwrap();
        let mut seen = Vec::new();
        while let Some(page) = pager.next_page().await.unwrap() {
            assert!(page.len() <= 500);
            seen.extend(page.into_iter().map(|u| u.id));
        }
        assert_eq!(seen.len(), 1203);
        assert!(seen
            .iter()
            .enumerate()
            .all(|(i, id)| *id == format!("user_{i}")));
        assert!(pager.is_done());
        assert_eq!(pager.offset(), 1203);
        assert!(pager.next_page().await.unwrap().is_none());
        let paths: Vec<String> = script.sent().into_iter().map(|(_, p)| p).collect();
        assert_eq!(
            paths,
            [
                "/v1/users?limit=500&offset=0&order_by=created_at",
                "/v1/users?limit=500&offset=500&order_by=created_at",
                "/v1/users?limit=500&offset=1000&order_by=created_at",
            ]
        );
        // An exact multiple ends with an empty page.
        let script = Script::default();
        let api = script.api(users_listing(1000));
        let mut pager = api.users_pager(UserOrder::CreatedAtAsc, 500).unwrap();
        let mut count = 0;
        while let Some(page) = pager.next_page().await.unwrap() {
            count += page.len();
        }
        assert_eq!((count, script.sent().len()), (1000, 3));
        assert!(matches!(
            api.users_pager(UserOrder::CreatedAtAsc, 501),
            Err(ApiError::InvalidLimit { limit: 501 })
        ));
    }

    #[tokio::test]
    async fn a_failed_page_leaves_the_pager_in_place() {
        let script = Script::default();
        let listing = users_listing(700);
        let api = script.api(move |n, pq| {
            if n == 1 {
                Ok(respond(200, &[], "<html>"))
            } else {
                listing(n, pq)
            }
        });
        let mut pager = api.users_pager(UserOrder::CreatedAtAsc, 500).unwrap();
        assert_eq!(pager.next_page().await.unwrap().unwrap().len(), 500);
        let err = pager.next_page().await.unwrap_err();
        assert!(
            matches!(
                err,
                ApiError::Malformed {
                    endpoint: Endpoint::ListUsers,
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(pager.offset(), 500);
        assert_eq!(pager.next_page().await.unwrap().unwrap().len(), 200);
        assert!(pager.next_page().await.unwrap().is_none());
    }

    #[tokio::test]
    async fn paged_listings_report_total_count_and_ask_for_member_counts() {
        let script = Script::default();
        let api = script.api(|_, pq| {
            let body = if pq.starts_with("/v1/organizations?") {
                assert!(pq.contains("include_members_count=true"));
                r#"{"data":[{"id":"org_1","name":"A","members_count":2,"created_at":1,"updated_at":1}],"total_count":1}"#
            } else if pq.starts_with("/v1/organizations/org_1/memberships?") {
                r#"{"data":[{"id":"orgmem_1","role":"org:admin","organization":{"id":"org_1"},"public_user_data":{"user_id":"user_1"},"created_at":1,"updated_at":1}],"total_count":1}"#
            } else {
                r#"{"data":[],"total_count":0}"#
            };
            Ok(respond(200, &[], body))
        });
        let mut orgs = api.organizations_pager(100).unwrap();
        let page = orgs.next_page().await.unwrap().unwrap();
        assert_eq!(page[0].members_count, Some(2));
        assert_eq!(orgs.total_count(), Some(1));
        let mut members = api.memberships_pager("org_1", 100).unwrap();
        assert_eq!(
            members.next_page().await.unwrap().unwrap()[0]
                .public_user_data
                .user_id,
            "user_1"
        );
        let mut invitations = api.invitations_pager(100).unwrap();
        assert!(invitations.next_page().await.unwrap().is_none());
        assert_eq!(invitations.total_count(), Some(0));
        let p = PageParams::first(10).unwrap();
        assert!(api
            .list_organization_invitations("org_1", p)
            .await
            .unwrap()
            .data
            .is_empty());
    }

    #[test]
    fn the_default_jitter_stays_in_range_and_varies() {
        let draws: Vec<f64> = (0..64).map(|_| std_jitter()).collect();
        assert!(draws.iter().all(|j| (0.0..1.0).contains(j)));
        assert!(draws.windows(2).any(|w| w[0] != w[1]));
    }

    #[test]
    fn debug_hides_the_secret_key() {
        let api = Script::default().api(|_, _| Ok(respond(200, &[], "")));
        assert!(!format!("{api:?}").contains("sk_test_x"));
    }

    #[test]
    fn from_config_needs_a_secret_key() {
        let http: Arc<dyn HttpClient> = Arc::new(|_r: http::Request<Vec<u8>>| async {
            Err::<http::Response<Vec<u8>>, _>(HttpError::Timeout)
        });
        let sleeper: Arc<dyn Sleeper> = Arc::new(|_d: Duration| async {});
        let config = ClerkConfig::builder()
            .secret_key("sk_test_abc")
            .publishable_key("pk_test_Y2xlcmsuZXhhbXBsZS5jb20k")
            .frontend_host("https://app.example.com")
            .build()
            .unwrap();
        let api =
            BackendApi::from_config(&config, Arc::clone(&http), Arc::clone(&sleeper)).unwrap();
        assert_eq!(api.api_url(), "https://api.clerk.com");
        let config = ClerkConfig::builder()
            .jwt_key(clerk_testkit::TestKeyPair::fixed(0).public_key_pem())
            .publishable_key("pk_test_Y2xlcmsuZXhhbXBsZS5jb20k")
            .frontend_host("https://app.example.com")
            .build()
            .unwrap();
        assert_eq!(
            BackendApi::from_config(&config, http, sleeper).unwrap_err(),
            ApiError::NoSecretKey
        );
    }
}
