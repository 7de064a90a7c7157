//! Generated gRPC code for fleetsim's services.
//!
//! The `.proto` files live in `proto/fleetsim/v1/` at the workspace root and
//! are compiled at build time with protox, so no `protoc` is needed. Generated
//! code stays inside [`pb`]; the other crates convert to domain types at the
//! gRPC edge.
//!
//! # Layout
//! - [`pb`]: everything generated from package `fleetsim.v1`.

/// Messages, clients and servers generated from package `fleetsim.v1`.
#[allow(missing_docs, unreachable_pub, clippy::all)]
pub mod pb {
    tonic::include_proto!("fleetsim.v1");
}
