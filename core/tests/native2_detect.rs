//! The detector finds native v2 pointers wherever it finds version 1's: in chat text, HTML, quoted
//! and wrapped replies, and quoted-printable mails. (Random embeddings of every format are in
//! props.rs; these are the shapes mail and chat clients actually produce.)

use clm_core::{Found, Native2Keys, Origin, Pointer, detect, parse};

fn pointer() -> (Pointer, String) {
    let keys = Native2Keys::from_root(&[7; 32]);
    let pointer =
        Pointer::Native2(keys.encode("alice", "found in any wrapping", 1_795_444_840, [2; 24]).unwrap());
    let json = pointer.to_json();
    (pointer, json)
}

/// Inserts `gap` every `width` characters of the text.
fn wrap(text: &str, width: usize, gap: &str) -> String {
    text.as_bytes().chunks(width).map(|c| std::str::from_utf8(c).unwrap()).collect::<Vec<_>>().join(gap)
}

/// Inserts `gap` every `width` characters inside the `d` value, where §5 lets readers skip gaps
/// (mail clients break long values; `n` is a string, whose spaces would be content in clm202).
fn wrap_d(json: &str, width: usize, gap: &str) -> String {
    let start = json.find(r#""d":""#).unwrap() + 5;
    let end = json.len() - 2;
    format!("{}{}{}", &json[..start], wrap(&json[start..end], width, gap), &json[end..])
}

fn only_pointer(text: &[u8]) -> Pointer {
    let detection = detect(text);
    assert_eq!(detection.rejected, vec![], "{}", String::from_utf8_lossy(text));
    assert_eq!(detection.found.len(), 1, "{}", String::from_utf8_lossy(text));
    detection.found[0].pointer.clone()
}

#[test]
fn in_chat_text_with_its_span() {
    let (pointer, json) = pointer();
    let text = format!("see {json} and reply");
    assert_eq!(
        detect(text.as_bytes()).found,
        vec![Found { pointer, span: 4..4 + json.len(), origin: Origin::Input }]
    );
}

#[test]
fn in_html_with_entities_and_tags() {
    let (pointer, json) = pointer();
    let html = format!("<p>new message:</p><pre>{}</pre>", wrap_d(&json, 60, "<wbr>").replace('"', "&quot;"));
    assert_eq!(only_pointer(html.as_bytes()), pointer);
}

#[test]
fn in_a_quoted_reply_wrapped_by_a_mail_client() {
    let (pointer, json) = pointer();
    let reply = format!("On Monday Bob wrote:\n> > {}\n> > \n\nThanks!", wrap_d(&json, 64, "\n> > "));
    assert_eq!(only_pointer(reply.as_bytes()), pointer);
}

#[test]
fn in_a_quoted_printable_mail() {
    let (pointer, json) = pointer();
    let body = wrap(&json, 72, "=\r\n");
    let mail = format!(
        "From: alice@example.org\r\nTo: bob@example.org\r\nSubject: hi\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
         Here it is:\r\n{body}\r\n"
    );
    let detection = detect(mail.as_bytes());
    assert_eq!(detection.found.len(), 1, "{detection:?}");
    assert_eq!(detection.found[0].pointer, pointer);
    assert_eq!(detection.found[0].origin, Origin::MailPart(0));
    assert_eq!(parse(&mail), Ok(pointer));
}
