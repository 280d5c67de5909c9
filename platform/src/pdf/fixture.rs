//! A small PDF generator for test fixtures and the demo: a bid document with Chinese text
//! on several pages. The text uses the standard CJK font `STSong-Light` with the
//! `UniGB-UCS2-H` CMap (Adobe-GB1), which every viewer substitutes from its own fonts, so
//! nothing is embedded. `compact` writes PDF 1.5 structures instead (page objects in an
//! object stream, a cross-reference stream with the PNG Up predictor) to exercise readers.

use super::filter::deflate;

/// A bid PDF of `pages` pages titled `title` (any Unicode).
pub fn bid_pdf(title: &str, pages: u32, compact: bool) -> Vec<u8> {
    let pages = pages.max(1);
    // Objects: 1 catalog, 2 pages, 3 font (Type0), 4 CIDFont, 5 Helvetica, 6 info,
    // then per page: page dict, content stream.
    let first_page = 7u32;
    let page_num = |i: u32| first_page + 2 * i;
    let kids: Vec<String> = (0..pages).map(|i| format!("{} 0 R", page_num(i))).collect();
    let mut objs: Vec<(u32, Vec<u8>)> = vec![
        (1, b"<</Type /Catalog /Pages 2 0 R>>".to_vec()),
        (
            2,
            format!("<</Type /Pages /Kids [{}] /Count {pages}>>", kids.join(" ")).into_bytes(),
        ),
        (
            3,
            b"<</Type /Font /Subtype /Type0 /BaseFont /STSong-Light /Encoding /UniGB-UCS2-H \
              /DescendantFonts [4 0 R]>>"
                .to_vec(),
        ),
        (
            4,
            b"<</Type /Font /Subtype /CIDFontType0 /BaseFont /STSong-Light \
              /CIDSystemInfo <</Registry (Adobe) /Ordering (GB1) /Supplement 2>> \
              /FontDescriptor <</Type /FontDescriptor /FontName /STSong-Light /Flags 6 \
              /FontBBox [-25 -254 1000 880] /ItalicAngle 0 /Ascent 880 /Descent -120 \
              /CapHeight 880 /StemV 93>> /DW 1000>>"
                .to_vec(),
        ),
        (
            5,
            b"<</Type /Font /Subtype /Type1 /BaseFont /Helvetica>>".to_vec(),
        ),
        (
            6,
            format!(
                "<</Title <{}> /Producer (Bidkey test fixture)>>",
                utf16_hex(title)
            )
            .into_bytes(),
        ),
    ];
    let mut streams: Vec<(u32, Vec<u8>)> = Vec::new();
    for i in 0..pages {
        let content = format!(
            "BT /F1 20 Tf 72 760 Td <{}> Tj ET\n\
             BT /F1 12 Tf 72 730 Td <{}> Tj ET\n\
             BT /F2 10 Tf 72 710 Td (Bidkey test bid, page {} of {pages}) Tj ET\n\
             0.2 0.2 0.6 RG 1 w 72 700 m 540 700 l S\n",
            utf16_hex(title),
            utf16_hex(&format!(
                "第 {} 页，共 {pages} 页。投标人承诺所填内容真实有效。",
                i + 1
            )),
            i + 1
        );
        objs.push((
            page_num(i),
            format!(
                "<</Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] \
                 /Resources <</Font <</F1 3 0 R /F2 5 0 R>>>> /Contents {} 0 R>>",
                page_num(i) + 1
            )
            .into_bytes(),
        ));
        streams.push((page_num(i) + 1, content.into_bytes()));
    }
    let size = first_page + 2 * pages;
    let mut out = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = vec![None; size as usize];
    for (num, body) in &streams {
        offsets[*num as usize] = Some(out.len());
        let data = deflate(body);
        out.extend_from_slice(
            format!(
                "{num} 0 obj\n<</Length {} /Filter /FlateDecode>>\nstream\n",
                data.len()
            )
            .as_bytes(),
        );
        out.extend_from_slice(&data);
        out.extend_from_slice(b"\nendstream\nendobj\n");
    }
    if !compact {
        for (num, body) in &objs {
            offsets[*num as usize] = Some(out.len());
            out.extend_from_slice(format!("{num} 0 obj\n").as_bytes());
            out.extend_from_slice(body);
            out.extend_from_slice(b"\nendobj\n");
        }
        let xref = out.len();
        out.extend_from_slice(format!("xref\n0 {size}\n0000000000 65535 f\r\n").as_bytes());
        for off in offsets.iter().skip(1) {
            let off = off.unwrap_or(0);
            out.extend_from_slice(format!("{off:010} 00000 n\r\n").as_bytes());
        }
        out.extend_from_slice(
            format!(
                "trailer\n<</Size {size} /Root 1 0 R /Info 6 0 R /ID [<{id}> <{id}>]>>\n\
                 startxref\n{xref}\n%%EOF\n",
                id = hex::encode([0x42u8; 16])
            )
            .as_bytes(),
        );
        return out;
    }
    // Compact: the dictionaries in object stream `size`, the xref stream `size + 1`.
    let stm = size;
    let mut header = String::new();
    let mut body = Vec::new();
    let mut in_stm = vec![None; size as usize];
    for (idx, (num, obj)) in objs.iter().enumerate() {
        header.push_str(&format!("{num} {} ", body.len()));
        body.extend_from_slice(obj);
        body.push(b'\n');
        in_stm[*num as usize] = Some(idx);
    }
    let first = header.len();
    let mut data = header.into_bytes();
    data.extend_from_slice(&body);
    let z = deflate(&data);
    let stm_off = out.len();
    out.extend_from_slice(
        format!(
            "{stm} 0 obj\n<</Type /ObjStm /N {} /First {first} /Length {} /Filter /FlateDecode>>\nstream\n",
            objs.len(),
            z.len()
        )
        .as_bytes(),
    );
    out.extend_from_slice(&z);
    out.extend_from_slice(b"\nendstream\nendobj\n");
    let xref_num = stm + 1;
    let xref_off = out.len();
    // Rows of W [1 4 2], each preceded by the PNG "Up" filter byte against the previous row.
    let mut rows: Vec<[u8; 7]> = Vec::new();
    for num in 0..=xref_num {
        let (t, f2, f3): (u8, u32, u16) = if num == 0 {
            (0, 0, 65535)
        } else if num == stm {
            (1, stm_off as u32, 0)
        } else if num == xref_num {
            (1, xref_off as u32, 0)
        } else if let Some(idx) = in_stm.get(num as usize).copied().flatten() {
            (2, stm, idx as u16)
        } else {
            (1, offsets[num as usize].unwrap_or(0) as u32, 0)
        };
        let mut r = [0u8; 7];
        r[0] = t;
        r[1..5].copy_from_slice(&f2.to_be_bytes());
        r[5..7].copy_from_slice(&f3.to_be_bytes());
        rows.push(r);
    }
    let mut raw = Vec::new();
    let mut prev = [0u8; 7];
    for r in &rows {
        raw.push(2);
        for k in 0..7 {
            raw.push(r[k].wrapping_sub(prev[k]));
        }
        prev = *r;
    }
    let z = deflate(&raw);
    out.extend_from_slice(
        format!(
            "{xref_num} 0 obj\n<</Type /XRef /Size {} /W [1 4 2] /Root 1 0 R /Info 6 0 R \
             /ID [<{id}> <{id}>] /Filter /FlateDecode \
             /DecodeParms <</Predictor 12 /Columns 7>> /Length {}>>\nstream\n",
            xref_num + 1,
            z.len(),
            id = hex::encode([0x43u8; 16])
        )
        .as_bytes(),
    );
    out.extend_from_slice(&z);
    out.extend_from_slice(
        format!("\nendstream\nendobj\nstartxref\n{xref_off}\n%%EOF\n").as_bytes(),
    );
    out
}

