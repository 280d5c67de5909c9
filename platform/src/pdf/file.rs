//! Reading a PDF through its cross-reference data, in bounded memory: the xref chain (tables,
//! xref streams, hybrid files), object streams, the page tree. Only the objects asked for are
//! read, each through a window of the file that grows up to [`MAX_OBJECT`].

use super::PdfProblem;
use super::filter;
use super::object::{Dict, Lexer, ObjRef, Object, Parse};
use std::collections::{HashMap, HashSet};
use std::io::{Read, Seek, SeekFrom};

/// Largest object (dictionary or stream data) read into memory.
pub const MAX_OBJECT: usize = 32 << 20;
/// Most xref sections (revisions) followed.
pub const MAX_SECTIONS: usize = 20_000;
/// Most pages walked.
pub const MAX_PAGES: usize = 100_000;

type R<T> = Result<T, PdfProblem>;

/// Where an object lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    /// At a byte offset.
    Offset(u64, u16),
    /// Inside an object stream: its number and the index in it.
    Compressed(u32, u32),
    Free,
}

/// One cross-reference section: one revision of the file.
#[derive(Debug, Clone)]
pub struct Section {
    /// Offset of the section (`xref` keyword or the xref stream object).
    pub offset: u64,
    pub entries: HashMap<u32, Entry>,
    pub trailer: Dict,
}

/// A decoded object stream: its data and (object number, offset) per index.
type ObjStm = (Vec<u8>, Vec<(u32, usize)>);

/// A PDF opened for reading.
#[derive(Debug)]
pub struct PdfFile<F> {
    src: F,
    len: u64,
    /// Newest first.
    pub sections: Vec<Section>,
    /// The offset `startxref` names.
    pub startxref: u64,
    objstm_cache: HashMap<u32, ObjStm>,
}

fn syntax(offset: u64, what: &'static str) -> PdfProblem {
    PdfProblem::Syntax { offset, what }
}

