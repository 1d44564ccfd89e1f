//! `html.signals`: the definitions in `src/signals.rs`, one behaviour at a time, then the
//! typed handler as the worker runs it, and every page of the shared corpus.

mod common;

use common::{call, decode_signals_response, signals_request};
use polybridge_worker::HandlerError;
use std::path::PathBuf;
use web_scan::signals::{self, decode_body, extract, Signals};

const URL: &str = "https://www.example.com/news/today.html";

fn signals(html: &str) -> Signals {
    extract(URL, html.as_bytes())
}

#[test]
fn counts_follow_the_definitions() {
    let s = signals(
        r#"<!doctype html><html><head>
        <link rel="stylesheet" href="/a.css"><link rel="Alternate StyleSheet" href="/b.css">
        <link rel="preload stylesheet-ish" href="/c.css"><link href="/d.css">
        <script>var x = "<a href='/not-a-link'>";</script><script src="/x.js"></script>
        </head><body>
        <a href="/1">1</a><a href="">empty href counts</a><a name="anchor">no href</a>
        <svg><a href="/svg-link"><title>svg title</title></a><script>svg script</script></svg>
        <iframe src="/frame"></iframe>
        <form action="/login"><input type="PassWord"><input type="password"><input type=" password"><input></form>
        <form></form>
        </body></html>"#,
    );
    assert_eq!(s.links, 2, "a[href] in the HTML namespace only");
    assert_eq!(s.scripts, 2, "HTML script elements, inline or not; the SVG one does not count");
    assert_eq!(s.stylesheets, 2, "rel token 'stylesheet', any case");
    assert_eq!(s.iframes, 1);
    assert_eq!(s.forms, 2);
    assert_eq!(s.password_inputs, 2, "type=password in any case, not trimmed");
    assert_eq!(s.title, "", "an SVG title is not the document's title");
}

#[test]
fn noscript_and_template_content_are_parsed_as_elements() {
    let s = signals(
        r#"<html><head><noscript><link rel=stylesheet href=/n.css></noscript></head>
        <body><noscript><a href="/n">n</a><iframe src="/f"></iframe></noscript>
        <template><a href="/t">t</a><form></form></template></body></html>"#,
    );
    assert_eq!((s.links, s.stylesheets, s.iframes, s.forms), (2, 1, 1, 1));
}

