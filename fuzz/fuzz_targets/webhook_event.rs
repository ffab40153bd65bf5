//! Clerk webhook event bodies: the envelope (`type`, `object`, `timestamp`, `instance_id`,
//! `event_attributes`) and every documented event type's `data`. Errors must not repeat
//! values from the body (they may hold email addresses).
#![no_main]

use clerk_webhooks::{Event, KNOWN_EVENT_TYPES};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// String values of the body that look like personal data (an `@` and some length).
fn personal_values(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) if s.contains('@') && s.len() >= 8 => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| personal_values(v, out)),
        Value::Object(map) => map.values().for_each(|v| personal_values(v, out)),
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    match Event::from_slice(data) {
        Ok(event) => {
            // The envelope is a JSON object, never an array read by position.
            let first = data.iter().find(|b| !b.is_ascii_whitespace());
            assert_eq!(
                first,
                Some(&b'{'),
                "an envelope that is not an object parsed"
            );
            let event_type = event.event_type().to_owned();
            // (serde_json skips ignored members without checking their UTF-8, so the body may
            // not parse as a `Value` although the event parsed.)
            if let Ok(envelope) = serde_json::from_slice::<Value>(data) {
                assert_eq!(envelope["type"].as_str(), Some(event_type.as_str()));
            }
            if KNOWN_EVENT_TYPES.contains(&event_type.as_str()) {
                assert!(
                    !matches!(event.data, clerk_webhooks::EventData::Unknown { .. }),
                    "{event_type} parsed as unknown"
                );
            }
            let _ = event.data.object_id();
            let _ = format!("{event:?}");
        }
        Err(err) => {
            let message = err.to_string();
            if let Ok(body) = serde_json::from_slice::<Value>(data) {
                let mut values = Vec::new();
                personal_values(&body, &mut values);
                for value in values {
                    // serde escapes some characters when quoting; compare what it would show.
                    assert!(
                        !message.contains(&value),
                        "the parse error repeats a value from the body: {message}"
                    );
                }
            }
            if let Some(event_type) = err.event_type() {
                assert!(KNOWN_EVENT_TYPES.contains(&event_type), "{event_type}");
            }
        }
    }
});
