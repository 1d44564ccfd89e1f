//! Typed handlers: the payload of a typed call is exactly one SBE message of the service's own
//! schema (8-byte `messageHeader` + body), decoded and encoded with the codecs sbe-tool
//! generated for that schema, so a service author writes
//! `fn(&Context, Req) -> Result<Resp, HandlerError>` and no bounds-checking decoder.
//!
//! A request type says which message it is ([`Message`], usually through [`sbe_message!`](crate::sbe_message)) and
//! how to read itself with the generated decoder ([`DecodeMessage`]); a response type how to
//! write itself with the generated encoder ([`EncodeMessage`]). [`Registry::register_typed`]
//! wraps the function in a handler that:
//! - checks the header (schema id, template id, version, block length) against the request
//!   type's codec, and answers `BAD_REQUEST` naming what differs;
//! - runs the decoder under `catch_unwind`: the generated decoders trust every length they read
//!   and panic (slice out of range) on a frame that lies, and such a panic is the caller's
//!   fault, answered `BAD_REQUEST` like a decoder error (never `PANIC`);
//! - sizes the response exactly ([`EncodeMessage::encoded_length`]) and checks the header the
//!   encoder wrote. A panic in the handler or the encoder is the service's bug: `PANIC`.

use crate::context::Context;
use crate::handler::{Handler, HandlerError, Registry, RegistryError, Reply};
use std::marker::PhantomData;
use std::panic::{self, AssertUnwindSafe};
use thiserror::Error;

/// Length of the SBE `messageHeader` (block length, template id, schema id, version; `uint16`
/// each, little-endian), the same in every schema generated with the standard header.
pub const MESSAGE_HEADER_LENGTH: usize = 8;

/// Which SBE message a type is: the constants of its generated codec.
pub trait Message {
    /// `SBE_SCHEMA_ID` of the codec crate.
    const SCHEMA_ID: u16;
    /// `SBE_SCHEMA_VERSION` of the codec crate.
    const SCHEMA_VERSION: u16;
    /// `SBE_TEMPLATE_ID` of the message's codec module.
    const TEMPLATE_ID: u16;
    /// `SBE_BLOCK_LENGTH` of the message's codec module.
    const BLOCK_LENGTH: u16;
    /// The message's name in the schema, for error messages.
    const NAME: &'static str;
}

/// Implements [`Message`] for a type from its generated codec crate and module:
/// `sbe_message!(Greet, hello::greet_codec, "Greet");` (type, codec crate `::` message module,
/// name in the schema). The codec crate must be a dependency of the crate using the macro.
#[macro_export]
macro_rules! sbe_message {
    ($type:ty, $schema:ident :: $codec:ident, $name:literal) => {
        impl $crate::typed::Message for $type {
            const SCHEMA_ID: u16 = $schema::SBE_SCHEMA_ID;
            const SCHEMA_VERSION: u16 = $schema::SBE_SCHEMA_VERSION;
            const TEMPLATE_ID: u16 = $schema::$codec::SBE_TEMPLATE_ID;
            const BLOCK_LENGTH: u16 = $schema::$codec::SBE_BLOCK_LENGTH;
            const NAME: &'static str = $name;
        }
    };
}

/// A request read from one SBE message with the generated decoder.
///
/// `decode` gets the whole message, header included, after its header was checked. It may
/// index the message with the coordinates the generated decoder returns and let a lying
/// length panic: the panic is caught and answered `BAD_REQUEST`. Return
/// [`DecodeError::Invalid`] for what the decoder cannot see (bad UTF-8, an invalid value).
pub trait DecodeMessage: Message + Sized {
    fn decode(message: &[u8]) -> Result<Self, DecodeError>;
}

/// A response written as one SBE message with the generated encoder.
pub trait EncodeMessage: Message {
    /// The exact length of the message, header included.
    fn encoded_length(&self) -> usize;
    /// Writes the message, header included, into `message` of [`EncodeMessage::encoded_length`]
    /// bytes.
    fn encode(&self, message: &mut [u8]) -> Result<(), HandlerError>;
}

