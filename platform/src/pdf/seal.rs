//! Writing a sealed PDF as an incremental update (ISO 32000-1 §7.5.6, §12.8).
//!
//! Two steps so the signature can be made elsewhere (the phone co-signs the CMS signed
//! attributes): [`prepare`] copies the input to the output while hashing it, appends the
//! update (signature field and widget, the seal's appearance, the signature dictionary with a
//! zero-filled `/Contents`) and returns the ByteRange digest; [`finish`] writes the CMS into
//! the reserved `/Contents` in place (a seek on the output file). Memory stays constant in
//! the size of the input: only the objects the update rewrites are read.

use super::PdfProblem;
use super::file::PdfFile;
use super::filter::deflate;
use super::object::{self, Dict, ObjRef, Object, name};
use crate::error::{PlatformError, Result};
use bidkey_crypto::cms::tsp::{self, TsaSigner};
use bidkey_crypto::cms::{
    self, ContentTypes, HashAlgorithm, Hasher, SignedDataBuilder, SignerInfo,
};
use bidkey_crypto::x509::{Cert, TbsSigner};
use std::io::{Read, Seek, SeekFrom, Write};

/// Bytes reserved for the CMS when the caller does not say (certificates of a three-level
/// chain and a timestamp with its TSA certificate fit several times over).
pub const DEFAULT_CONTENTS_CAPACITY: usize = 16 << 10;
/// The largest reservation accepted.
pub const MAX_CONTENTS_CAPACITY: usize = 1 << 20;
/// The largest seal picture accepted, in pixels per side.
pub const MAX_IMAGE_SIDE: u32 = 4096;

/// Where the seal goes: a page (1-based) and a rectangle in PDF points from the page's
/// lower-left corner.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Placement {
    pub page: u32,
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
}

/// What to seal with.
#[derive(Debug, Clone)]
pub struct SealRequest<'a> {
    pub placement: Placement,
    /// The seal picture, PNG (transparency kept through a soft mask).
    pub seal_png: &'a [u8],
    /// SM3 for an SM2 signer, SHA-256 for P-256.
    pub digest: HashAlgorithm,
    /// The signer's claimed time for `/M`, Unix seconds (the timestamp proves it).
    pub signing_time: u64,
    /// Bytes reserved for the CMS.
    pub contents_capacity: usize,
    /// Field name; `None`: `Seal N`.
    pub field_name: Option<String>,
}

/// An update waiting for its CMS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    /// `[0, a, b, c]`: the signed bytes are `[0, a)` and `[b, b + c)`.
    pub byte_range: [u64; 4],
    pub digest_algorithm: HashAlgorithm,
    /// The digest of the ByteRange: the CMS messageDigest.
    pub digest: Vec<u8>,
    /// Offset of the `<` that opens `/Contents`.
    pub contents_offset: u64,
    pub contents_capacity: usize,
    /// Length of the whole output.
    pub len: u64,
}

