//! Rows of `clerk_webhook_held` (deliveries acknowledged but held for an operator), decoded
//! once for every SQL backend: the held user is kept as JSON, the reason by its stable name.

use clerk_core::model::{ClerkUserData, HeldEvent, HoldReason};
use clerk_core::store::StoreError;
use clerk_core::time::UnixTime;
use sqlx::{ColumnIndex, Decode, Row, Type};

/// The columns every held-row query selects, in [`held_from_row`]'s order.
pub(crate) const HELD_COLUMNS: &str = "svix_id, event_type, reason, payload, held_at, resolved_at";

/// The JSON kept in `payload`: what Clerk said about the user, in full.
pub(crate) fn payload(held: &HeldEvent) -> Result<String, StoreError> {
    serde_json::to_string(&held.user).map_err(StoreError::backend)
}

/// A held delivery from a row of [`HELD_COLUMNS`].
pub(crate) fn held_from_row<'r, R>(row: &'r R) -> Result<HeldEvent, sqlx::Error>
where
    R: Row,
    &'static str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
{
    let reason: String = row.try_get("reason")?;
    let payload: String = row.try_get("payload")?;
    let user: ClerkUserData =
        serde_json::from_str(&payload).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    let mut held = HeldEvent::new(
        row.try_get::<String, _>("svix_id")?,
        row.try_get::<String, _>("event_type")?,
        HoldReason::from_name(&reason)
            .ok_or_else(|| sqlx::Error::Decode(format!("unknown hold reason {reason:?}").into()))?,
        user,
        UnixTime::from_millis(row.try_get("held_at")?),
    );
    held.resolved_at = row
        .try_get::<Option<i64>, _>("resolved_at")?
        .map(UnixTime::from_millis);
    Ok(held)
}
