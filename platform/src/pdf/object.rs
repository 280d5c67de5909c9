//! PDF objects (ISO 32000-1 §7.3): a bounded parser over a byte window and a writer.
//!
//! The parser never panics on input: every index is checked, nesting is limited to
//! [`MAX_DEPTH`], and running off the end of the window is [`Parse::NeedMore`] so the
//! caller can read a larger window and try again.

use std::fmt::Write as _;

/// How deep arrays and dictionaries may nest.
pub const MAX_DEPTH: usize = 64;

/// An object reference `num gen R`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjRef {
    pub num: u32,
    pub generation: u16,
}

/// A dictionary, keys in the order read (so rewritten objects keep their look).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Dict(pub Vec<(Vec<u8>, Object)>);

impl Dict {
    pub fn get(&self, key: &[u8]) -> Option<&Object> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Set `key`, replacing an earlier value.
    pub fn set(&mut self, key: &[u8], value: Object) {
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value,
            None => self.0.push((key.to_vec(), value)),
        }
    }

    pub fn remove(&mut self, key: &[u8]) {
        self.0.retain(|(k, _)| k != key);
    }

    /// The name value of `key`, if it is a name.
    pub fn name(&self, key: &[u8]) -> Option<&[u8]> {
        match self.get(key) {
            Some(Object::Name(n)) => Some(n),
            _ => None,
        }
    }

    pub fn int(&self, key: &[u8]) -> Option<i64> {
        match self.get(key) {
            Some(Object::Int(i)) => Some(*i),
            _ => None,
        }
    }

    /// Equal apart from `ignored` keys (what a later revision may change).
    pub fn same_except(&self, other: &Dict, ignored: &[&[u8]]) -> bool {
        let keep = |d: &Dict| {
            let mut v: Vec<_> =
                d.0.iter()
                    .filter(|(k, _)| !ignored.contains(&k.as_slice()))
                    .cloned()
                    .collect();
            v.sort_by(|a, b| a.0.cmp(&b.0));
            v
        };
        keep(self) == keep(other)
    }
}

/// A PDF object. Streams keep their dictionary and where their data starts in the file; the
/// data is read only when asked for.
#[derive(Debug, Clone, PartialEq)]
pub enum Object {
    Null,
    Bool(bool),
    Int(i64),
    Real(f64),
    /// A literal or hex string, decoded to its bytes.
    String(Vec<u8>),
    /// A name without the slash, `#xx` escapes decoded.
    Name(Vec<u8>),
    Array(Vec<Object>),
    Dict(Dict),
    /// A stream: its dictionary and the offset of its data (from the window's base).
    Stream(Dict, u64),
    Ref(ObjRef),
}

impl Object {
    pub fn as_dict(&self) -> Option<&Dict> {
        match self {
            Object::Dict(d) | Object::Stream(d, _) => Some(d),
            _ => None,
        }
    }

    pub fn as_ref(&self) -> Option<ObjRef> {
        match self {
            Object::Ref(r) => Some(*r),
            _ => None,
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        match self {
            Object::Int(i) => Some(*i),
            _ => None,
        }
    }
}

/// Why a parse stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parse {
    /// The window ended inside the object: read more and try again.
    NeedMore,
    /// Not PDF syntax, at this offset of the window.
    Syntax(usize, &'static str),
}

type P<T> = Result<T, Parse>;

/// A cursor over a window of the file.
#[derive(Debug)]
pub struct Lexer<'a> {
    buf: &'a [u8],
    pub pos: usize,
    /// Whether the window reaches the end of the file (then running out is a syntax error).
    at_eof: bool,
}

pub fn is_white(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n' | b'\x0c' | b'\0')
}

fn is_delim(b: u8) -> bool {
    matches!(
        b,
        b'(' | b')' | b'<' | b'>' | b'[' | b']' | b'{' | b'}' | b'/' | b'%'
    )
}

impl<'a> Lexer<'a> {
    pub fn new(buf: &'a [u8], pos: usize, at_eof: bool) -> Self {
        Self { buf, pos, at_eof }
    }

    fn more(&self, what: &'static str) -> Parse {
        if self.at_eof {
            Parse::Syntax(self.pos, what)
        } else {
            Parse::NeedMore
        }
    }

    fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    /// Skip whitespace and comments.
    pub fn skip_ws(&mut self) {
        while let Some(b) = self.peek() {
            if is_white(b) {
                self.pos += 1;
            } else if b == b'%' {
                while let Some(c) = self.peek() {
                    if c == b'\r' || c == b'\n' {
                        break;
                    }
                    self.pos += 1;
                }
            } else {
                break;
            }
        }
    }