/// Write `input` and an incremental update with a signature field for `req` to `output`;
/// return the digest to sign. `input` is read twice (structure, then the copy).
pub fn prepare<I: Read + Seek, O: Write>(
    input: I,
    output: &mut O,
    req: &SealRequest<'_>,
) -> Result<Prepared> {
    let cap = req.contents_capacity;
    if cap == 0 || cap > MAX_CONTENTS_CAPACITY {
        return Err(PlatformError::InvalidInput("contents capacity"));
    }
    let p = req.placement;
    if ![p.x, p.y, p.width, p.height].iter().all(|v| v.is_finite())
        || p.width <= 0.0
        || p.height <= 0.0
        || p.page == 0
    {
        return Err(PlatformError::InvalidInput("placement"));
    }
    let image = SealImage::from_png(req.seal_png)?;
    let mut pdf = PdfFile::open(input)?;
    let pages = pdf.pages()?;
    let page_ref = *pages
        .get(p.page as usize - 1)
        .ok_or(PlatformError::InvalidInput(
            "page number beyond the document",
        ))?;
    let mut page = pdf.dict(&Object::Ref(page_ref), None)?;
    let (root_ref, mut catalog) = pdf.catalog(None)?;
    let trailer = pdf.trailer().clone();
    let size = trailer
        .int(b"Size")
        .and_then(|s| u32::try_from(s).ok())
        .ok_or(PdfProblem::Structure("trailer /Size"))?;
    let mut next = size;
    let mut alloc = || {
        let r = ObjRef {
            num: next,
            generation: 0,
        };
        next += 1;
        r
    };
    let (sig_ref, field_ref, ap_ref, img_ref, mask_ref) =
        (alloc(), alloc(), alloc(), alloc(), alloc());

    // AcroForm: the existing one (direct or indirect) with our field added, /SigFlags 3.
    let (form_ref, mut form) = match catalog.get(b"AcroForm").cloned() {
        Some(Object::Ref(r)) => (Some(r), pdf.dict(&Object::Ref(r), None)?),
        Some(Object::Dict(d)) => (None, d),
        _ => (None, Dict::default()),
    };
    let mut fields = match form.get(b"Fields").cloned() {
        Some(o) => match pdf.resolve(&o, None)? {
            Object::Array(a) => a,
            Object::Null => Vec::new(),
            _ => return Err(PdfProblem::Structure("/Fields is not an array").into()),
        },
        None => Vec::new(),
    };
    let field_name = req
        .field_name
        .clone()
        .unwrap_or_else(|| format!("Seal {}", fields.len() + 1));
    fields.push(Object::Ref(field_ref));
    form.set(b"Fields", Object::Array(fields));
    form.set(b"SigFlags", Object::Int(3));
    let form_ref = form_ref.unwrap_or_else(alloc);
    catalog.set(b"AcroForm", Object::Ref(form_ref));

    let mut annots = match page.get(b"Annots").cloned() {
        Some(o) => match pdf.resolve(&o, None)? {
            Object::Array(a) => a,
            Object::Null => Vec::new(),
            _ => return Err(PdfProblem::Structure("/Annots is not an array").into()),
        },
        None => Vec::new(),
    };
    annots.push(Object::Ref(field_ref));
    page.set(b"Annots", Object::Array(annots));

    let prev = pdf.startxref;
    let input_len = pdf.len();
    let mut input = pdf.into_inner();

    // The update, with offsets relative to its own start.
    let mut u = Vec::new();
    let last = last_byte(&mut input, input_len)?;
    if last != Some(b'\n') && last != Some(b'\r') {
        u.push(b'\n');
    }
    let mut offsets: Vec<(u32, usize)> = Vec::new();

    // 1. The signature dictionary, with the ByteRange and Contents placeholders.
    offsets.push((sig_ref.num, u.len()));
    u.extend_from_slice(format!("{} 0 obj\n", sig_ref.num).as_bytes());
    u.extend_from_slice(
        b"<</Type /Sig /Filter /Adobe.PPKLite /SubFilter /adbe.pkcs7.detached /ByteRange ",
    );
    let br_at = u.len();
    u.extend_from_slice(BYTE_RANGE_PLACEHOLDER);
    u.extend_from_slice(b" /Contents ");
    let contents_at = u.len();
    u.push(b'<');
    u.resize(u.len() + 2 * cap, b'0');
    u.push(b'>');
    u.extend_from_slice(b" /M ");
    object::write(
        &Object::String(pdf_date(req.signing_time).into_bytes()),
        &mut u,
    );
    u.extend_from_slice(b">>\nendobj\n");

    // 2. Field and widget in one dictionary.
    let (x0, y0) = (p.x, p.y);
    let rect = Object::Array(
        [x0, y0, x0 + p.width, y0 + p.height]
            .iter()
            .map(|v| Object::Real(*v))
            .collect(),
    );
    let mut ap = Dict::default();
    ap.set(b"N", Object::Ref(ap_ref));
    let field = Dict(vec![
        (b"Type".to_vec(), name("Annot")),
        (b"Subtype".to_vec(), name("Widget")),
        (b"FT".to_vec(), name("Sig")),
        (b"T".to_vec(), Object::String(pdf_text(&field_name))),
        (b"V".to_vec(), Object::Ref(sig_ref)),
        (b"F".to_vec(), Object::Int(132)), // Print | Locked
        (b"Rect".to_vec(), rect),
        (b"P".to_vec(), Object::Ref(page_ref)),
        (b"AP".to_vec(), Object::Dict(ap)),
    ]);
    put(&mut u, &mut offsets, field_ref, &Object::Dict(field));

    // 3. The appearance: the seal picture scaled to the rectangle.
    let draw = format!(
        "q {} 0 0 {} 0 0 cm /Seal Do Q\n",
        object::fmt_real(p.width),
        object::fmt_real(p.height)
    );
    let mut xo = Dict::default();
    xo.set(b"Seal", Object::Ref(img_ref));
    let mut res = Dict::default();
    res.set(b"XObject", Object::Dict(xo));
    let form_xobject = Dict(vec![
        (b"Type".to_vec(), name("XObject")),
        (b"Subtype".to_vec(), name("Form")),
        (
            b"BBox".to_vec(),
            Object::Array(vec![
                Object::Int(0),
                Object::Int(0),
                Object::Real(p.width),
                Object::Real(p.height),
            ]),
        ),
        (b"Resources".to_vec(), Object::Dict(res)),
    ]);
    put_stream(
        &mut u,
        &mut offsets,
        ap_ref,
        form_xobject,
        draw.as_bytes(),
        false,
    );
    let img = image_dict(&image, "DeviceRGB", Some(mask_ref));
    put_stream(&mut u, &mut offsets, img_ref, img, &image.rgb, true);
    let mask = image_dict(&image, "DeviceGray", None);
    put_stream(&mut u, &mut offsets, mask_ref, mask, &image.alpha, true);

    // 4. Rewritten page, form and catalog.
    put(&mut u, &mut offsets, page_ref, &Object::Dict(page));
    put(&mut u, &mut offsets, form_ref, &Object::Dict(form));
    put(&mut u, &mut offsets, root_ref, &Object::Dict(catalog));

    // 5. The xref section and trailer.
    let xref_at = u.len();
    u.extend_from_slice(b"xref\n");
    offsets.sort_by_key(|(n, _)| *n);
    let base = input_len as usize;
    let mut i = 0;
    while i < offsets.len() {
        let mut j = i + 1;
        while j < offsets.len() && offsets[j].0 == offsets[j - 1].0 + 1 {
            j += 1;
        }
        u.extend_from_slice(format!("{} {}\n", offsets[i].0, j - i).as_bytes());
        for (num, off) in &offsets[i..j] {
            let generation = if *num == page_ref.num {
                page_ref.generation
            } else if *num == root_ref.num {
                root_ref.generation
            } else if *num == form_ref.num {
                form_ref.generation
            } else {
                0
            };
            u.extend_from_slice(format!("{:010} {:05} n\r\n", base + off, generation).as_bytes());
        }
        i = j;
    }
    let mut t = Dict::default();
    t.set(b"Size", Object::Int(i64::from(next)));
    t.set(b"Root", Object::Ref(root_ref));
    if let Some(info) = trailer.get(b"Info") {
        t.set(b"Info", info.clone());
    }
    if let Some(Object::Array(id)) = trailer.get(b"ID")
        && let [first, ..] = id.as_slice()
    {
        let mut h = Hasher::new(HashAlgorithm::Sha256);
        h.update(&input_len.to_be_bytes());
        h.update(&u);
        let new_id = h.finish()[..16].to_vec();
        t.set(
            b"ID",
            Object::Array(vec![first.clone(), Object::String(new_id)]),
        );
    }
    t.set(
        b"Prev",
        Object::Int(i64::try_from(prev).unwrap_or(i64::MAX)),
    );
    u.extend_from_slice(b"trailer\n");
    object::write_dict(&t, &mut u);
    u.extend_from_slice(format!("\nstartxref\n{}\n%%EOF\n", base + xref_at).as_bytes());

    // The ByteRange: everything but the `<...>` of /Contents.
    let a = input_len + contents_at as u64;
    let b = a + 2 + 2 * cap as u64;
    let total = input_len + u.len() as u64;
    let c = total - b;
    let br = format!("[0 {a} {b} {c}]");
    if br.len() > BYTE_RANGE_PLACEHOLDER.len() {
        return Err(PdfProblem::TooLarge("file for the ByteRange placeholder").into());
    }
    let mut br = br.into_bytes();
    br.resize(BYTE_RANGE_PLACEHOLDER.len(), b' ');
    u[br_at..br_at + br.len()].copy_from_slice(&br);

    // Copy the input while hashing, then the update.
    let mut h = Hasher::new(req.digest);
    input.seek(SeekFrom::Start(0))?;
    let mut buf = vec![0u8; 64 << 10];
    let mut left = input_len;
    while left > 0 {
        let n = usize::try_from(left.min(buf.len() as u64)).unwrap_or(buf.len());
        input.read_exact(&mut buf[..n])?;
        h.update(&buf[..n]);
        output.write_all(&buf[..n])?;
        left -= n as u64;
    }
    h.update(&u[..contents_at]);
    h.update(&u[contents_at + 2 + 2 * cap..]);
    output.write_all(&u)?;
    output.flush()?;
    Ok(Prepared {
        byte_range: [0, a, b, c],
        digest_algorithm: req.digest,
        digest: h.finish(),
        contents_offset: a,
        contents_capacity: cap,
        len: total,
    })
}