/// A hybrid-reference file (§7.5.8.4): the compact file with a cross-reference table whose
/// trailer names the xref stream in `/XRefStm`, as files made for both PDF 1.4 and 1.5
/// readers are.
pub fn hybrid_pdf(title: &str, pages: u32) -> Vec<u8> {
    let mut out = bid_pdf(title, pages, true);
    let text = String::from_utf8_lossy(&out);
    let stm_at: usize = text
        .rsplit("startxref\n")
        .next()
        .and_then(|t| t.lines().next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    let size = 2 * pages + 9;
    let x = out.len();
    out.extend_from_slice(
        format!(
            "xref\n0 1\n0000000000 65535 f\r\ntrailer\n<</Size {size} /Root 1 0 R /Info 6 0 R \
             /XRefStm {stm_at}>>\nstartxref\n{x}\n%%EOF\n"
        )
        .as_bytes(),
    );
    out
}

fn utf16_hex(s: &str) -> String {
    s.encode_utf16()
        .flat_map(u16::to_be_bytes)
        .map(|b| format!("{b:02X}"))
        .collect()
}

/// A seal picture: a red ring with a star-like cross on a transparent background, `side`
/// pixels square, PNG.
pub fn seal_png(side: u32) -> Vec<u8> {
    let side = side.clamp(16, 1024);
    let c = side as f64 / 2.0;
    let img = image::RgbaImage::from_fn(side, side, |x, y| {
        let (dx, dy) = (x as f64 + 0.5 - c, y as f64 + 0.5 - c);
        let r = (dx * dx + dy * dy).sqrt();
        let ring = r <= c * 0.95 && r >= c * 0.8;
        let centre = r <= c * 0.3;
        if ring || centre {
            image::Rgba([220, 20, 30, 255])
        } else {
            image::Rgba([0, 0, 0, 0])
        }
    });
    let mut png = Vec::new();
    // Encoding into a Vec cannot fail for a valid RGBA image.
    let _ = img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png);
    png
}
