//! `html.signals`: parses a page with an HTML5 tree builder and reports what it found.
//!
//! Definitions (the Java parity test mirrors them with jsoup, so change both together).
//! Only elements in the HTML namespace count (an SVG `<a>` or `<title>` does not):
//! - **title**: the text of the first `<title>` element in document order, with runs of
//!   ASCII whitespace (TAB, LF, FF, CR, SPACE) collapsed to one space and stripped at both ends
//!   (as `document.title` does); empty when there is none.
//! - **links**: `<a>` elements with an `href` attribute (any value, even empty).
//! - **scripts**: `<script>` elements, inline or not.
//! - **stylesheets**: `<link>` elements whose `rel`, split on ASCII whitespace, has the token
//!   `stylesheet` (ASCII case-insensitive).
//! - **iframes**, **forms**: `<iframe>`, `<form>` elements.
//! - **password inputs**: `<input>` elements whose `type` is `password` (ASCII
//!   case-insensitive, no trimming, as HTML matches enumerated attributes).
//! - **external hosts**: hosts of the http(s) URLs in `a[href]`, `script[src]`, `link[href]`,
//!   `img[src]`, `iframe[src]` and `form[action]`, resolved against the document's base URL
//!   (the first `<base href>`, resolved against the request URL; else the request URL), that
//!   differ from the request URL's host. Hosts are compared exactly as the URL standard
//!   serialises them (lower case, IDNs in punycode; `www.example.com` is not `example.com`,
//!   ports are ignored). Sorted, deduplicated, at most 65535. With no usable request URL every
//!   host is external and relative references are skipped.
//! - **favicon**: the `href` of the first `<link>` whose `rel` has the token `icon`, resolved
//!   against the base URL; else `/favicon.ico` on the request URL's origin when that is http(s);
//!   else empty.
//! - **digest**: TLSH (128 buckets, 1-byte checksum, `T1` prefix, 72 characters) of the raw body
//!   bytes, for clustering near-identical pages (distance with any TLSH implementation); empty
//!   when TLSH declines (under 50 bytes, or too little variety).
//!
//! Parsing follows the WHATWG tree construction algorithm (html5ever) with scripting disabled,
//! so `<noscript>` content is parsed as elements, and `<template>` content counts.
//!
//! The body may be in any encoding (see [`decode_body`]).
//!
//! On the wire (schema `../schema/web-scan.xml`): a `SignalsRequest` in, a `SignalsResponse`
//! out ([`HtmlSignals`], registered by [`register`]); any decoding failure is `BAD_REQUEST`.
//!
//! **No copy of the page on its way to the parser.** The handler reads the request where it
//! lies ([`SignalsRequestView`] borrows the url and body from the payload, which is the
//! caller's payload region for a large page), a UTF-8 body is parsed as it is (a `&str` over
//! the same bytes), and html5ever, which takes its input as owned tendrils, gets it in 64 KiB
//! pieces ([`Document::parse`]) rather than as one copy of the whole page. TLSH reads the body
//! in place too. Only a body in another encoding is transcoded (one copy, into UTF-8).

use crate::dom::{Document, NodeKind};
use encoding_rs::{Encoding, UTF_8, WINDOWS_1252};
use polybridge_worker::typed::{check_header, DecodeError, DecodeMessage, EncodeMessage, MESSAGE_HEADER_LENGTH};
use polybridge_worker::wire::{truncate_utf8, MAX_VAR_STRING_LENGTH};
use polybridge_worker::{sbe_message, Context, Handler, HandlerError, Registry, RegistryError, Reply};
use std::borrow::Cow;
use std::collections::BTreeSet;
use url::Url;
use webscan::signals_request_codec;
use webscan::signals_response_codec::{self, SignalsResponseEncoder};
use webscan::WriteBuf;

/// The name `html.signals` is registered under.
pub const HANDLER_NAME: &str = "html.signals";

/// What a page says about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Signals {
    pub title: String,
    pub links: u32,
    pub scripts: u32,
    pub stylesheets: u32,
    pub iframes: u32,
    pub forms: u32,
    pub password_inputs: u32,
    pub external_hosts: Vec<String>,
    pub favicon: String,
    pub digest: String,
}

