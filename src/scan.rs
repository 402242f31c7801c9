//! Finding where JSON values end without parsing them. A response is read
//! once to split its record lists into records and fields; this is that
//! read's inner loop, so it looks at eight bytes at a time for the few that
//! matter (quotes, backslashes, brackets) rather than at every token.
//!
//! It checks structure: strings end, brackets balance, members have names,
//! colons and commas, literals are spelled right. It does not check what
//! lies inside a nested value or a string; the connector parses the values
//! it uses, and the host checks every record as JSON before output.

use std::ops::Range;

/// Why a text is not the JSON the scan expected: what, and at which byte.
#[derive(Debug, PartialEq)]
pub struct Malformed {
    pub expected: &'static str,
    pub at: usize,
}

pub type Scan<T> = Result<T, Malformed>;

/// A position in JSON text.
pub struct Cursor<'t> {
    bytes: &'t [u8],
    at: usize,
}

impl<'t> Cursor<'t> {
    pub fn new(text: &'t str, at: usize) -> Self {
        Cursor {
            bytes: text.as_bytes(),
            at,
        }
    }

    pub fn fail<T>(&self, expected: &'static str) -> Scan<T> {
        Err(Malformed {
            expected,
            at: self.at,
        })
    }

    /// A failure at the end of the text.
    fn ran_out<T>(&mut self, expected: &'static str) -> Scan<T> {
        self.at = self.bytes.len();
        self.fail(expected)
    }

    /// The next byte after whitespace, which is skipped.
    #[inline(always)]
    pub fn peek(&mut self) -> Option<u8> {
        // Responses are compact: most calls find no whitespace, and take no
        // loop (in the component, every loop entry pays the watchdog's check).
        match *self.bytes.get(self.at)? {
            b' ' | b'\n' | b'\r' | b'\t' => self.skip_whitespace(),
            byte => Some(byte),
        }
    }

    #[inline(never)]
    fn skip_whitespace(&mut self) -> Option<u8> {
        while let Some(&byte) = self.bytes.get(self.at) {
            if !matches!(byte, b' ' | b'\n' | b'\r' | b'\t') {
                return Some(byte);
            }
            self.at += 1;
        }
        None
    }

    /// Takes `byte`, after whitespace, if it is next.
    pub fn take(&mut self, byte: u8) -> bool {
        let next = self.peek() == Some(byte);
        self.at += usize::from(next);
        next
    }

    pub fn expect(&mut self, byte: u8, expected: &'static str) -> Scan<()> {
        match self.take(byte) {
            true => Ok(()),
            false => self.fail(expected),
        }
    }

    /// After a member or an element: true at a comma (another follows),
    /// false at `close`.
    pub fn more(&mut self, close: u8, expected: &'static str) -> Scan<bool> {
        match self.peek() {
            Some(b',') => {
                self.at += 1;
                Ok(true)
            }
            Some(byte) if byte == close => {
                self.at += 1;
                Ok(false)
            }
            _ => self.fail(expected),
        }
    }

    /// Whether only whitespace is left.
    pub fn at_end(&mut self) -> bool {
        self.peek().is_none()
    }

    /// A string: where its contents lie, and whether they hold escapes.
    pub fn string(&mut self) -> Scan<(Range<usize>, bool)> {
        self.expect(b'"', "a string")?;
        let start = self.at;
        let mut escaped = false;
        loop {
            self.at = match find(self.bytes, self.at, |w| equal(w, b'"') | equal(w, b'\\')) {
                Some(at) => at,
                None => return self.ran_out("the end of a string"),
            };
            if self.bytes[self.at] == b'"' {
                self.at += 1;
                return Ok((start..self.at - 1, escaped));
            }
            // A backslash: the byte after it is part of the string.
            escaped = true;
            self.at += 2;
        }
    }