    /// A regular token (keyword or number) without consuming delimiters.
    pub fn word(&mut self) -> &'a [u8] {
        let start = self.pos;
        while let Some(b) = self.peek() {
            if is_white(b) || is_delim(b) {
                break;
            }
            self.pos += 1;
        }
        self.buf.get(start..self.pos).unwrap_or_default()
    }

    /// Expect the keyword `kw` next (after whitespace).
    pub fn keyword(&mut self, kw: &[u8]) -> P<()> {
        self.skip_ws();
        let save = self.pos;
        let w = self.word();
        if w == kw && (self.pos < self.buf.len() || self.at_eof) {
            Ok(())
        } else if self.pos >= self.buf.len() && !self.at_eof {
            Err(Parse::NeedMore)
        } else {
            self.pos = save;
            Err(Parse::Syntax(save, "unexpected keyword"))
        }
    }

    /// An unsigned integer token.
    pub fn uint(&mut self) -> P<u64> {
        self.skip_ws();
        let start = self.pos;
        let w = self.word();
        if self.pos >= self.buf.len() && !self.at_eof {
            return Err(Parse::NeedMore);
        }
        if w.is_empty() || w.len() > 19 || !w.iter().all(u8::is_ascii_digit) {
            return Err(Parse::Syntax(start, "integer expected"));
        }
        std::str::from_utf8(w)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or(Parse::Syntax(start, "integer expected"))
    }

    /// `num gen obj` header.
    pub fn obj_header(&mut self) -> P<ObjRef> {
        let num = self.uint()?;
        let generation = self.uint()?;
        self.keyword(b"obj")?;
        Ok(ObjRef {
            num: u32::try_from(num).map_err(|_| Parse::Syntax(self.pos, "object number"))?,
            generation: u16::try_from(generation)
                .map_err(|_| Parse::Syntax(self.pos, "generation"))?,
        })
    }

    /// One object; `num gen R` is recognised.
    pub fn object(&mut self, depth: usize) -> P<Object> {
        if depth > MAX_DEPTH {
            return Err(Parse::Syntax(self.pos, "nesting too deep"));
        }
        self.skip_ws();
        let Some(b) = self.peek() else {
            return Err(self.more("object expected"));
        };
        match b {
            b'/' => {
                self.pos += 1;
                Ok(Object::Name(self.name()?))
            }
            b'(' => Ok(Object::String(self.literal_string()?)),
            b'<' => {
                if self.buf.get(self.pos + 1) == Some(&b'<') {
                    self.pos += 2;
                    self.dict_body(depth)
                } else if self.buf.get(self.pos + 1).is_none() {
                    Err(self.more("dictionary or string"))
                } else {
                    Ok(Object::String(self.hex_string()?))
                }
            }
            b'[' => {
                self.pos += 1;
                let mut items = Vec::new();
                loop {
                    self.skip_ws();
                    match self.peek() {
                        None => return Err(self.more("unterminated array")),
                        Some(b']') => {
                            self.pos += 1;
                            return Ok(Object::Array(items));
                        }
                        Some(_) => items.push(self.object(depth + 1)?),
                    }
                }
            }
            b'+' | b'-' | b'.' | b'0'..=b'9' => self.number_or_ref(),
            _ => {
                let start = self.pos;
                let w = self.word();
                if self.pos >= self.buf.len() && !self.at_eof {
                    return Err(Parse::NeedMore);
                }
                match w {
                    b"true" => Ok(Object::Bool(true)),
                    b"false" => Ok(Object::Bool(false)),
                    b"null" => Ok(Object::Null),
                    _ => Err(Parse::Syntax(start, "unknown token")),
                }
            }
        }
    }

    fn dict_body(&mut self, depth: usize) -> P<Object> {
        let mut d = Dict::default();
        loop {
            self.skip_ws();
            match self.peek() {
                None => return Err(self.more("unterminated dictionary")),
                Some(b'>') => {
                    if self.buf.get(self.pos + 1) == Some(&b'>') {
                        self.pos += 2;
                        break;
                    }
                    return Err(self.more("'>>' expected"));
                }
                Some(b'/') => {
                    self.pos += 1;
                    let k = self.name()?;
                    let v = self.object(depth + 1)?;
                    // A null value is the same as the key being absent (§7.3.7).
                    if v != Object::Null {
                        d.set(&k, v);
                    }
                }
                Some(_) => return Err(Parse::Syntax(self.pos, "name expected as key")),
            }
        }
        // A stream follows its dictionary with the keyword `stream` and one EOL.
        let save = self.pos;
        self.skip_ws_only();
        if self.buf.get(self.pos..self.pos + 6) == Some(b"stream") {
            self.pos += 6;
            match self.peek() {
                Some(b'\r') => {
                    self.pos += 1;
                    if self.peek() == Some(b'\n') {
                        self.pos += 1;
                    }
                }
                Some(b'\n') => self.pos += 1,
                None => return Err(self.more("stream EOL")),
                Some(_) => return Err(Parse::Syntax(self.pos, "EOL after 'stream' expected")),
            }
            return Ok(Object::Stream(d, self.pos as u64));
        }
        if self.pos + 6 > self.buf.len() && !self.at_eof {
            return Err(Parse::NeedMore);
        }
        self.pos = save;
        Ok(Object::Dict(d))
    }

    fn skip_ws_only(&mut self) {
        while self.peek().is_some_and(is_white) {
            self.pos += 1;
        }
    }

    fn name(&mut self) -> P<Vec<u8>> {
        let mut out = Vec::new();
        while let Some(b) = self.peek() {
            if is_white(b) || is_delim(b) {
                break;
            }
            if b == b'#' {
                let hex = self
                    .buf
                    .get(self.pos + 1..self.pos + 3)
                    .ok_or_else(|| self.more("name escape"))?;
                let v = std::str::from_utf8(hex)
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or(Parse::Syntax(self.pos, "bad #xx in name"))?;
                out.push(v);
                self.pos += 3;
            } else {
                out.push(b);
                self.pos += 1;
            }
        }
        if self.pos >= self.buf.len() && !self.at_eof {
            return Err(Parse::NeedMore);
        }
        Ok(out)
    }

    fn literal_string(&mut self) -> P<Vec<u8>> {
        self.pos += 1;
        let mut out = Vec::new();
        let mut level = 1usize;
        loop {
            let Some(b) = self.peek() else {
                return Err(self.more("unterminated string"));
            };
            self.pos += 1;
            match b {
                b'(' => {
                    level += 1;
                    out.push(b);
                }
                b')' => {
                    level -= 1;
                    if level == 0 {
                        return Ok(out);
                    }
                    out.push(b);
                }
                b'\\' => {
                    let Some(e) = self.peek() else {
                        return Err(self.more("string escape"));
                    };
                    self.pos += 1;
                    match e {
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'\r' => {
                            if self.peek() == Some(b'\n') {
                                self.pos += 1;
                            }
                        }
                        b'\n' => {}
                        b'0'..=b'7' => {
                            let mut v = u32::from(e - b'0');
                            for _ in 0..2 {
                                match self.peek() {
                                    Some(d @ b'0'..=b'7') => {
                                        v = v * 8 + u32::from(d - b'0');
                                        self.pos += 1;
                                    }
                                    _ => break,
                                }
                            }
                            out.push((v & 0xff) as u8);
                        }
                        other => out.push(other),
                    }
                }
                other => out.push(other),
            }
        }
    }

    fn hex_string(&mut self) -> P<Vec<u8>> {
        self.pos += 1;
        let mut out = Vec::new();
        let mut high: Option<u8> = None;
        loop {
            let Some(b) = self.peek() else {
                return Err(self.more("unterminated hex string"));
            };
            self.pos += 1;
            let v = match b {
                b'>' => break,
                b'0'..=b'9' => b - b'0',
                b'a'..=b'f' => b - b'a' + 10,
                b'A'..=b'F' => b - b'A' + 10,
                w if is_white(w) => continue,
                _ => return Err(Parse::Syntax(self.pos - 1, "bad hex digit")),
            };
            match high.take() {
                Some(h) => out.push(h << 4 | v),
                None => high = Some(v),
            }
        }
        if let Some(h) = high {
            out.push(h << 4);
        }
        Ok(out)
    }

    fn number_or_ref(&mut self) -> P<Object> {
        let start = self.pos;
        let first = self.word();
        if self.pos >= self.buf.len() && !self.at_eof {
            return Err(Parse::NeedMore);
        }
        let text = std::str::from_utf8(first).map_err(|_| Parse::Syntax(start, "number"))?;
        if !first.iter().all(u8::is_ascii_digit) {
            return text
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .map(Object::Real)
                .or_else(|| text.parse::<i64>().ok().map(Object::Int))
                .ok_or(Parse::Syntax(start, "number"));
        }
        let int: i64 = text.parse().map_err(|_| Parse::Syntax(start, "number"))?;
        // `num gen R`?
        let save = self.pos;
        let reference = (|| {
            self.skip_ws();
            let g = self.word();
            if g.is_empty() || !g.iter().all(u8::is_ascii_digit) || g.len() > 5 {
                return None;
            }
            let generation: u16 = std::str::from_utf8(g).ok()?.parse().ok()?;
            self.skip_ws();
            if self.peek() != Some(b'R') {
                return None;
            }
            let after = self.buf.get(self.pos + 1).copied();
            if after.is_some_and(|a| !is_white(a) && !is_delim(a)) {
                return None;
            }
            self.pos += 1;
            Some(generation)
        })();
        match reference {
            Some(generation) => {
                let num = u32::try_from(int).map_err(|_| Parse::Syntax(start, "object number"))?;
                Ok(Object::Ref(ObjRef { num, generation }))
            }
            None => {
                // Near the window's end the `gen R` could be cut off.
                if self.pos + 12 >= self.buf.len() && !self.at_eof {
                    return Err(Parse::NeedMore);
                }
                self.pos = save;
                Ok(Object::Int(int))
            }
        }
    }
}