/// Decodes page bytes of any encoding into text, never failing:
/// 1. a byte order mark (UTF-8, UTF-16LE/BE) decides;
/// 2. else bytes that are valid UTF-8 are UTF-8 (a legacy-encoded page that is also valid,
///    non-ASCII UTF-8 is vanishingly rare, while saved pages often keep a stale `<meta charset>`);
/// 3. else the first `<meta ... charset=...>` in the first 1024 bytes, by WHATWG label
///    (a UTF-16 label means UTF-8, `x-user-defined` means windows-1252, as HTML prescribes);
/// 4. else windows-1252, HTML's default.
///
/// Malformed sequences become U+FFFD. Returns the text and the encoding used.
pub fn decode_body(body: &[u8]) -> (Cow<'_, str>, &'static Encoding) {
    if let Some((encoding, bom_length)) = Encoding::for_bom(body) {
        return (encoding.decode_without_bom_handling(&body[bom_length..]).0, encoding);
    }
    if let Ok(text) = std::str::from_utf8(body) {
        return (Cow::Borrowed(text), UTF_8);
    }
    let encoding = meta_charset(&body[..body.len().min(1024)]).unwrap_or(WINDOWS_1252);
    (encoding.decode_without_bom_handling(body).0, encoding)
}

/// A simplified HTML prescan: the first recognised `charset=` label inside a `<meta` tag.
fn meta_charset(head: &[u8]) -> Option<&'static Encoding> {
    let lower = head.to_ascii_lowercase();
    let mut from = 0;
    while let Some(start) = find(&lower[from..], b"<meta").map(|at| from + at) {
        let end = find(&lower[start..], b">").map_or(lower.len(), |at| start + at);
        let tag = &lower[start..end];
        from = end;
        let Some(at) = find(tag, b"charset") else { continue };
        let rest = trim_start(&tag[at + b"charset".len()..]);
        let Some(rest) = rest.strip_prefix(b"=") else { continue };
        let rest = trim_start(rest);
        let rest = rest.strip_prefix(b"\"").or_else(|| rest.strip_prefix(b"'")).unwrap_or(rest);
        let label_end = rest
            .iter()
            .position(|b| matches!(b, b'"' | b'\'' | b';' | b'/' | b'>') || b.is_ascii_whitespace())
            .unwrap_or(rest.len());
        if let Some(encoding) = Encoding::for_label(&rest[..label_end]) {
            return Some(match encoding.name() {
                "UTF-16LE" | "UTF-16BE" => UTF_8,
                "x-user-defined" => WINDOWS_1252,
                _ => encoding,
            });
        }
    }
    None
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|window| window == needle)
}

fn trim_start(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(bytes.len());
    &bytes[start..]
}

