//! The HTTP vocabulary of the function adapters: [`request::Request`] (a forwarded request,
//! its JSON body rules), [`caller::Caller`] (who sends it), [`response`] builders and [`error::ApiError`] (the one error body).
//! A leaf: it imports no other module of the crate but `error`. The server that builds these
//! and dispatches them is `crate::server`. Below the adapters (domain modules, outside systems)
//! nothing imports warp, a status code or a request.

pub mod caller;
pub mod error;
pub mod request;
pub mod response;