// ---- writing ----

/// Serialise an object (streams are written by the caller: here only their dictionary).
pub fn write(obj: &Object, out: &mut Vec<u8>) {
    match obj {
        Object::Null => out.extend_from_slice(b"null"),
        Object::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Object::Int(i) => out.extend_from_slice(i.to_string().as_bytes()),
        Object::Real(r) => out.extend_from_slice(fmt_real(*r).as_bytes()),
        Object::String(s) => {
            out.push(b'<');
            out.extend_from_slice(hex::encode(s).as_bytes());
            out.push(b'>');
        }
        Object::Name(n) => write_name(n, out),
        Object::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                write(item, out);
            }
            out.push(b']');
        }
        Object::Dict(d) | Object::Stream(d, _) => write_dict(d, out),
        Object::Ref(r) => out.extend_from_slice(format!("{} {} R", r.num, r.generation).as_bytes()),
    }
}

pub fn write_dict(d: &Dict, out: &mut Vec<u8>) {
    out.extend_from_slice(b"<<");
    for (k, v) in &d.0 {
        write_name(k, out);
        out.push(b' ');
        write(v, out);
    }
    out.extend_from_slice(b">>");
}

fn write_name(n: &[u8], out: &mut Vec<u8>) {
    out.push(b'/');
    for &b in n {
        if b.is_ascii_graphic() && !is_delim(b) && b != b'#' {
            out.push(b);
        } else {
            let mut s = String::new();
            let _ = write!(s, "#{b:02X}");
            out.extend_from_slice(s.as_bytes());
        }
    }
}