/// HTML's "strip and collapse ASCII whitespace".
pub fn collapse_whitespace(text: &str) -> String {
    text.split(['\t', '\n', '\x0C', '\r', ' '])
        .filter(|word| !word.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn has_token(value: Option<&str>, token: &str) -> bool {
    value.is_some_and(|v| v.split_ascii_whitespace().any(|t| t.eq_ignore_ascii_case(token)))
}

fn is_http(url: &Url) -> bool {
    matches!(url.scheme(), "http" | "https")
}

/// Extracts the signals of a page fetched from `url`.
pub fn extract(url: &str, body: &[u8]) -> Signals {
    let (text, _) = decode_body(body);
    let document = Document::parse(&text);
    let page_url = Url::parse(url).ok();

    let mut signals = Signals::default();
    let mut title = None;
    let mut base_href = None;
    let mut icon_href = None;
    // (attribute value) of every URL-bearing attribute, resolved once the base is known.
    let mut references: Vec<&str> = Vec::new();
    for (id, node) in document.descendants() {
        if !matches!(node.kind, NodeKind::Element { .. }) || node.name.ns != html5ever::ns!(html) {
            continue;
        }
        let reference = match &*node.name.local {
            "title" => {
                title.get_or_insert(id);
                None
            }
            "base" => {
                if base_href.is_none() {
                    base_href = node.attr("href");
                }
                None
            }
            "a" => {
                let href = node.attr("href");
                signals.links += u32::from(href.is_some());
                href
            }
            "script" => {
                signals.scripts += 1;
                node.attr("src")
            }
            "link" => {
                let rel = node.attr("rel");
                signals.stylesheets += u32::from(has_token(rel, "stylesheet"));
                if icon_href.is_none() && has_token(rel, "icon") {
                    icon_href = node.attr("href").filter(|href| !href.trim().is_empty());
                }
                node.attr("href")
            }
            "img" => node.attr("src"),
            "iframe" => {
                signals.iframes += 1;
                node.attr("src")
            }
            "form" => {
                signals.forms += 1;
                node.attr("action")
            }
            "input" => {
                signals.password_inputs +=
                    u32::from(node.attr("type").is_some_and(|t| t.eq_ignore_ascii_case("password")));
                None
            }
            _ => None,
        };
        references.extend(reference);
    }

    if let Some(id) = title {
        signals.title = collapse_whitespace(&document.text(id));
    }
    let base = match (base_href, &page_url) {
        (Some(href), Some(page)) => page.join(href).ok().or_else(|| Some(page.clone())),
        (Some(href), None) => Url::parse(href).ok(),
        (None, page) => page.clone(),
    };
    let resolve = |reference: &str| Url::options().base_url(base.as_ref()).parse(reference).ok();

    let own_host = page_url.as_ref().and_then(Url::host_str);
    let hosts: BTreeSet<String> = references
        .iter()
        .filter_map(|reference| resolve(reference))
        .filter(is_http)
        .filter_map(|url| url.host_str().filter(|host| Some(*host) != own_host).map(str::to_owned))
        .collect();
    signals.external_hosts = hosts.into_iter().take(usize::from(u16::MAX)).collect();

    signals.favicon = icon_href
        .and_then(resolve)
        .or_else(|| page_url.as_ref().filter(|u| is_http(u) && u.host().is_some())?.join("/favicon.ico").ok())
        .map(String::from)
        .unwrap_or_default();

    signals.digest = tlsh2::TlshDefaultBuilder::build_from(body)
        .map(|tlsh| String::from_utf8_lossy(&tlsh.hash()).into_owned())
        .unwrap_or_default();
    signals
}

/// A `SignalsRequest`: the page and where it came from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignalsRequest {
    pub url: String,
    pub body: Vec<u8>,
}

sbe_message!(SignalsRequest, webscan::signals_request_codec, "SignalsRequest");
sbe_message!(Signals, webscan::signals_response_codec, "SignalsResponse");

/// A `SignalsRequest` read where it lies: the url and body borrow the message's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignalsRequestView<'a> {
    pub url: &'a str,
    pub body: &'a [u8],
}

impl<'a> SignalsRequestView<'a> {
    /// Checks the header and every length against the message before reading anything: a
    /// length that lies is an error, never a panic.
    pub fn decode(message: &'a [u8]) -> Result<Self, DecodeError> {
        check_header::<SignalsRequest>(message)?;
        let past = |field: &str| {
            DecodeError::Invalid(format!("the {field} length runs past the message of {} bytes", message.len()))
        };
        let at = MESSAGE_HEADER_LENGTH + usize::from(signals_request_codec::SBE_BLOCK_LENGTH);
        let url_length = message.get(at..at + 2).map(|b| usize::from(u16::from_le_bytes([b[0], b[1]])));
        let url_length = url_length.ok_or_else(|| past("url"))?;
        let url = message.get(at + 2..at + 2 + url_length).ok_or_else(|| past("url"))?;
        let at = at + 2 + url_length;
        let body_length = message.get(at..at + 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize);
        let body_length = body_length.ok_or_else(|| past("body"))?;
        let body = message[at + 4..].get(..body_length).ok_or_else(|| past("body"))?;
        let extra = message.len() - (at + 4 + body_length);
        if extra > 0 {
            return Err(DecodeError::Invalid(format!("{extra} bytes follow the message")));
        }
        let url = std::str::from_utf8(url).map_err(|_| DecodeError::Invalid("url is not UTF-8".to_owned()))?;
        Ok(Self { url, body })
    }
}

