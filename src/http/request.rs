//! One request as a function adapter sees it, and the JSON body rules of
//! `docs/http-api.md` ("Input and failure rules"): a body is exactly one JSON object, and a
//! bad one is a 400 naming the field at fault.

use bytes::Bytes;
use warp::http::{HeaderMap, Method};

use super::caller::Caller;
use super::error::ApiError;

/// One request: routed (path parameters captured), query decoded, body read whole.
#[derive(Debug)]
pub struct Request {
    pub method: Method,
    pub path: String,
    /// Path parameters of the matched route, in order.
    pub params: Vec<String>,
    /// Decoded query pairs, in order.
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// Who is calling, admitted by the route's rule before the handler runs.
    pub caller: Caller,
}

impl Request {
    /// The first value of a query parameter.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of a header, when it is visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Parses a JSON request body into `T` (which should `deny_unknown_fields`). An empty body
/// is read as `{}`. Errors, each a 400 naming a field:
/// * not a JSON object, malformed JSON, or bytes after the object (`{}{}`): field `body`;
/// * an unknown, missing or duplicate key: that key;
/// * a wrong type or a number out of range (`1e400`): the key whose value it is.
pub fn parse_json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(
            match serde_json::from_slice::<serde::de::IgnoredAny>(body) {
                Ok(_) => ApiError::invalid("body", "the body must be a JSON object"),
                Err(e) => ApiError::invalid("body", format!("body is not valid JSON: {e}")),
            },
        );
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let inner = e.inner();
        let msg = inner.to_string();
        let path = e.path().to_string();
        // serde reports an unknown, missing or duplicate field at its parent's path; the name
        // is in the message, between backticks.
        let named = ["unknown field", "missing field", "duplicate field"]
            .iter()
            .any(|p| msg.starts_with(p));
        match msg.split('`').nth(1) {
            Some(name) if named => ApiError::invalid(name, msg.clone()),
            // A syntax error inside a member's value (`1e400`) belongs to that member; one
            // the path cannot place, or a body that ends early, to the body.
            _ if inner.is_eof() || (inner.is_syntax() && (path == "." || path.contains('?'))) => {
                ApiError::invalid("body", format!("body is not valid JSON: {inner}"))
            }
            _ => ApiError::invalid(path, msg),
        }
    })?;
    de.end()
        .map_err(|_| ApiError::invalid("body", "the body has data after its JSON object"))?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use warp::http::StatusCode;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Req {
        from_date: Option<String>,
        max_users: Option<u32>,
    }

    #[test]
    fn unknown_field_is_named() {
        let e = parse_json_body::<Req>(br#"{"from_date":"2025-01-01","colour":1}"#).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("colour"));
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn missing_field_is_named() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Needs {
            from: String,
        }
        let e = parse_json_body::<Needs>(b"{}").unwrap_err();
        assert_eq!(e.field.as_deref(), Some("from"));
    }

    #[test]
    fn wrong_type_names_the_field() {
        let e = parse_json_body::<Req>(br#"{"max_users":"ten"}"#).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("max_users"));
    }

    #[test]
    fn not_json_names_the_body() {
        let e = parse_json_body::<Req>(b"from_date=2025").unwrap_err();
        assert_eq!(e.field.as_deref(), Some("body"));
    }

    #[test]
    fn empty_body_is_an_empty_object() {
        let r = parse_json_body::<Req>(b"").unwrap();
        assert!(r.from_date.is_none());
    }

    #[test]
    fn trailing_data_after_the_object_is_refused() {
        for body in [&br#"{}{"bogus":1}"#[..], b"{} x", b"{}\n{}"] {
            let e = parse_json_body::<Req>(body).unwrap_err();
            assert_eq!(e.field.as_deref(), Some("body"), "{body:?}");
        }
        assert!(parse_json_body::<Req>(b"{}\n").is_ok());
    }

    #[test]
    fn a_duplicate_key_is_named() {
        let e = parse_json_body::<Req>(br#"{"max_users":1,"max_users":2}"#).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("max_users"));
    }

    #[test]
    fn a_number_out_of_range_names_its_field() {
        let e = parse_json_body::<Req>(br#"{"max_users":1e400}"#).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("max_users"));
        let e = parse_json_body::<Req>(br#"{"max_users":99999999999}"#).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("max_users"));
    }
}
