//! A seal position as the phone shows it (millimetres from the page's left and top edges,
//! `SealPlacement`) turned into the rectangle the PDF writer wants (points from the page's
//! lower-left corner), with the page's own MediaBox. Pure: reads the PDF, writes nothing.

use bidkey_platform::PlatformError;
use bidkey_platform::pdf::Placement;
use bidkey_platform::pdf::file::PdfFile;
use bidkey_platform::pdf::object::Object;
use bidkey_protocol::scan::SealPlacement;
use std::io::{Read, Seek};

const PT_PER_MM: f64 = 72.0 / 25.4;
/// Page-tree levels walked up for an inherited MediaBox.
const MAX_DEPTH: usize = 32;

/// The number of pages and the height (points) of page `page` (1-based).
pub fn page_info<F: Read + Seek>(src: F, page: u32) -> Result<(u32, f64), PlatformError> {
    let mut pdf = PdfFile::open(src)?;
    let pages = pdf.pages()?;
    let count = u32::try_from(pages.len()).map_err(|_| PlatformError::InvalidInput("pages"))?;
    let r = *pages
        .get((page as usize).wrapping_sub(1))
        .ok_or(PlatformError::InvalidInput(
            "page number beyond the document",
        ))?;
    let mut dict = pdf.dict(&Object::Ref(r), None)?;
    for _ in 0..MAX_DEPTH {
        if let Some(mb) = dict.get(b"MediaBox") {
            let mb = pdf.resolve(&mb.clone(), None)?;
            let Object::Array(items) = mb else {
                return Err(PlatformError::InvalidInput("MediaBox"));
            };
            let nums: Vec<f64> = items
                .iter()
                .filter_map(|o| match o {
                    Object::Int(i) => Some(*i as f64),
                    Object::Real(r) => Some(*r),
                    _ => None,
                })
                .collect();
            let [_, y0, _, y1] = nums.as_slice() else {
                return Err(PlatformError::InvalidInput("MediaBox"));
            };
            let h = (y1 - y0).abs();
            if !h.is_finite() || h <= 0.0 {
                return Err(PlatformError::InvalidInput("MediaBox"));
            }
            return Ok((count, h));
        }
        match dict.get(b"Parent").cloned() {
            Some(parent) => dict = pdf.dict(&parent, None)?,
            None => break,
        }
    }
    Err(PlatformError::InvalidInput("page without a MediaBox"))
}

/// The PDF rectangle for `seal` on a page `page_height` points high.
pub fn placement(seal: &SealPlacement, page_height: f64) -> Placement {
    let w = f64::from(seal.width_mm) * PT_PER_MM;
    let h = f64::from(seal.height_mm) * PT_PER_MM;
    Placement {
        page: seal.page,
        x: f64::from(seal.x_mm) * PT_PER_MM,
        y: page_height - f64::from(seal.y_mm) * PT_PER_MM - h,
        width: w,
        height: h,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bidkey_platform::pdf::fixture;

    #[test]
    fn a4_page_and_a_seal_near_the_top_left() {
        let pdf = fixture::bid_pdf("t", 3, false);
        let (count, h) = page_info(std::io::Cursor::new(&pdf), 2).expect("page");
        assert_eq!((count, h), (3, 842.0));
        let p = placement(
            &SealPlacement {
                seal_id: "s".into(),
                page: 2,
                x_mm: 10,
                y_mm: 20,
                width_mm: 40,
                height_mm: 40,
            },
            h,
        );
        assert!((p.x - 28.35).abs() < 0.01 && (p.width - 113.39).abs() < 0.01);
        // Top edge 20 mm below the page's top.
        assert!((p.y + p.height - (842.0 - 56.69)).abs() < 0.01);
        assert!(page_info(std::io::Cursor::new(&pdf), 4).is_err());
        assert!(page_info(std::io::Cursor::new(&pdf), 0).is_err());
        assert!(page_info(std::io::Cursor::new(b"not a pdf"), 1).is_err());
    }
}
