//! The HTTP layer: the warp server the Functions host talks to ([`server`]), the route table
//! ([`routes`]), and the leaves every function adapter uses — [`request::Request`],
//! [`response`] builders and [`error::ApiError`]. Below this layer (domain modules, outside
//! systems) nothing imports warp, a status code or a request.

pub mod error;
pub mod request;
pub mod response;
pub mod routes;
pub mod server;
