//! The ClickHouse fixture every report test loads: the default org (Paul Logistics), rows of
//! the four source tables ([`Fixture`]) and the node outputs a call's outcome is read from
//! ([`outcome`]).

use call_analytics::clickhouse::ClickHouse;
use call_analytics::orgs::OrgId;
use serde_json::{Value, json};

use super::insert_rows;

pub const PAUL_ORG: &str = "01951f56-8c6e-7a93-a971-3d06a81a1ab0";
pub const PAUL_NODE: &str = "019b099d-77fd-7e09-9d2b-cd4c476a0a19";

/// `text` (a UUID, such as [`PAUL_ORG`]) as the library's org id.
pub fn id_of(text: &str) -> OrgId {
    OrgId::parse(text, "org_id").expect("a UUID")
}

/// Rows of the four tables, loaded as JSONEachRow.
#[derive(Default)]
pub struct Fixture {
    runs: Vec<Value>,
    sessions: Vec<Value>,
    outputs: Vec<Value>,
    nodes: Vec<Value>,
}

impl Fixture {
    /// A run at `ts` (UTC, `YYYY-MM-DD hh:mm:ss.sss`) with one session.
    pub fn call(
        &mut self,
        run: &str,
        ts: &str,
        org: &str,
        number: &str,
        seconds: f64,
    ) -> &mut Self {
        self.run(run, ts);
        self.sessions.push(
            json!({"id": format!("s-{run}"), "run_id": run, "org_id": org,
            "user_number": number, "duration": seconds}),
        );
        self
    }

    /// One more session row for `run`.
    pub fn session(&mut self, id: &str, run: &str, number: &str, seconds: f64) -> &mut Self {
        self.sessions
            .push(json!({"id": id, "run_id": run, "org_id": PAUL_ORG,
            "user_number": number, "duration": seconds}));
        self
    }

    /// A call of the default org (see [`Fixture::call`]).
    pub fn paul_call(&mut self, run: &str, ts: &str, number: &str, seconds: f64) -> &mut Self {
        self.call(run, ts, PAUL_ORG, number, seconds)
    }

    /// An output of the default org's node (see [`Fixture::output`]).
    pub fn paul_output(&mut self, run: &str, ts: &str, data: Value) -> &mut Self {
        self.output(run, PAUL_NODE, ts, data)
    }

    /// A run without any session.
    pub fn run(&mut self, run: &str, ts: &str) -> &mut Self {
        self.runs.push(json!({"id": run, "timestamp": ts}));
        self
    }

    /// A node output; `data` is the flat JSON object.
    pub fn output(&mut self, run: &str, node: &str, ts: &str, data: Value) -> &mut Self {
        let n = self.outputs.len();
        self.outputs
            .push(json!({"id": format!("o-{run}-{n}"), "run_id": run,
            "node_persistent_id": node, "flat_data": data.to_string(), "timestamp": ts}));
        self
    }

    pub async fn load(&mut self, ch: &ClickHouse) {
        self.nodes.push(
            json!({"id": "n1", "persistent_id": PAUL_NODE, "org_id": PAUL_ORG,
            "name": "Broker agent"}),
        );
        insert_rows(
            ch,
            &[
                ("public_runs", &self.runs),
                ("public_sessions", &self.sessions),
                ("public_node_outputs", &self.outputs),
                ("public_nodes", &self.nodes),
            ],
        )
        .await;
    }
}

/// A flat_data object from (dotted key, value) pairs.
pub fn flat(pairs: &[(&str, Value)]) -> Value {
    Value::Object(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    )
}

/// The usual outcome keys.
#[allow(clippy::too_many_arguments)]
pub fn outcome(
    classification: Option<&str>,
    stage: &str,
    reason: Option<&str>,
    success: Option<Value>,
    load: Option<&str>,
    qualification: Option<&str>,
    end_state: Option<&str>,
    pricing: Option<&str>,
) -> Value {
    let mut pairs: Vec<(&str, Value)> = vec![("result.call.call_stage", json!(stage))];
    let mut opt = |k, v: Option<&str>| {
        if let Some(v) = v {
            pairs.push((k, json!(v)));
        }
    };
    opt("result.call.call_classification", classification);
    opt("result.transfer.transfer_reason", reason);
    opt("result.load.load_status", load);
    opt("result.carrier.carrier_qualification", qualification);
    opt("result.carrier.carrier_end_state", end_state);
    opt("result.pricing.pricing_notes", pricing);
    if let Some(s) = success {
        pairs.push(("result.transfer.transfer_success", s));
    }
    pairs.push(("result.carrier.carrier_name", json!("Swift Haul LLC")));
    flat(&pairs)
}

/// The outcome of a call transferred for booking: `success` at `TRANSFER_SUCCEEDED`,
/// `READY_TO_BOOK` with `transfer_success: true`, an active load and a qualified carrier whose
/// booking started, with `pricing` as its pricing notes.
pub fn booked(pricing: Option<&str>) -> Value {
    outcome(
        Some("success"),
        "TRANSFER_SUCCEEDED",
        Some("READY_TO_BOOK"),
        Some(json!(true)),
        Some("ACTIVE"),
        Some("QUALIFIED"),
        Some("booking_started"),
        pricing,
    )
}