    /// Any value: where its text lies. Inlined where records are split, so
    /// the usual scalars cost no call; nested values take one.
    #[inline(always)]
    pub fn value(&mut self) -> Scan<Range<usize>> {
        let Some(first) = self.peek() else {
            return self.fail("a value");
        };
        let start = self.at;
        match first {
            b'"' => {
                self.string()?;
            }
            b'{' => self.nested(b'{', b'}')?,
            b'[' => self.nested(b'[', b']')?,
            b't' => self.literal("true")?,
            b'f' => self.literal("false")?,
            b'n' => self.literal("null")?,
            b'-' | b'0'..=b'9' => self.number(),
            _ => return self.fail("a value"),
        }
        Ok(start..self.at)
    }

    /// A number's text: its digits eight at a time (most are integers),
    /// then any fraction or exponent.
    fn number(&mut self) {
        self.at += 1;
        self.at = find(self.bytes, self.at, non_digits).unwrap_or(self.bytes.len());
        while let Some(b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-') = self.bytes.get(self.at) {
            self.at += 1;
        }
    }

    fn literal(&mut self, word: &'static str) -> Scan<()> {
        match self.bytes[self.at..].starts_with(word.as_bytes()) {
            true => {
                self.at += word.len();
                Ok(())
            }
            false => self.fail(word),
        }
    }

    /// An object or array, from its opening bracket to the matching close.
    /// Only brackets of its own kind are counted: outside strings, each
    /// kind balances on its own in valid JSON.
    #[inline(never)]
    fn nested(&mut self, open: u8, close: u8) -> Scan<()> {
        let mut depth = 0usize;
        loop {
            match self.bytes[self.at] {
                b'"' => {
                    self.string()?;
                }
                byte if byte == open => {
                    depth += 1;
                    self.at += 1;
                }
                _ => {
                    depth -= 1;
                    self.at += 1;
                    if depth == 0 {
                        return Ok(());
                    }
                }
            }
            let marks = |w| equal(w, b'"') | equal(w, open) | equal(w, close);
            self.at = match find(self.bytes, self.at, marks) {
                Some(at) => at,
                None => return self.ran_out("the end of a nested value"),
            };
        }
    }
}

/// A JSON integer's value, as `str::parse` reads it. Ten digits (UNIX
/// seconds from 2001 to 2286, most of the numbers a record holds) are read
/// eight at a time, with no loop.
pub fn integer(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    let (Some(head), Some(&[d8, d9])) = (bytes.first_chunk::<8>(), bytes.get(8..)) else {
        return text.parse().ok();
    };
    let word = u64::from_le_bytes(*head);
    if non_digits(word) != 0 || !d8.is_ascii_digit() || !d9.is_ascii_digit() {
        return text.parse().ok();
    }
    let value = eight_digits(word) * 100 + u64::from(d8 - b'0') * 10 + u64::from(d9 - b'0');
    Some(value as i64)
}

/// The high bit of each byte of `word` that is not an ASCII digit.
#[inline(always)]
fn non_digits(word: u64) -> u64 {
    // Digits are the bytes at most 9 once '0' is taken away.
    let x = word ^ (ONES * u64::from(b'0'));
    (((x & !(ONES << 7)) + ONES * (127 - 9)) | x) & (ONES << 7)
}

/// The value of eight ASCII digits, the first in the lowest byte: pairs,
/// then fours, then all eight, each step one multiply.
fn eight_digits(word: u64) -> u64 {
    let pairs = ((word & 0x0f00_0f00_0f00_0f00) >> 8) + (word & 0x000f_000f_000f_000f) * 10;
    let fours = ((pairs & 0x00ff_0000_00ff_0000) >> 16) + (pairs & 0x0000_00ff_0000_00ff) * 100;
    ((fours & 0x0000_ffff_0000_0000) >> 32) + (fours & 0x0000_0000_0000_ffff) * 10_000
}

const ONES: u64 = 0x0101_0101_0101_0101;

/// The high bit of each byte of `word` that equals `byte`; exact up to the
/// first such byte (a borrow can mark bytes after it).
#[inline(always)]
fn equal(word: u64, byte: u8) -> u64 {
    let x = word ^ (ONES * u64::from(byte));
    x.wrapping_sub(ONES) & !x & (ONES << 7)
}

