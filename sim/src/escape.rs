//! JSON text as Intercom's encoder writes it: `<`, `>` and `&` inside strings
//! as `\u003c`, `\u003e` and `\u0026` (Rails escapes them for HTML safety), the
//! JavaScript line separators as `\u2028` and `\u2029`, and characters outside
//! the Basic Multilingual Plane (emoji) as UTF-16 surrogate pairs. Other
//! non-ASCII text stays raw UTF-8, so a client meets both forms.

/// Rewrites valid JSON text; anything else passes through unchanged. The
/// characters rewritten can occur only inside strings of valid JSON, so the
/// text is scanned for them without tracking where strings begin and end.
pub(crate) fn escape_json(json: &[u8]) -> Vec<u8> {
    let Ok(text) = std::str::from_utf8(json) else {
        return json.to_vec();
    };
    // `<`, `>`, `&`, the lead byte of U+2028 and U+2029, and of astral characters.
    let notable = |b: &u8| matches!(b, b'<' | b'>' | b'&' | 0xE2 | 0xF0..=0xF4);
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len() + text.len() / 16);
    let mut copied = 0;
    while let Some(offset) = bytes[copied..].iter().position(notable) {
        let at = copied + offset;
        out.push_str(&text[copied..at]);
        let Some(c) = text[at..].chars().next() else {
            break;
        };
        match c {
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => push_unit(&mut out, c as u16),
            c if u32::from(c) > 0xFFFF => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    push_unit(&mut out, *unit);
                }
            }
            c => out.push(c),
        }
        copied = at + c.len_utf8();
    }
    out.push_str(&text[copied..]);
    out.into_bytes()
}

fn push_unit(out: &mut String, unit: u16) {
    out.push_str(&format!("\\u{unit:04x}"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_html_separators_and_astral_characters_inside_strings_only() {
        let value = serde_json::json!({"b<o>dy": "<p>Zoë & 🚀\u{2028}\"q\\</p>", "n": 1});
        let plain = serde_json::to_vec(&value).unwrap();
        let escaped = String::from_utf8(escape_json(&plain)).unwrap();
        assert_eq!(
            escaped,
            r#"{"b\u003co\u003edy":"\u003cp\u003eZoë \u0026 \ud83d\ude80\u2028\"q\\\u003c/p\u003e","n":1}"#
        );
        let back: serde_json::Value = serde_json::from_str(&escaped).unwrap();
        assert_eq!(back, value);
    }
}
