//! `{prefix}/__test/...`: the hooks a test drives the server with (state, request
//! log, faults, latency, sessions, proxy); not counted and not logged.

use std::time::Duration;

use hyper::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{FaultRule, Reply, Shared, empty_reply, json_reply, text_reply};
use crate::state::State;
use crate::store::Store;

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    Many(Vec<FaultRule>),
    One(FaultRule),
}

/// `{prefix}/__test/...`: test hooks; not counted, not logged.
pub(super) fn hooks(shared: &Shared, method: &Method, hook: &str, body: &[u8]) -> Reply {
    match (method.as_str(), hook.trim_end_matches('/')) {
        ("GET", "state") => json_reply(
            200,
            &serde_json::to_value(shared.read_store().to_state()).unwrap_or(Value::Null),
        ),
        ("PUT", "state") => match serde_json::from_slice::<State>(body)
            .map_err(|e| e.to_string())
            .and_then(|s| Store::from_state_as(&s, shared.version))
        {
            Ok(store) => {
                *shared.write_store() = store;
                empty_reply(204)
            }
            Err(e) => text_reply(400, &e),
        },
        ("GET", "requests") => json_reply(
            200,
            &serde_json::to_value(shared.requests()).unwrap_or(Value::Null),
        ),
        ("DELETE", "requests") => {
            shared.clear_requests();
            empty_reply(204)
        }
        ("GET", "faults") => json_reply(
            200,
            &serde_json::to_value(shared.rules()).unwrap_or(Value::Null),
        ),
        ("POST", "faults") => match serde_json::from_slice::<OneOrMany>(body) {
            Ok(OneOrMany::Many(rules)) => {
                shared.add_rules(rules);
                empty_reply(204)
            }
            Ok(OneOrMany::One(rule)) => {
                shared.add_rules(vec![rule]);
                empty_reply(204)
            }
            Err(e) => text_reply(400, &e.to_string()),
        },
        ("DELETE", "faults") => {
            shared.set_rules(Vec::new());
            empty_reply(204)
        }
        ("POST", "latency") => match serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| v["ms"].as_u64())
        {
            Some(ms) => {
                shared.set_latency(Duration::from_millis(ms));
                empty_reply(204)
            }
            None => text_reply(400, "expected {\"ms\": N}"),
        },
        ("POST", "expire-tokens") => {
            shared.expire_all_sessions();
            empty_reply(204)
        }
        (_, "proxy") => crate::proxy::hook(&shared.proxy, method.as_str(), body),
        _ => json_reply(
            404,
            &json!({"hooks": [
                "GET state", "PUT state", "GET requests", "DELETE requests", "GET faults",
                "POST faults", "DELETE faults", "POST latency", "POST expire-tokens",
                "GET proxy", "PUT proxy", "DELETE proxy"
            ]}),
        ),
    }
}