/// Room for four ten-digit numbers.
const BYTE_RANGE_PLACEHOLDER: &[u8] = b"[0 0000000000 0000000000 0000000000]";

/// Write the CMS (DER) into the reserved `/Contents` of a prepared file.
pub fn finish<O: Write + Seek>(output: &mut O, prepared: &Prepared, cms_der: &[u8]) -> Result<()> {
    let hex = contents_hex(prepared, cms_der)?;
    output.seek(SeekFrom::Start(prepared.contents_offset + 1))?;
    output.write_all(&hex)?;
    output.flush()?;
    Ok(())
}

fn contents_hex(prepared: &Prepared, cms_der: &[u8]) -> Result<Vec<u8>> {
    if cms_der.len() > prepared.contents_capacity {
        return Err(PdfProblem::TooLarge("CMS for the reserved /Contents").into());
    }
    Ok(hex::encode_upper(cms_der).into_bytes())
}

/// A signer with its key here (tests, a platform's own seal): build the CMS over the
/// prepared digest, timestamp it with `tsa` at `tsa_time` when given, and finish.
/// Returns the CMS written.
#[allow(clippy::too_many_arguments)]
pub fn sign_prepared<O: Write + Seek>(
    output: &mut O,
    prepared: &Prepared,
    key: &dyn TbsSigner,
    cert: &Cert,
    chain: &[Cert],
    types: ContentTypes,
    signing_time: u64,
    tsa: Option<(&TsaSigner<'_>, u64)>,
) -> Result<Vec<u8>> {
    let mut info = SignerInfo::sign(
        key,
        cert,
        types,
        types.data(),
        &prepared.digest,
        Some(signing_time),
    )?;
    if let Some((tsa, at)) = tsa {
        let req = info.timestamp_request(prepared.digest_algorithm)?;
        let token = tsp::issue_token(&req, &at.to_be_bytes(), at, tsa)?;
        let mut extra = vec![tsa.cert.clone()];
        extra.extend(tsa.chain.iter().cloned());
        info.add_timestamp_token(&token, &extra)?;
    }
    let der = SignedDataBuilder::new(types, types.data())
        .signer(info)
        .certificates(std::iter::once(cert).chain(chain))
        .build()?;
    cms::verify_signed_data(
        &der,
        cms::Content::DetachedDigest {
            algorithm: prepared.digest_algorithm,
            digest: &prepared.digest,
        },
        &[],
    )?;
    finish(output, prepared, &der)?;
    Ok(der)
}

fn last_byte<I: Read + Seek>(input: &mut I, len: u64) -> Result<Option<u8>> {
    if len == 0 {
        return Ok(None);
    }
    input.seek(SeekFrom::Start(len - 1))?;
    let mut b = [0u8];
    input.read_exact(&mut b)?;
    Ok(Some(b[0]))
}

fn put(u: &mut Vec<u8>, offsets: &mut Vec<(u32, usize)>, r: ObjRef, o: &Object) {
    offsets.push((r.num, u.len()));
    u.extend_from_slice(format!("{} {} obj\n", r.num, r.generation).as_bytes());
    object::write(o, u);
    u.extend_from_slice(b"\nendobj\n");
}

fn put_stream(
    u: &mut Vec<u8>,
    offsets: &mut Vec<(u32, usize)>,
    r: ObjRef,
    mut d: Dict,
    data: &[u8],
    compress: bool,
) {
    let body = if compress {
        d.set(b"Filter", name("FlateDecode"));
        deflate(data)
    } else {
        data.to_vec()
    };
    d.set(b"Length", Object::Int(body.len() as i64));
    offsets.push((r.num, u.len()));
    u.extend_from_slice(format!("{} {} obj\n", r.num, r.generation).as_bytes());
    object::write_dict(&d, u);
    u.extend_from_slice(b"\nstream\n");
    u.extend_from_slice(&body);
    u.extend_from_slice(b"\nendstream\nendobj\n");
}

struct SealImage {
    width: u32,
    height: u32,
    rgb: Vec<u8>,
    alpha: Vec<u8>,
}

impl SealImage {
    fn from_png(png: &[u8]) -> Result<Self> {
        let img = image::load_from_memory_with_format(png, image::ImageFormat::Png)
            .map_err(|_| PlatformError::InvalidInput("seal image (PNG expected)"))?;
        let (width, height) = (img.width(), img.height());
        if width == 0 || height == 0 || width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE {
            return Err(PlatformError::InvalidInput("seal image size"));
        }
        let rgba = img.to_rgba8();
        let mut rgb = Vec::with_capacity(rgba.len() / 4 * 3);
        let mut alpha = Vec::with_capacity(rgba.len() / 4);
        for px in rgba.pixels() {
            rgb.extend_from_slice(&px.0[..3]);
            alpha.push(px.0[3]);
        }
        Ok(Self {
            width,
            height,
            rgb,
            alpha,
        })
    }
}

fn image_dict(img: &SealImage, colour_space: &str, mask: Option<ObjRef>) -> Dict {
    let mut d = Dict(vec![
        (b"Type".to_vec(), name("XObject")),
        (b"Subtype".to_vec(), name("Image")),
        (b"Width".to_vec(), Object::Int(i64::from(img.width))),
        (b"Height".to_vec(), Object::Int(i64::from(img.height))),
        (b"ColorSpace".to_vec(), name(colour_space)),
        (b"BitsPerComponent".to_vec(), Object::Int(8)),
    ]);
    if let Some(m) = mask {
        d.set(b"SMask", Object::Ref(m));
    }
    d
}

/// `D:YYYYMMDDHHmmSS+00'00'` (§7.9.4), UTC.
pub fn pdf_date(unix: u64) -> String {
    let days = unix / 86_400;
    let secs = unix % 86_400;
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "D:{y:04}{m:02}{d:02}{:02}{:02}{:02}+00'00'",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Days since 1970-01-01 to (year, month, day) (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// A text string: PDFDocEncoding when ASCII, else UTF-16BE with a BOM (§7.9.2.2).
pub fn pdf_text(s: &str) -> Vec<u8> {
    if s.is_ascii() {
        return s.as_bytes().to_vec();
    }
    let mut out = vec![0xfe, 0xff];
    for u in s.encode_utf16() {
        out.extend_from_slice(&u.to_be_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_pdf_dates() {
        assert_eq!(pdf_date(0), "D:19700101000000+00'00'");
        assert_eq!(pdf_date(1_767_225_600), "D:20260101000000+00'00'");
        assert_eq!(pdf_date(951_782_400 + 3661), "D:20000229010101+00'00'");
    }
}
