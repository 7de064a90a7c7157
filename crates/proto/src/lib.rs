//! Generated gRPC code for fleetsim's services.
//!
//! The `.proto` files live in `proto/fleetsim/v1/` at the workspace root and
//! are compiled at build time with protox, so no `protoc` is needed. Generated
//! code stays inside [`pb`]; the other crates convert to domain types at the
//! gRPC edge.
//!
//! # Layout
//! - [`pb`]: everything generated from package `fleetsim.v1`.
//! - [`convert`]: conversions between `pb` and the domain types of
//!   `fleetsim-model`, used at the gRPC edge.
//! - [`codec`]: the prost codec every generated client and server uses,
//!   with buffers sized for fleetsim's small messages.

/// The encoded `FileDescriptorSet` of every fleetsim proto, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/fleetsim_descriptor.bin"));

/// Messages, clients and servers generated from package `fleetsim.v1`.
#[allow(missing_docs, unreachable_pub, clippy::all)]
pub mod pb {
    tonic::include_proto!("fleetsim.v1");
}

pub mod codec {
    //! [`SmallCodec`]: prost encoding with small buffers. tonic's default
    //! reserves 8 KiB per call and per stream direction; fleetsim's messages
    //! are tens of bytes, and a phone's keepalive stream lives as long as its
    //! registration, so at thousands of phones the default buffers are most
    //! of the memory. A larger message simply grows its buffer.

    use std::marker::PhantomData;

    use tonic::codec::{BufferSettings, Codec};
    use tonic_prost::{ProstCodec, ProstDecoder, ProstEncoder};

    /// Initial encode and decode buffer of a call or stream, in bytes.
    pub const BUFFER: usize = 256;
    /// Encoded bytes after which a stream yields (tonic's default).
    const YIELD_THRESHOLD: usize = 32 * 1024;

    /// A prost codec with [`BUFFER`]-byte buffers.
    #[derive(Debug, Clone, Copy)]
    pub struct SmallCodec<T, U>(PhantomData<(T, U)>);

    impl<T, U> Default for SmallCodec<T, U> {
        fn default() -> Self {
            SmallCodec(PhantomData)
        }
    }

    impl<T, U> Codec for SmallCodec<T, U>
    where
        T: prost::Message + Send + 'static,
        U: prost::Message + Default + Send + 'static,
    {
        type Encode = T;
        type Decode = U;
        type Encoder = ProstEncoder<T>;
        type Decoder = ProstDecoder<U>;

        fn encoder(&mut self) -> Self::Encoder {
            ProstCodec::<T, U>::raw_encoder(settings())
        }

        fn decoder(&mut self) -> Self::Decoder {
            ProstCodec::<T, U>::raw_decoder(settings())
        }
    }

    fn settings() -> BufferSettings {
        BufferSettings::new(BUFFER, YIELD_THRESHOLD)
    }
}

pub mod convert {
    //! Conversions between generated and domain types.

    use fleetsim_model::{CallKind, PhoneKind};

    use crate::pb;

    impl From<PhoneKind> for pb::PhoneKind {
        fn from(k: PhoneKind) -> Self {
            match k {
                PhoneKind::H323 => pb::PhoneKind::H323,
                PhoneKind::Sip => pb::PhoneKind::Sip,
                PhoneKind::Softphone => pb::PhoneKind::Softphone,
                PhoneKind::Analogue => pb::PhoneKind::Analogue,
                PhoneKind::Dect => pb::PhoneKind::Dect,
            }
        }
    }

    /// The domain kind of a wire value, or `None` for unknown or unspecified.
    pub fn phone_kind(wire: i32) -> Option<PhoneKind> {
        match pb::PhoneKind::try_from(wire) {
            Ok(pb::PhoneKind::H323) => Some(PhoneKind::H323),
            Ok(pb::PhoneKind::Sip) => Some(PhoneKind::Sip),
            Ok(pb::PhoneKind::Softphone) => Some(PhoneKind::Softphone),
            Ok(pb::PhoneKind::Analogue) => Some(PhoneKind::Analogue),
            Ok(pb::PhoneKind::Dect) => Some(PhoneKind::Dect),
            _ => None,
        }
    }

    impl From<CallKind> for pb::CallKind {
        fn from(k: CallKind) -> Self {
            match k {
                CallKind::TwoParty => pb::CallKind::TwoParty,
                CallKind::Conference => pb::CallKind::Conference,
                CallKind::Held => pb::CallKind::Held,
                CallKind::HuntGroup => pb::CallKind::HuntGroup,
                CallKind::Voicemail => pb::CallKind::Voicemail,
                CallKind::External => pb::CallKind::External,
            }
        }
    }

    /// The domain kind of a wire call kind, or `None` for unknown or unspecified.
    pub fn call_kind(wire: i32) -> Option<CallKind> {
        match pb::CallKind::try_from(wire) {
            Ok(pb::CallKind::TwoParty) => Some(CallKind::TwoParty),
            Ok(pb::CallKind::Conference) => Some(CallKind::Conference),
            Ok(pb::CallKind::Held) => Some(CallKind::Held),
            Ok(pb::CallKind::HuntGroup) => Some(CallKind::HuntGroup),
            Ok(pb::CallKind::Voicemail) => Some(CallKind::Voicemail),
            Ok(pb::CallKind::External) => Some(CallKind::External),
            _ => None,
        }
    }
}