/// Why a payload is not the message a typed handler takes; answered `BAD_REQUEST`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    #[error("payload of {length} bytes is shorter than the {MESSAGE_HEADER_LENGTH}-byte SBE message header")]
    ShorterThanHeader { length: usize },
    #[error("schema id {found} is not {expected} ({message}'s schema)")]
    WrongSchemaId { message: &'static str, expected: u16, found: u16 },
    #[error("template id {found} is not {expected} ({message})")]
    WrongTemplate { message: &'static str, expected: u16, found: u16 },
    #[error("schema version {found} is not {expected}, the version of {message} this worker decodes")]
    WrongVersion { message: &'static str, expected: u16, found: u16 },
    #[error("block length {found} is not {expected}, the fixed block of {message}")]
    WrongBlockLength { message: &'static str, expected: u16, found: u16 },
    #[error("{message}'s fixed block ends at byte {end} but the payload has {length} bytes")]
    BlockPastPayload { message: &'static str, end: usize, length: usize },
    #[error("a length in the {message} runs past the payload of {length} bytes ({panic})")]
    PastPayload { message: &'static str, length: usize, panic: String },
    #[error("{0}")]
    Invalid(String),
}

fn u16_at(bytes: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([bytes[at], bytes[at + 1]])
}

/// Checks that `payload` starts with the header of message `M` and holds its fixed block.
pub fn check_header<M: Message>(payload: &[u8]) -> Result<(), DecodeError> {
    let length = payload.len();
    if length < MESSAGE_HEADER_LENGTH {
        return Err(DecodeError::ShorterThanHeader { length });
    }
    let (block_length, template_id, schema_id, version) =
        (u16_at(payload, 0), u16_at(payload, 2), u16_at(payload, 4), u16_at(payload, 6));
    let message = M::NAME;
    if schema_id != M::SCHEMA_ID {
        return Err(DecodeError::WrongSchemaId { message, expected: M::SCHEMA_ID, found: schema_id });
    }
    if template_id != M::TEMPLATE_ID {
        return Err(DecodeError::WrongTemplate { message, expected: M::TEMPLATE_ID, found: template_id });
    }
    if version != M::SCHEMA_VERSION {
        return Err(DecodeError::WrongVersion { message, expected: M::SCHEMA_VERSION, found: version });
    }
    // In one version a message's block never changes size: another one would move every field.
    if block_length != M::BLOCK_LENGTH {
        return Err(DecodeError::WrongBlockLength { message, expected: M::BLOCK_LENGTH, found: block_length });
    }
    let end = MESSAGE_HEADER_LENGTH + usize::from(block_length);
    if end > length {
        return Err(DecodeError::BlockPastPayload { message, end, length });
    }
    Ok(())
}

/// Decodes one message of type `M` from exactly `payload`: header check, then the decoder under
/// `catch_unwind`, so a lying length is an error, never a panic of the caller.
pub fn decode<M: DecodeMessage>(payload: &[u8]) -> Result<M, DecodeError> {
    check_header::<M>(payload)?;
    match panic::catch_unwind(AssertUnwindSafe(|| M::decode(payload))) {
        Ok(result) => result,
        Err(panic) => {
            Err(DecodeError::PastPayload { message: M::NAME, length: payload.len(), panic: panic_text(&*panic) })
        }
    }
}

/// Encodes `message` into a new vector of exactly its length, checking the header it wrote.
pub fn encode<M: EncodeMessage>(message: &M) -> Result<Vec<u8>, HandlerError> {
    let mut bytes = vec![0u8; message.encoded_length()];
    encode_into(message, &mut bytes)?;
    Ok(bytes)
}

fn encode_into<M: EncodeMessage>(message: &M, bytes: &mut [u8]) -> Result<(), HandlerError> {
    message.encode(bytes)?;
    let wrote = |at| (bytes.len() >= MESSAGE_HEADER_LENGTH).then(|| u16_at(bytes, at));
    if wrote(2) != Some(M::TEMPLATE_ID) || wrote(4) != Some(M::SCHEMA_ID) || wrote(6) != Some(M::SCHEMA_VERSION) {
        return Err(HandlerError::Failed(format!(
            "the {} encoder did not write its header (template {}, schema {} version {})",
            M::NAME,
            M::TEMPLATE_ID,
            M::SCHEMA_ID,
            M::SCHEMA_VERSION
        )));
    }
    Ok(())
}

/// The text of a caught panic.
pub(crate) fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|text| (*text).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_owned())
}

/// A typed function as a [`Handler`] (see [`Registry::register_typed`]).
pub struct Typed<Req, Resp, F> {
    function: F,
    types: PhantomData<fn(Req) -> Resp>,
}

impl<Req, Resp, F> Typed<Req, Resp, F>
where
    Req: DecodeMessage,
    Resp: EncodeMessage,
    F: Fn(&Context, Req) -> Result<Resp, HandlerError> + Send + Sync,
{
    pub fn new(function: F) -> Self {
        Self { function, types: PhantomData }
    }
}

impl<Req, Resp, F> Handler for Typed<Req, Resp, F>
where
    Req: DecodeMessage,
    Resp: EncodeMessage,
    F: Fn(&Context, Req) -> Result<Resp, HandlerError> + Send + Sync,
{
    fn handle(&self, ctx: &Context, payload: &[u8], reply: &mut Reply<'_>) -> Result<(), HandlerError> {
        let request = decode::<Req>(payload)
            .map_err(|error| HandlerError::BadPayload(format!("not a valid {}: {error}", Req::NAME)))?;
        let response = (self.function)(ctx, request)?;
        encode_into(&response, reply.append_zeroed(response.encoded_length()))
    }
}

impl Registry {
    /// Registers a typed handler, run on the worker's pool: its payload is one `Req` message,
    /// its result one `Resp` message (see the module documentation).
    pub fn register_typed<Req, Resp, F>(&mut self, name: &str, function: F) -> Result<(), RegistryError>
    where
        Req: DecodeMessage + 'static,
        Resp: EncodeMessage + 'static,
        F: Fn(&Context, Req) -> Result<Resp, HandlerError> + Send + Sync + 'static,
    {
        self.register(name, Typed::new(function))
    }
}