/// An owned copy of a [`SignalsRequestView`] (for clients and tests; the handler never makes one).
impl DecodeMessage for SignalsRequest {
    fn decode(message: &[u8]) -> Result<Self, DecodeError> {
        let view = SignalsRequestView::decode(message)?;
        Ok(Self { url: view.url.to_owned(), body: view.body.to_vec() })
    }
}

impl EncodeMessage for Signals {
    fn encoded_length(&self) -> usize {
        response_length(self)
    }

    fn encode(&self, message: &mut [u8]) -> Result<(), HandlerError> {
        encode_response(self, message)
    }
}

/// Length of `signals` encoded as a `SignalsResponse` (strings cut as [`encode_response`] does).
pub fn response_length(signals: &Signals) -> usize {
    let string = |s: &str| 2 + truncate_utf8(s, MAX_VAR_STRING_LENGTH).len();
    polybridge_worker::typed::MESSAGE_HEADER_LENGTH
        + usize::from(signals_response_codec::SBE_BLOCK_LENGTH)
        + 4
        + signals.external_hosts.iter().take(usize::from(u16::MAX)).map(|h| string(h)).sum::<usize>()
        + string(&signals.title)
        + string(&signals.favicon)
        + string(&signals.digest)
}

/// Encodes `signals` as a `SignalsResponse` message (header included) into `buffer`, which
/// must be [`response_length`] bytes. Strings longer than 65534 bytes are cut on a character
/// boundary; hosts past the 65535th are left out.
pub fn encode_response(signals: &Signals, buffer: &mut [u8]) -> Result<(), HandlerError> {
    let codec = |_| HandlerError::Failed("the generated SignalsResponse encoder lost its parent".to_owned());
    let cut = |s| truncate_utf8(s, MAX_VAR_STRING_LENGTH);
    let hosts = &signals.external_hosts[..signals.external_hosts.len().min(usize::from(u16::MAX))];
    let count = u16::try_from(hosts.len()).unwrap_or(u16::MAX);
    if buffer.len() != response_length(signals) {
        return Err(HandlerError::Failed("SignalsResponse buffer of the wrong size".to_owned()));
    }

    let mut header = SignalsResponseEncoder::default()
        .wrap(WriteBuf::new(buffer), polybridge_worker::typed::MESSAGE_HEADER_LENGTH)
        .header(0);
    let mut encoder = header.parent().map_err(codec)?;
    encoder
        .links(signals.links)
        .scripts(signals.scripts)
        .stylesheets(signals.stylesheets)
        .iframes(signals.iframes)
        .forms(signals.forms)
        .password_inputs(signals.password_inputs);
    let mut group = encoder.external_hosts_encoder(count, Default::default());
    for host in hosts {
        if group.advance().map_err(codec)?.is_none() {
            return Err(codec(webscan::SbeErr::ParentNotSet));
        }
        group.host(cut(host));
    }
    let mut encoder = group.parent().map_err(codec)?;
    encoder.title(cut(&signals.title)).favicon(cut(&signals.favicon)).digest(cut(&signals.digest));
    Ok(())
}

/// The signals of the page in a request (for calling the handler's logic on an owned request).
pub fn html_signals(_ctx: &Context, request: SignalsRequest) -> Result<Signals, HandlerError> {
    Ok(extract(&request.url, &request.body))
}

/// The `html.signals` handler: reads the `SignalsRequest` in place (no copy of the page; see
/// the module documentation) and writes the `SignalsResponse` straight into the reply.
#[derive(Debug, Default, Clone, Copy)]
pub struct HtmlSignals;

impl Handler for HtmlSignals {
    fn handle(&self, _ctx: &Context, payload: &[u8], reply: &mut Reply<'_>) -> Result<(), HandlerError> {
        let request = SignalsRequestView::decode(payload)
            .map_err(|error| HandlerError::BadPayload(format!("not a valid SignalsRequest: {error}")))?;
        let signals = extract(request.url, request.body);
        encode_response(&signals, reply.append_zeroed(response_length(&signals)))
    }
}

/// Registers `html.signals` ([`HANDLER_NAME`]) on the worker's pool.
pub fn register(registry: &mut Registry) -> Result<(), RegistryError> {
    registry.register(HANDLER_NAME, HtmlSignals)
}
