//! QR codes for the scan flow, as PNG (for `<img>`) or SVG (inline in a page).

use crate::error::{PlatformError, Result};
use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

/// Medium error correction: URIs stay short, and a screen photo tolerates some glare.
fn code(text: &str) -> Result<QrCode> {
    QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)
        .map_err(|e| PlatformError::Qr(e.to_string()))
}

/// A PNG of the QR code for `text`, about 8 pixels per module with the quiet zone.
pub fn render_qr_png(text: &str) -> Result<Vec<u8>> {
    let img = code(text)?
        .render::<image::Luma<u8>>()
        .module_dimensions(8, 8)
        .build();
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .map_err(|e| PlatformError::Qr(e.to_string()))?;
    Ok(out.into_inner())
}

/// An SVG document of the QR code for `text`.
pub fn render_qr_svg(text: &str) -> Result<String> {
    Ok(code(text)?
        .render::<svg::Color<'_>>()
        .min_dimensions(240, 240)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_png(png: &[u8]) -> String {
        let img = image::load_from_memory_with_format(png, image::ImageFormat::Png)
            .expect("PNG decodes")
            .to_luma8();
        let mut prepared = rqrr::PreparedImage::prepare(img);
        let grids = prepared.detect_grids();
        assert_eq!(grids.len(), 1, "one QR code");
        grids[0].decode().expect("QR decodes").1
    }

    #[test]
    fn png_decodes_back_to_the_text() {
        for text in [
            "bidkey://v1/scan?r=https%3A%2F%2Frelay.example&id=7f3a&s=Zm9vYmFy",
            "投标 扫码 https://example.invalid/x",
        ] {
            assert_eq!(decode_png(&render_qr_png(text).expect("png")), text);
        }
    }

    #[test]
    fn svg_is_a_document_with_modules() {
        let svg = render_qr_svg("bidkey://v1/scan?id=1").expect("svg");
        assert!(svg.contains("<svg") && svg.contains("#000000"));
        assert!(svg.len() > 500);
    }

    #[test]
    fn too_long_text_is_refused() {
        assert!(matches!(
            render_qr_png(&"x".repeat(8000)),
            Err(PlatformError::Qr(_))
        ));
    }
}
