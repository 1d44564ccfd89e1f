//! The hello example's one typed method, `hello.greet`: `Greet{name}` in, `Greeting{text}` out
//! (`../schema/hello.xml`). The SDK checks each payload's header and turns any decoding failure
//! into BAD_REQUEST; this file only reads and writes fields through the generated codecs.

#![forbid(unsafe_code)]

use hello::greet_codec::GreetDecoder;
use hello::greeting_codec::GreetingEncoder;
use hello::message_header_codec::MessageHeaderDecoder;
use hello::{ReadBuf, WriteBuf};
use polybridge_worker::typed::{DecodeError, DecodeMessage, EncodeMessage, MESSAGE_HEADER_LENGTH};
use polybridge_worker::{sbe_message, Context, HandlerError, Registry, RegistryError};

/// The handler name callers use.
pub const METHOD: &str = "hello.greet";

pub struct Greet {
    pub name: String,
}

pub struct Greeting {
    pub text: String,
}

sbe_message!(Greet, hello::greet_codec, "Greet");
sbe_message!(Greeting, hello::greeting_codec, "Greeting");

impl DecodeMessage for Greet {
    fn decode(message: &[u8]) -> Result<Self, DecodeError> {
        let header = MessageHeaderDecoder::default().wrap(ReadBuf::new(message), 0);
        let (at, len) = GreetDecoder::default().header(header, 0).name_decoder();
        let name = std::str::from_utf8(&message[at..at + len]) // a lying length panics: BAD_REQUEST
            .map_err(|_| DecodeError::Invalid("name is not UTF-8".to_owned()))?;
        Ok(Self { name: name.to_owned() })
    }
}

impl EncodeMessage for Greeting {
    fn encoded_length(&self) -> usize {
        MESSAGE_HEADER_LENGTH + 2 + self.text.len()
    }

    fn encode(&self, message: &mut [u8]) -> Result<(), HandlerError> {
        let mut header = GreetingEncoder::default().wrap(WriteBuf::new(message), MESSAGE_HEADER_LENGTH).header(0);
        header.parent().map_err(|error| HandlerError::Failed(error.to_string()))?.text(&self.text);
        Ok(())
    }
}

/// Answers `Greet{name}` with `Greeting{"Hello, NAME, from Rust!"}`.
pub fn greet(_ctx: &Context, request: Greet) -> Result<Greeting, HandlerError> {
    match request.name.len() {
        0 => Err(HandlerError::BadPayload("greet needs a name".to_owned())),
        1..=1024 => Ok(Greeting { text: format!("Hello, {}, from Rust!", request.name) }),
        n => Err(HandlerError::BadPayload(format!("a name of {n} bytes is too long (1024 at most)"))),
    }
}

/// Registers `hello.greet`.
pub fn register(registry: &mut Registry) -> Result<(), RegistryError> {
    registry.register_typed(METHOD, greet)
}
