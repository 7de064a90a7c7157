//! Server reflection as standard tools expect it: both protocol versions
//! (v1, and v1alpha for older grpcurl, grpc_cli and Python's
//! grpcio-reflection), listing only the services the port really serves,
//! so a tool never offers a service that answers `UNIMPLEMENTED`.

use tonic_reflection::pb::{v1 as pb_v1, v1alpha as pb_v1alpha};
use tonic_reflection::server::{Builder, v1, v1alpha};

/// The reflection services' own names, listed beside the port's services.
const REFLECTION: [&str; 2] = [
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
];

/// Reflection for a port that serves `services` (fully qualified names,
/// described by fleetsim's protos or `grpc.health.v1`): the v1 and the
/// v1alpha service. `None` if the descriptors cannot be read, which would
/// be a build defect, not an input error.
#[allow(clippy::type_complexity)]
pub fn reflection(
    services: &[&str],
) -> Option<(
    v1::ServerReflectionServer<impl v1::ServerReflection>,
    v1alpha::ServerReflectionServer<impl v1alpha::ServerReflection>,
)> {
    let v1 = builder(services).build_v1().ok()?;
    let v1alpha = builder(services).build_v1alpha().ok()?;
    Some((v1, v1alpha))
}

fn builder(services: &[&str]) -> Builder<'static> {
    let mut b = Builder::configure()
        .include_reflection_service(false)
        .register_encoded_file_descriptor_set(fleetsim_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(pb_v1::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(pb_v1alpha::FILE_DESCRIPTOR_SET);
    for name in services.iter().chain(REFLECTION.iter()) {
        b = b.with_service_name(*name);
    }
    b
}