#[test]
fn misnested_markup_is_repaired_as_html5_says() {
    // The adoption agency clones the formatting element <a> (which keeps its href) into <p>:
    // two a[href] elements end up in the tree.
    let s = signals(r#"<body><a href="/x">one<p>two</a></p></body>"#);
    assert_eq!(s.links, 2);
    // A table's stray content is foster-parented, not lost.
    assert_eq!(signals(r#"<table><a href="/y">y</a><tr><td>c</td></tr></table>"#).links, 1);
}

#[test]
fn title_is_the_first_title_with_whitespace_collapsed() {
    assert_eq!(signals("<title>\n  Hello \t  &amp; <b>world</b>\r\n</title><title>second</title>").title, "Hello & <b>world</b>");
    assert_eq!(signals("<body><p>x</p><title> in body </title>").title, "in body");
    assert_eq!(signals("<title>a\u{a0}b</title>").title, "a\u{a0}b", "NBSP is not ASCII whitespace");
    assert_eq!(signals("<p>no title</p>").title, "");
}

#[test]
fn external_hosts_are_resolved_sorted_deduplicated_and_exclude_the_page_host() {
    let s = signals(
        r#"<a href="https://cdn.b.net/x">x</a><a href="//cdn.b.net/y">y</a><a href="/local">l</a>
        <a href="https://WWW.EXAMPLE.COM:8443/same-host">same</a><a href="https://example.com/">apex</a>
        <a href="mailto:someone@a.org">mail</a><a href="javascript:void(0)">js</a><a href="ftp://files.c.org/">ftp</a>
        <script src="https://a.js.org/s.js"></script><link rel=preconnect href="https://fonts.z.com">
        <img src="http://img.d.org/i.png"><iframe src="https://frame.e.org/"></iframe>
        <form action="https://post.f.org/"></form><video src="https://video.g.org/v.mp4"></video>
        <a href="https://bücher.example/">idn</a><a href="http://[::1]/">v6</a>"#,
    );
    assert_eq!(
        s.external_hosts,
        [
            "[::1]", "a.js.org", "cdn.b.net", "example.com", "fonts.z.com", "frame.e.org", "img.d.org",
            "post.f.org", "xn--bcher-kva.example",
        ]
    );
}

#[test]
fn base_element_changes_what_relative_references_resolve_to() {
    let s = signals(r#"<head><base href="https://static.other.org/root/"></head><a href="page">p</a><link rel=icon href="fav.png">"#);
    assert_eq!(s.external_hosts, ["static.other.org"]);
    assert_eq!(s.favicon, "https://static.other.org/root/fav.png");
}

#[test]
fn favicon_is_the_first_icon_link_else_favicon_ico_else_empty() {
    assert_eq!(
        signals(r#"<link rel="apple-touch-icon" href="/apple.png"><link rel="shortcut icon" href="img/f.ico"><link rel=icon href=/second.png>"#).favicon,
        "https://www.example.com/news/img/f.ico"
    );
    assert_eq!(signals(r#"<link rel=icon href="  ">"#).favicon, "https://www.example.com/favicon.ico");
    assert_eq!(signals("<p>none</p>").favicon, "https://www.example.com/favicon.ico");
    assert_eq!(extract("", b"<p>no url</p>").favicon, "");
    assert_eq!(extract("file:///tmp/x.html", b"<p>file</p>").favicon, "");
}

#[test]
fn without_a_usable_url_every_absolute_host_is_external_and_relative_ones_are_skipped() {
    let s = extract("not a url", br#"<a href="/rel">r</a><a href="https://a.org/">a</a>"#);
    assert_eq!(s.external_hosts, ["a.org"]);
}

#[test]
fn body_decoding_honours_bom_then_utf8_then_meta_charset_then_windows_1252() {
    let mut latin1 = b"<meta charset=\"iso-8859-2\"><title>".to_vec();
    latin1.extend_from_slice(&[0xB1, 0xE6]); // "ąć" in ISO-8859-2, not valid UTF-8
    latin1.extend_from_slice(b"</title>");
    assert_eq!(extract(URL, &latin1).title, "ąć");
    assert_eq!(decode_body(&latin1).1.name(), "ISO-8859-2");

    let mut utf16 = vec![0xFF, 0xFE];
    for unit in "<title>ü ✓</title>".encode_utf16() {
        utf16.extend_from_slice(&unit.to_le_bytes());
    }
    assert_eq!(extract(URL, &utf16).title, "ü ✓");

    // Valid UTF-8 wins over a stale meta charset.
    assert_eq!(extract(URL, "<meta charset=gb2312><title>日本</title>".as_bytes()).title, "日本");
    // Neither valid UTF-8 nor declared: windows-1252.
    assert_eq!(extract(URL, b"<title>caf\xE9</title>").title, "café");
    // Broken bytes never fail the call.
    assert_eq!(extract(URL, b"<meta charset=utf-8><title>a\xFF\xFEb</title>").title, "a\u{FFFD}\u{FFFD}b");
}

#[test]
fn digest_is_tlsh_of_the_body_and_close_for_near_identical_pages() {
    let page: String = (0..200).map(|i| format!("<p class=c{}>paragraph {i} of the page</p>\n", i % 7)).collect();
    let digest = signals(&page).digest;
    assert_eq!(digest.len(), 72, "{digest}");
    assert!(digest.starts_with("T1"), "{digest}");
    let edited = page.replacen("paragraph 100", "paragraph one hundred", 1);
    let other = signals(&edited).digest;
    let differing = digest.bytes().zip(other.bytes()).filter(|(a, b)| a != b).count();
    assert!(differing <= 10, "{digest} vs {other}: {differing} characters differ");
    assert_eq!(signals("<p>too short</p>").digest, "", "TLSH needs at least 50 bytes");
}

#[test]
fn handler_answers_a_signals_request_with_a_signals_response() {
    let body = r#"<title>Tést ✓</title><a href="https://cdn.example.net/">x</a>"#.as_bytes();
    let payload = call(&signals_request(URL, body)).expect("a SignalsRequest is answered");
    assert_eq!(decode_signals_response(&payload), extract(URL, body));
}

#[test]
fn handler_rejects_what_is_not_a_signals_request_with_bad_request() {
    let mut lying = signals_request(URL, b"<p>");
    lying[8..10].copy_from_slice(&5000u16.to_le_bytes());
    let mut lying_body = signals_request(URL, b"<p>");
    let at = 8 + 2 + URL.len();
    lying_body[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    let mut trailing = signals_request(URL, b"<p>");
    trailing.push(0);
    let mut bad_url = signals_request("ab", b"");
    bad_url[10] = 0xFF;
    let mut transport_schema = signals_request(URL, b"");
    transport_schema[4..6].copy_from_slice(&7101u16.to_le_bytes());
    for payload in [b"<html>raw html is not a SignalsRequest".to_vec(), Vec::new(), lying, lying_body, trailing, bad_url, transport_schema] {
        match call(&payload) {
            Err(HandlerError::BadPayload(message)) => {
                assert!(message.starts_with("not a valid SignalsRequest: "), "{message}")
            }
            other => panic!("{payload:?}: {other:?}"),
        }
    }
}

#[test]
fn strings_over_the_wire_limit_are_cut_not_fatal() {
    let long_title = format!("<title>{}</title>", "✓".repeat(30_000));
    let payload = call(&signals_request(URL, long_title.as_bytes())).expect("answered");
    assert_eq!(decode_signals_response(&payload).title.len(), 65_532);
}

/// The shared corpus (`../shared/corpus/html` from the repository root), or `None` when absent.
pub fn corpus() -> Option<Vec<(String, Vec<u8>)>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../../shared/corpus/html");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!("corpus {} is absent: skipping", dir.display());
        return None;
    };
    let mut pages: Vec<_> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "html"))
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap()))
        .collect();
    pages.sort();
    Some(pages)
}

#[test]
fn every_corpus_page_parses_with_plausible_signals() {
    let Some(pages) = corpus() else { return };
    assert_eq!(pages.len(), 98);
    let mut with_title = 0;
    let mut with_links = 0;
    for (name, body) in &pages {
        let url = format!("https://corpus.polybridge.test/{name}");
        let s = extract(&url, body);
        with_title += usize::from(!s.title.is_empty());
        with_links += usize::from(s.links > 0);
        assert!(s.favicon.starts_with("http"), "{name}: favicon {:?}", s.favicon);
        assert!(s.external_hosts.windows(2).all(|w| w[0] < w[1]), "{name}: hosts not sorted and unique");
        assert!(!s.external_hosts.iter().any(|h| h == "corpus.polybridge.test"), "{name}");
        if body.len() >= 1024 {
            assert_eq!(s.digest.len(), 72, "{name}: digest {:?}", s.digest);
        }
    }
    assert!(with_title >= 80, "only {with_title} pages have a title");
    assert!(with_links >= 60, "only {with_links} pages have links");
}

#[test]
fn handler_name_is_html_signals() {
    assert_eq!(signals::HANDLER_NAME, "html.signals");
}

#[test]
fn the_handler_reads_the_request_in_place() {
    let message = signals_request(URL, b"<title>in place</title>");
    let view = signals::SignalsRequestView::decode(&message).expect("a SignalsRequest");
    let range = message.as_ptr_range();
    assert!(range.contains(&view.body.as_ptr()) && range.contains(&view.url.as_ptr()), "borrowed, not copied");
    assert_eq!((view.url, view.body), (URL, &b"<title>in place</title>"[..]));
}

#[test]
fn a_page_larger_than_a_parse_chunk_parses_as_one_piece() {
    // A title of two-byte characters across the first chunk boundary, links on both sides.
    let chunk = web_scan::dom::PARSE_CHUNK;
    let mut page = String::from("<html><head><script>");
    page.push_str(&"x".repeat(chunk - page.len() - 20 - "</script><title>".len()));
    page.push_str("</script><title>");
    page.push_str(&"é".repeat(30));
    page.push_str("</title></head><body>");
    for i in 0..5000 {
        page.push_str(&format!("<a href=\"https://h{}.example.org/\">{i}</a>", i % 7));
    }
    page.push_str("</body></html>");
    assert!(page.len() > 3 * chunk);
    let s = signals(&page);
    assert_eq!(s.title, "é".repeat(30));
    assert_eq!(s.links, 5000);
    assert_eq!(s.external_hosts.len(), 7);
}