/// The first position from `at` of a byte that `marks` marks (as [`equal`]
/// does) in a little-endian word of eight bytes.
#[inline(always)]
fn find(bytes: &[u8], mut at: usize, marks: impl Fn(u64) -> u64) -> Option<usize> {
    while let Some(chunk) = bytes.get(at..at.saturating_add(8)) {
        let word = u64::from_le_bytes(chunk.try_into().ok()?);
        let marked = marks(word);
        if marked != 0 {
            return Some(at + (marked.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    // The last few bytes, one at a time (a byte in a word of its own is
    // marked in its lowest byte). No buffer: in the component, a local
    // array would take a frame on the shadow stack on every call.
    let tail = bytes.get(at..)?;
    let found = tail
        .iter()
        .position(|&byte| marks(u64::from(byte)) & 0x80 != 0)?;
    Some(at + found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::Value;

    fn value_of(text: &str) -> Scan<Range<usize>> {
        Cursor::new(text, 0).value()
    }

    #[test]
    fn values_end_where_their_text_ends() {
        for text in [
            r#""a\"b\\""#,
            r#"{"a":[1,{"b":"]}"}],"c":{}}"#,
            "[[],[[]],{}]",
            "-12.5e+3",
            "true",
            "null",
            r#""0123456789abcdef\u00e9 long enough for words""#,
        ] {
            let padded = format!("{text} ,");
            assert_eq!(value_of(&padded), Ok(0..text.len()), "{text}");
        }
    }

    #[test]
    fn broken_structure_says_what_was_expected_where() {
        let fails = |text: &str, expected: &'static str, at: usize| {
            assert_eq!(value_of(text), Err(Malformed { expected, at }), "{text}");
        };
        fails(r#""abc"#, "the end of a string", 4);
        fails(r#""ab\"#, "the end of a string", 4);
        fails(r#"{"a":[1,2]"#, "the end of a nested value", 10);
        fails("nul", "null", 0);
        fails("tru", "true", 0);
        fails("x", "a value", 0);
        fails("  ", "a value", 2);
        let mut cursor = Cursor::new(r#"{"a" 1}"#, 1);
        assert_eq!(cursor.string(), Ok((2..3, false)));
        assert_eq!(
            cursor.expect(b':', "`:`"),
            Err(Malformed {
                expected: "`:`",
                at: 5
            })
        );
    }

    fn json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            ".*".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
                prop::collection::btree_map(".*", inner, 0..8)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// Any valid JSON value, compact or pretty, is skipped whole.
        #[test]
        fn any_value_is_skipped_whole(value in json(), pretty in any::<bool>()) {
            let text = match pretty {
                true => serde_json::to_string_pretty(&value).unwrap(),
                false => serde_json::to_string(&value).unwrap(),
            };
            let padded = format!(" {text}]");
            let mut cursor = Cursor::new(&padded, 0);
            prop_assert_eq!(cursor.value(), Ok(1..1 + text.len()));
            prop_assert!(cursor.take(b']') && cursor.at_end());
        }

        /// Integers read as the standard library reads them.
        #[test]
        fn integers_read_as_parse_reads_them(
            number in any::<i64>(), width in 0usize..12, text in "[-+0-9a ]{0,12}",
        ) {
            let padded = format!("{number:0width$}");
            prop_assert_eq!(integer(&padded), Some(number));
            prop_assert_eq!(integer(&text), text.parse().ok());
        }

        /// A value cut short is never taken for a whole one.
        #[test]
        fn a_truncated_value_fails(value in json(), cut in any::<prop::sample::Index>()) {
            let text = serde_json::to_string(&value).unwrap();
            let cut = cut.index(text.len());
            let part = &text[..text.floor_char_boundary(cut)];
            if value_of(part).is_ok() {
                // Only a number can stop early and still look whole.
                let bracketed = text.starts_with(['{', '[', '"']);
                prop_assert!(!bracketed);
            }
        }
    }
}
