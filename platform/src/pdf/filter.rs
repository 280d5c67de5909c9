//! Stream filters: FlateDecode (with the PNG and TIFF predictors xref streams use) and no
//! filter. Output is capped at [`super::file::MAX_OBJECT`] so a deflate bomb is an error.

use super::PdfProblem;
use super::file::MAX_OBJECT;
use super::object::{Dict, Object};
use std::io::Read;

pub fn decode(dict: &Dict, raw: Vec<u8>) -> Result<Vec<u8>, PdfProblem> {
    let filters: Vec<Vec<u8>> = match dict.get(b"Filter") {
        None => Vec::new(),
        Some(Object::Name(n)) => vec![n.clone()],
        Some(Object::Array(a)) => a
            .iter()
            .map(|f| match f {
                Object::Name(n) => Ok(n.clone()),
                _ => Err(PdfProblem::Structure("bad /Filter")),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(PdfProblem::Structure("bad /Filter")),
    };
    let parms = match dict.get(b"DecodeParms") {
        Some(Object::Dict(d)) => Some(d.clone()),
        Some(Object::Array(a)) => a.first().and_then(Object::as_dict).cloned(),
        _ => None,
    };
    let mut data = raw;
    for f in &filters {
        data = match f.as_slice() {
            b"FlateDecode" | b"Fl" => predict(inflate(&data)?, parms.as_ref())?,
            _ => {
                return Err(PdfProblem::Unsupported(
                    "stream filter other than FlateDecode",
                ));
            }
        };
    }
    Ok(data)
}

fn inflate(data: &[u8]) -> Result<Vec<u8>, PdfProblem> {
    let mut out = Vec::new();
    flate2::read::ZlibDecoder::new(data)
        .take(MAX_OBJECT as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|_| PdfProblem::Structure("corrupt FlateDecode stream"))?;
    if out.len() > MAX_OBJECT {
        return Err(PdfProblem::TooLarge("decoded stream"));
    }
    Ok(out)
}

/// Undo a /Predictor (§7.4.4.4): 1 none, 2 TIFF (8-bit only), 10..15 PNG per row.
fn predict(data: Vec<u8>, parms: Option<&Dict>) -> Result<Vec<u8>, PdfProblem> {
    let Some(p) = parms else { return Ok(data) };
    let predictor = p.int(b"Predictor").unwrap_or(1);
    let colors = p.int(b"Colors").unwrap_or(1);
    let bpc = p.int(b"BitsPerComponent").unwrap_or(8);
    let columns = p.int(b"Columns").unwrap_or(1);
    if !(1..=32).contains(&colors)
        || ![1, 2, 4, 8, 16].contains(&bpc)
        || !(1..=1 << 20).contains(&columns)
    {
        return Err(PdfProblem::Structure("bad /DecodeParms"));
    }
    let bpp = ((colors * bpc + 7) / 8) as usize;
    let row = ((colors * bpc * columns + 7) / 8) as usize;
    match predictor {
        1 => Ok(data),
        2 if bpc == 8 => {
            let mut out = data;
            for line in out.chunks_mut(row) {
                for i in bpp..line.len() {
                    line[i] = line[i].wrapping_add(line[i - bpp]);
                }
            }
            Ok(out)
        }
        10..=15 => {
            let mut out = Vec::with_capacity(data.len());
            let mut prev = vec![0u8; row];
            for chunk in data.chunks(row + 1) {
                let (&kind, line) = chunk
                    .split_first()
                    .ok_or(PdfProblem::Structure("bad PNG predictor row"))?;
                let mut cur = line.to_vec();
                cur.resize(row, 0);
                for i in 0..row {
                    let a = if i >= bpp { cur[i - bpp] } else { 0 };
                    let b = prev[i];
                    let c = if i >= bpp { prev[i - bpp] } else { 0 };
                    cur[i] = cur[i].wrapping_add(match kind {
                        0 => 0,
                        1 => a,
                        2 => b,
                        3 => ((u16::from(a) + u16::from(b)) / 2) as u8,
                        4 => paeth(a, b, c),
                        _ => return Err(PdfProblem::Structure("bad PNG predictor type")),
                    });
                }
                out.extend_from_slice(&cur[..line.len().min(row)]);
                prev = cur;
            }
            Ok(out)
        }
        _ => Err(PdfProblem::Unsupported("stream predictor")),
    }
}

fn paeth(a: u8, b: u8, c: u8) -> u8 {
    let p = i16::from(a) + i16::from(b) - i16::from(c);
    let (pa, pb, pc) = (
        (p - i16::from(a)).abs(),
        (p - i16::from(b)).abs(),
        (p - i16::from(c)).abs(),
    );
    if pa <= pb && pa <= pc {
        a
    } else if pb <= pc {
        b
    } else {
        c
    }
}

/// Deflate (for the streams the writer makes).
pub fn deflate(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing to a Vec cannot fail.
    let _ = enc.write_all(data);
    enc.finish().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pdf::object::name;

    #[test]
    fn png_up_predictor_round_trip() {
        // Two rows of 3 bytes, filter type 2 (Up).
        let rows = [0u8, 1, 2, 3, 2, 1, 1, 1];
        let mut d = Dict::default();
        d.set(b"Filter", name("FlateDecode"));
        let mut p = Dict::default();
        p.set(b"Predictor", Object::Int(12));
        p.set(b"Columns", Object::Int(3));
        d.set(b"DecodeParms", Object::Dict(p));
        let out = decode(&d, deflate(&rows)).expect("decodes");
        assert_eq!(out, vec![1, 2, 3, 2, 3, 4]);
    }

    #[test]
    fn a_deflate_bomb_is_refused() {
        let big = vec![0u8; MAX_OBJECT + 10];
        let mut d = Dict::default();
        d.set(b"Filter", name("FlateDecode"));
        assert!(matches!(
            decode(&d, deflate(&big)),
            Err(PdfProblem::TooLarge(_))
        ));
    }
}