impl<F: Read + Seek> PdfFile<F> {
    /// Open: header, `startxref`, the chain of xref sections. Encrypted files are refused.
    pub fn open(mut src: F) -> R<Self> {
        let len = src.seek(SeekFrom::End(0))?;
        let mut this = Self {
            src,
            len,
            sections: Vec::new(),
            startxref: 0,
            objstm_cache: HashMap::new(),
        };
        let head = this.read_at(0, 1024)?;
        if !head.windows(5).any(|w| w == b"%PDF-") {
            return Err(PdfProblem::NotPdf);
        }
        let tail_len = len.min(2048);
        let tail = this.read_at(len - tail_len, tail_len as usize)?;
        let pos = tail
            .windows(9)
            .rposition(|w| w == b"startxref")
            .ok_or(PdfProblem::Truncated("no startxref"))?;
        let mut lx = Lexer::new(&tail, pos + 9, true);
        let start = lx
            .uint()
            .map_err(|_| PdfProblem::Truncated("no offset after startxref"))?;
        this.startxref = start;
        this.load_sections(start)?;
        if this.trailer().get(b"Encrypt").is_some() {
            return Err(PdfProblem::Encrypted);
        }
        Ok(this)
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The newest trailer.
    pub fn trailer(&self) -> &Dict {
        // `open` fails unless at least one section was read.
        &self.sections[0].trailer
    }

    pub fn into_inner(self) -> F {
        self.src
    }

    /// Read `n` bytes at `offset` (fewer at the end of the file).
    pub fn read_at(&mut self, offset: u64, n: usize) -> R<Vec<u8>> {
        if offset > self.len {
            return Err(syntax(offset, "offset beyond the end of the file"));
        }
        let n = n.min(usize::try_from(self.len - offset).unwrap_or(usize::MAX));
        self.src.seek(SeekFrom::Start(offset))?;
        let mut buf = vec![0; n];
        self.src.read_exact(&mut buf)?;
        Ok(buf)
    }

    /// Stream `len` bytes at `offset` through `f`, 64 KiB at a time.
    pub fn for_range(&mut self, offset: u64, len: u64, mut f: impl FnMut(&[u8])) -> R<()> {
        if offset.checked_add(len).is_none_or(|end| end > self.len) {
            return Err(PdfProblem::Truncated("range beyond the end of the file"));
        }
        self.src.seek(SeekFrom::Start(offset))?;
        let mut buf = vec![0; 64 << 10];
        let mut left = len;
        while left > 0 {
            let n = usize::try_from(left.min(buf.len() as u64)).unwrap_or(buf.len());
            self.src.read_exact(&mut buf[..n])?;
            f(&buf[..n]);
            left -= n as u64;
        }
        Ok(())
    }

    /// Parse with `f` over a window at `offset`, growing the window while `f` needs more.
    fn parse_at<T>(
        &mut self,
        offset: u64,
        mut f: impl FnMut(&mut Lexer<'_>) -> Result<T, Parse>,
    ) -> R<T> {
        let mut size = 4096usize;
        loop {
            let buf = self.read_at(offset, size)?;
            let at_eof = offset + buf.len() as u64 >= self.len;
            let mut lx = Lexer::new(&buf, 0, at_eof);
            match f(&mut lx) {
                Ok(v) => return Ok(v),
                Err(Parse::Syntax(at, what)) => return Err(syntax(offset + at as u64, what)),
                Err(Parse::NeedMore) if at_eof => {
                    return Err(PdfProblem::Truncated(
                        "object runs past the end of the file",
                    ));
                }
                Err(Parse::NeedMore) if size >= MAX_OBJECT => {
                    return Err(PdfProblem::TooLarge("object"));
                }
                Err(Parse::NeedMore) => size = (size * 4).min(MAX_OBJECT),
            }
        }
    }

    fn load_sections(&mut self, start: u64) -> R<()> {
        let mut next = Some(start);
        let mut seen = HashSet::new();
        while let Some(off) = next {
            if !seen.insert(off) {
                return Err(syntax(off, "xref /Prev chain loops"));
            }
            if self.sections.len() >= MAX_SECTIONS {
                return Err(PdfProblem::TooMany("revisions"));
            }
            let section = self.load_section(off)?;
            next = match section.trailer.get(b"Prev") {
                None => None,
                Some(Object::Int(p)) if *p >= 0 => Some(*p as u64),
                Some(_) => return Err(syntax(off, "bad /Prev")),
            };
            self.sections.push(section);
        }
        Ok(())
    }

    fn load_section(&mut self, off: u64) -> R<Section> {
        let probe = self.read_at(off, 4)?;
        if probe == b"xref" {
            let (mut entries, trailer) = self.parse_at(off, |lx| {
                lx.keyword(b"xref")?;
                let mut entries = HashMap::new();
                loop {
                    lx.skip_ws();
                    let save = lx.pos;
                    if lx.keyword(b"trailer").is_ok() {
                        break;
                    }
                    lx.pos = save;
                    let first = lx.uint()?;
                    let count = lx.uint()?;
                    if first.saturating_add(count) > u64::from(u32::MAX) {
                        return Err(Parse::Syntax(save, "xref subsection out of range"));
                    }
                    for i in 0..count {
                        let o = lx.uint()?;
                        let g = lx.uint()?;
                        lx.skip_ws();
                        let kind = lx.word();
                        let num = (first + i) as u32;
                        let e = match kind {
                            b"n" => Entry::Offset(o, u16::try_from(g).unwrap_or(u16::MAX)),
                            b"f" => Entry::Free,
                            [] => return Err(Parse::NeedMore),
                            _ => return Err(Parse::Syntax(lx.pos, "xref entry type")),
                        };
                        entries.entry(num).or_insert(e);
                    }
                }
                let trailer = match lx.object(0)? {
                    Object::Dict(d) => d,
                    _ => return Err(Parse::Syntax(lx.pos, "trailer dictionary expected")),
                };
                Ok((entries, trailer))
            })?;
            // Hybrid file: a table plus an xref stream for objects only 1.5 readers see.
            if let Some(Object::Int(x)) = trailer.get(b"XRefStm")
                && *x >= 0
            {
                let (more, _) = self.load_xref_stream(*x as u64)?;
                for (k, v) in more {
                    entries.entry(k).or_insert(v);
                }
            }
            Ok(Section {
                offset: off,
                entries,
                trailer,
            })
        } else {
            let (entries, trailer) = self.load_xref_stream(off)?;
            Ok(Section {
                offset: off,
                entries,
                trailer,
            })
        }
    }

    fn load_xref_stream(&mut self, off: u64) -> R<(HashMap<u32, Entry>, Dict)> {
        let (_, obj) = self.object_at(off)?;
        let Object::Stream(dict, data_off) = obj else {
            return Err(syntax(off, "xref table or stream expected"));
        };
        if dict.name(b"Type") != Some(b"XRef") {
            return Err(syntax(off, "xref stream without /Type /XRef"));
        }
        let data = self.stream_data(&dict, data_off)?;
        let w: Vec<usize> = match dict.get(b"W") {
            Some(Object::Array(a)) if a.len() == 3 => a
                .iter()
                .map(|x| match x {
                    Object::Int(i) if (0..=8).contains(i) => Ok(*i as usize),
                    _ => Err(syntax(off, "bad /W")),
                })
                .collect::<R<_>>()?,
            _ => return Err(syntax(off, "bad /W")),
        };
        let size = dict.int(b"Size").ok_or(syntax(off, "xref stream /Size"))?;
        let index: Vec<i64> = match dict.get(b"Index") {
            Some(Object::Array(a)) => a
                .iter()
                .map(|x| x.as_int().ok_or(syntax(off, "bad /Index")))
                .collect::<R<_>>()?,
            _ => vec![0, size],
        };
        if index.len() % 2 != 0 {
            return Err(syntax(off, "bad /Index"));
        }
        let row = w[0] + w[1] + w[2];
        if row == 0 {
            return Err(syntax(off, "bad /W"));
        }
        let mut rows = data.chunks_exact(row);
        let mut entries = HashMap::new();
        for pair in index.chunks_exact(2) {
            let (first, count) = (pair[0], pair[1]);
            if first < 0 || count < 0 || first.saturating_add(count) > i64::from(u32::MAX) {
                return Err(syntax(off, "bad /Index"));
            }
            for i in 0..count {
                let Some(r) = rows.next() else {
                    return Err(syntax(off, "xref stream shorter than its /Index"));
                };
                let field = |k: usize| -> u64 {
                    let s = w[..k].iter().sum::<usize>();
                    r[s..s + w[k]]
                        .iter()
                        .fold(0u64, |acc, b| acc << 8 | u64::from(*b))
                };
                let kind = if w[0] == 0 { 1 } else { field(0) };
                let num = (first + i) as u32;
                let e = match kind {
                    0 => Entry::Free,
                    1 => Entry::Offset(field(1), u16::try_from(field(2)).unwrap_or(0)),
                    2 => Entry::Compressed(
                        u32::try_from(field(1)).map_err(|_| syntax(off, "xref entry"))?,
                        u32::try_from(field(2)).map_err(|_| syntax(off, "xref entry"))?,
                    ),
                    // Unknown types are to be treated as null references (§7.5.8.3).
                    _ => Entry::Free,
                };
                entries.entry(num).or_insert(e);
            }
        }
        Ok((entries, dict))
    }

    /// The object `num gen obj ... ` at `offset`.
    pub fn object_at(&mut self, offset: u64) -> R<(ObjRef, Object)> {
        self.parse_at(offset, |lx| {
            let r = lx.obj_header()?;
            let o = lx.object(0)?;
            let o = match o {
                Object::Stream(d, data) => Object::Stream(d, offset + data),
                o => o,
            };
            Ok((r, o))
        })
    }

    /// A stream's raw (still encoded) bytes.
    pub fn raw_stream(&mut self, dict: &Dict, data_off: u64) -> R<Vec<u8>> {
        let len = match dict.get(b"Length") {
            Some(Object::Int(n)) if *n >= 0 => *n as u64,
            Some(Object::Ref(r)) => match self.resolve_ref(*r, None)? {
                Object::Int(n) if n >= 0 => n as u64,
                _ => return Err(syntax(data_off, "bad stream /Length")),
            },
            _ => return Err(syntax(data_off, "bad stream /Length")),
        };
        if len > MAX_OBJECT as u64 {
            return Err(PdfProblem::TooLarge("stream"));
        }
        if data_off.saturating_add(len) > self.len {
            return Err(PdfProblem::Truncated(
                "stream runs past the end of the file",
            ));
        }
        self.read_at(data_off, len as usize)
    }

    /// A stream's decoded bytes (FlateDecode with predictors, or none).
    pub fn stream_data(&mut self, dict: &Dict, data_off: u64) -> R<Vec<u8>> {
        let raw = self.raw_stream(dict, data_off)?;
        filter::decode(dict, raw)
    }

    /// The entry of `num` as of the revisions before `cutoff` (all when `None`).
    pub fn entry(&self, num: u32, cutoff: Option<u64>) -> Option<Entry> {
        self.sections
            .iter()
            .filter(|s| cutoff.is_none_or(|c| s.offset < c))
            .find_map(|s| s.entries.get(&num).copied())
    }

    /// Resolve a reference (as of `cutoff`); a missing or free object is `null` (§7.3.10).
    pub fn resolve_ref(&mut self, r: ObjRef, cutoff: Option<u64>) -> R<Object> {
        match self.entry(r.num, cutoff) {
            None | Some(Entry::Free) => Ok(Object::Null),
            Some(Entry::Offset(off, _)) => {
                let (got, obj) = self.object_at(off)?;
                if got.num != r.num {
                    return Err(syntax(off, "xref points at another object"));
                }
                Ok(obj)
            }
            Some(Entry::Compressed(stm, idx)) => self.in_objstm(stm, idx, r.num, cutoff),
        }
    }

    /// `obj` itself, or what it refers to.
    pub fn resolve(&mut self, obj: &Object, cutoff: Option<u64>) -> R<Object> {
        match obj {
            Object::Ref(r) => self.resolve_ref(*r, cutoff),
            o => Ok(o.clone()),
        }
    }

    /// A dictionary (or a stream's dictionary) behind `obj`.
    pub fn dict(&mut self, obj: &Object, cutoff: Option<u64>) -> R<Dict> {
        self.resolve(obj, cutoff)?
            .as_dict()
            .cloned()
            .ok_or(PdfProblem::Structure("dictionary expected"))
    }

    fn in_objstm(&mut self, stm: u32, idx: u32, num: u32, cutoff: Option<u64>) -> R<Object> {
        if !self.objstm_cache.contains_key(&stm) {
            let off = match self.entry(stm, cutoff) {
                Some(Entry::Offset(off, _)) => off,
                _ => return Err(PdfProblem::Structure("object stream not found")),
            };
            let (_, obj) = self.object_at(off)?;
            let Object::Stream(dict, data_off) = obj else {
                return Err(syntax(off, "object stream expected"));
            };
            if dict.name(b"Type") != Some(b"ObjStm") {
                return Err(syntax(off, "object stream without /Type /ObjStm"));
            }
            let n = dict.int(b"N").filter(|n| (0..=1_000_000).contains(n));
            let first = dict.int(b"First").filter(|f| *f >= 0);
            let (Some(n), Some(first)) = (n, first) else {
                return Err(syntax(off, "object stream /N or /First"));
            };
            let data = self.stream_data(&dict, data_off)?;
            let mut lx = Lexer::new(&data, 0, true);
            let mut index = Vec::with_capacity(n as usize);
            for _ in 0..n {
                let on = lx.uint().map_err(|_| syntax(off, "object stream header"))?;
                let oo = lx.uint().map_err(|_| syntax(off, "object stream header"))?;
                let at = (first as u64).saturating_add(oo);
                index.push((
                    u32::try_from(on).map_err(|_| syntax(off, "object stream header"))?,
                    usize::try_from(at).unwrap_or(usize::MAX),
                ));
            }
            if self.objstm_cache.len() > 64 {
                self.objstm_cache.clear();
            }
            self.objstm_cache.insert(stm, (data, index));
        }
        let (data, index) = &self.objstm_cache[&stm];
        let (got, at) = *index
            .get(idx as usize)
            .ok_or(PdfProblem::Structure("object stream index out of range"))?;
        if got != num {
            return Err(PdfProblem::Structure("object stream holds another object"));
        }
        let mut lx = Lexer::new(data, at.min(data.len()), true);
        match lx.object(0) {
            Ok(Object::Stream(..)) => Err(PdfProblem::Structure("stream inside an object stream")),
            Ok(o) => Ok(o),
            Err(_) => Err(PdfProblem::Structure("bad object in an object stream")),
        }
    }

    /// The document catalog's reference and dictionary.
    pub fn catalog(&mut self, cutoff: Option<u64>) -> R<(ObjRef, Dict)> {
        let root = self
            .trailer_as_of(cutoff)
            .get(b"Root")
            .and_then(Object::as_ref)
            .ok_or(PdfProblem::Structure("trailer without /Root"))?;
        let d = self.dict(&Object::Ref(root), cutoff)?;
        Ok((root, d))
    }

    /// The trailer of the newest revision before `cutoff`.
    pub fn trailer_as_of(&self, cutoff: Option<u64>) -> Dict {
        self.sections
            .iter()
            .find(|s| cutoff.is_none_or(|c| s.offset < c))
            .map(|s| s.trailer.clone())
            .unwrap_or_default()
    }

    /// Every page's reference, in order.
    pub fn pages(&mut self) -> R<Vec<ObjRef>> {
        let (_, cat) = self.catalog(None)?;
        let root = cat
            .get(b"Pages")
            .and_then(Object::as_ref)
            .ok_or(PdfProblem::Structure("catalog without /Pages"))?;
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        self.walk_pages(root, 0, &mut seen, &mut out)?;
        Ok(out)
    }

    fn walk_pages(
        &mut self,
        node: ObjRef,
        depth: usize,
        seen: &mut HashSet<ObjRef>,
        out: &mut Vec<ObjRef>,
    ) -> R<()> {
        if depth > 64 || !seen.insert(node) {
            return Err(PdfProblem::Structure("page tree loops or is too deep"));
        }
        if out.len() >= MAX_PAGES {
            return Err(PdfProblem::TooMany("pages"));
        }
        let d = self.dict(&Object::Ref(node), None)?;
        match d.name(b"Type") {
            Some(b"Page") => out.push(node),
            _ => {
                let kids = match self.resolve(d.get(b"Kids").unwrap_or(&Object::Null), None)? {
                    Object::Array(k) => k,
                    _ => return Err(PdfProblem::Structure("page tree node without /Kids")),
                };
                for k in kids {
                    let r = k
                        .as_ref()
                        .ok_or(PdfProblem::Structure("page tree kid is not a reference"))?;
                    self.walk_pages(r, depth + 1, seen, out)?;
                }
            }
        }
        Ok(())
    }
}
