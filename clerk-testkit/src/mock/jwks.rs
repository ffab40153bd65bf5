//! `GET /v1/jwks`: the instance's JSON Web Key Set, as the Backend API serves it.

use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

use super::error::reject_unless_secret_key;
use super::fault;
use super::state::MockState;
use crate::keys::jwks_of;

/// The routes of this module.
pub(crate) fn routes() -> Router<Arc<MockState>> {
    Router::new().route("/v1/jwks", get(jwks))
}

async fn jwks(State(state): State<Arc<MockState>>, headers: HeaderMap) -> Response {
    state.counters.jwks.hit();
    if let Some(response) = fault::apply(&state).await {
        return response;
    }
    if let Some(response) = reject_unless_secret_key(&state, &headers) {
        return response;
    }
    let body = jwks_of(&state.keys());
    state.counters.jwks.ok();
    Json(body).into_response()
}