/// A real without exponent (PDF has none), at most 4 decimals.
pub fn fmt_real(r: f64) -> String {
    let s = format!("{r:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() || s == "-" {
        "0".into()
    } else {
        s.into()
    }
}

/// A name object.
pub fn name(n: &str) -> Object {
    Object::Name(n.as_bytes().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &[u8]) -> P<Object> {
        Lexer::new(s, 0, true).object(0)
    }

    #[test]
    fn parses_the_basic_types_and_round_trips() {
        let src = b"<< /Type /Page /Kids [1 0 R 2 0 R] /N 3 /F -1.5 /S (a\\(b\\)c\\101) \
                    /H <48 49 5> /B true /Z null /Na /A#20B >>";
        let o = parse(src).expect("parses");
        let d = o.as_dict().expect("dict");
        assert_eq!(d.name(b"Type"), Some(&b"Page"[..]));
        assert_eq!(
            d.get(b"Kids"),
            Some(&Object::Array(vec![
                Object::Ref(ObjRef {
                    num: 1,
                    generation: 0
                }),
                Object::Ref(ObjRef {
                    num: 2,
                    generation: 0
                })
            ]))
        );
        assert_eq!(d.int(b"N"), Some(3));
        assert_eq!(d.get(b"F"), Some(&Object::Real(-1.5)));
        assert_eq!(d.get(b"S"), Some(&Object::String(b"a(b)cA".to_vec())));
        assert_eq!(d.get(b"H"), Some(&Object::String(b"HIP".to_vec())));
        assert_eq!(d.get(b"Z"), None, "null is absent");
        assert_eq!(d.name(b"Na"), Some(&b"A B"[..]));
        let mut out = Vec::new();
        write(&o, &mut out);
        assert_eq!(parse(&out).expect("re-parses"), o);
    }

    #[test]
    fn a_cut_window_asks_for_more_and_garbage_is_a_syntax_error() {
        let src = b"<< /Type /Page /Kids [1 0 R";
        assert_eq!(Lexer::new(src, 0, false).object(0), Err(Parse::NeedMore));
        assert!(matches!(
            Lexer::new(src, 0, true).object(0),
            Err(Parse::Syntax(..))
        ));
        assert!(matches!(parse(b"<< 1 2 >>"), Err(Parse::Syntax(..))));
        assert!(matches!(parse(b"<zz>"), Err(Parse::Syntax(..))));
        let deep = vec![b'['; 10_000];
        assert!(matches!(
            parse(&deep),
            Err(Parse::Syntax(_, "nesting too deep"))
        ));
    }

    #[test]
    fn a_stream_dictionary_reports_where_its_data_starts() {
        let src = b"<< /Length 3 >>\r\nstream\r\nabc\nendstream";
        let o = parse(src).expect("parses");
        assert!(matches!(o, Object::Stream(_, 25)));
    }
}
