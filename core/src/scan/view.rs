//! A sign request's documents as the confirmation screen shows them (扫码确认页): name,
//! digest, page count, and for a seal its image, page and position. The same checks decide
//! whether the phone will sign at all, so nothing is signed that was not shown.

use bidkey_protocol::platforms::Seal;
use bidkey_protocol::scan::{DigestAlg, DocumentProblem, DocumentToSign};

/// A seal the signer may use, with its PNG as the server serves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsableSeal {
    pub seal: Seal,
    pub image_png: Vec<u8>,
}

/// A seal to place, as shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealView {
    pub seal_id: String,
    pub seal_name: String,
    /// The seal's image (PNG) from the server, drawn on the confirmation screen.
    pub image_png: Vec<u8>,
    /// 1-based page.
    pub page: u32,
    /// Millimetres from the page's left and top edges; size in millimetres.
    pub x_mm: u32,
    pub y_mm: u32,
    pub width_mm: u32,
    pub height_mm: u32,
}

/// One document, as shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentView {
    pub name: String,
    pub digest_alg: DigestAlg,
    /// The whole digest, lowercase hex (for "show more").
    pub digest_hex: String,
    /// The first and last eight hex digits, `1a2b3c4d…9e8f7a6b`.
    pub digest_short: String,
    pub page_count: u32,
    pub seal: Option<SealView>,
}

/// Why the phone will not show (nor sign) a sign request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocumentRefusal {
    /// Outside the protocol's limits (a digest not of 32 bytes, no pages, a seal off the
    /// document, ...).
    Invalid(DocumentProblem),
    /// The signing certificate is SM2, so the digest must be SM3.
    DigestAlgorithm,
    /// Two documents of one name could not be told apart in the reply.
    DuplicateName,
    /// The seal is not one of the signer's enterprise's live seals, or is bound to another
    /// certificate.
    SealNotUsable(String),
}

impl std::fmt::Display for DocumentRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DocumentRefusal::Invalid(p) => write!(f, "invalid {p}"),
            DocumentRefusal::DigestAlgorithm => f.write_str("digest algorithm (SM3 required)"),
            DocumentRefusal::DuplicateName => f.write_str("two documents of one name"),
            DocumentRefusal::SealNotUsable(id) => write!(f, "seal {id} may not be used"),
        }
    }
}

impl std::error::Error for DocumentRefusal {}

/// `1a2b3c4d…9e8f7a6b`: enough to compare with the platform's page at a glance.
pub fn short_hex(bytes: &[u8]) -> String {
    let h = hex::encode(bytes);
    if h.len() <= 16 {
        return h;
    }
    format!("{}…{}", &h[..8], &h[h.len() - 8..])
}

/// Check every document of a sign request and make its view. `seals` are the live seals of
/// the signing certificate's enterprise (with images); a seal bound to a certificate
/// (`cert_serial`) may only be used by that certificate, `signer_serial`.
pub fn document_views(
    documents: &[DocumentToSign],
    seals: &[UsableSeal],
    signer_serial: &str,
) -> Result<Vec<DocumentView>, DocumentRefusal> {
    let mut out = Vec::with_capacity(documents.len());
    for (i, d) in documents.iter().enumerate() {
        d.check().map_err(DocumentRefusal::Invalid)?;
        if d.digest_alg != DigestAlg::Sm3 {
            return Err(DocumentRefusal::DigestAlgorithm);
        }
        if documents[..i].iter().any(|o| o.name == d.name) {
            return Err(DocumentRefusal::DuplicateName);
        }
        let seal = match &d.seal {
            None => None,
            Some(p) => {
                let usable = seals
                    .iter()
                    .find(|s| s.seal.id == p.seal_id)
                    .filter(|s| {
                        s.seal
                            .cert_serial
                            .as_deref()
                            .is_none_or(|c| c.eq_ignore_ascii_case(signer_serial))
                    })
                    .ok_or_else(|| DocumentRefusal::SealNotUsable(p.seal_id.clone()))?;
                Some(SealView {
                    seal_id: p.seal_id.clone(),
                    seal_name: usable.seal.name.clone(),
                    image_png: usable.image_png.clone(),
                    page: p.page,
                    x_mm: p.x_mm,
                    y_mm: p.y_mm,
                    width_mm: p.width_mm,
                    height_mm: p.height_mm,
                })
            }
        };
        out.push(DocumentView {
            name: d.name.clone(),
            digest_alg: d.digest_alg,
            digest_hex: hex::encode(&d.digest),
            digest_short: short_hex(&d.digest),
            page_count: d.page_count,
            seal,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bidkey_protocol::scan::SealPlacement;

    fn seal(id: &str, bound: Option<&str>) -> UsableSeal {
        UsableSeal {
            seal: Seal {
                id: id.into(),
                enterprise_id: "e1".into(),
                name: "合同专用章".into(),
                width: 200,
                height: 200,
                size: 4,
                image_sha256: String::new(),
                cert_serial: bound.map(str::to_owned),
                created_at: 0,
                updated_at: 0,
                ..Default::default()
            },
            image_png: b"\x89PNG".to_vec(),
        }
    }

    fn docs() -> Vec<DocumentToSign> {
        vec![
            DocumentToSign {
                name: "商务标.pdf".into(),
                digest_alg: DigestAlg::Sm3,
                digest: (0..32).collect(),
                page_count: 12,
                seal: None,
            },
            DocumentToSign {
                name: "技术标.pdf".into(),
                digest_alg: DigestAlg::Sm3,
                digest: vec![0xab; 32],
                page_count: 4,
                seal: Some(SealPlacement {
                    seal_id: "s1".into(),
                    page: 4,
                    x_mm: 120,
                    y_mm: 230,
                    width_mm: 42,
                    height_mm: 42,
                }),
            },
        ]
    }

    #[test]
    fn shows_name_digest_pages_seal_and_place() {
        let v = document_views(&docs(), &[seal("s1", None)], "0a").expect("views");
        assert_eq!(v[0].name, "商务标.pdf");
        assert_eq!(v[0].digest_short, "00010203…1c1d1e1f");
        assert_eq!(v[0].digest_hex.len(), 64);
        assert_eq!((v[0].page_count, v[0].seal.is_none()), (12, true));
        let s = v[1].seal.as_ref().expect("seal");
        assert_eq!(
            (s.seal_name.as_str(), s.page, s.x_mm, s.y_mm, s.width_mm),
            ("合同专用章", 4, 120, 230, 42)
        );
        assert_eq!(s.image_png, b"\x89PNG");
    }

    #[test]
    fn refuses_a_digest_of_100_bytes() {
        let mut d = docs();
        d[0].digest = vec![7; 100];
        assert_eq!(
            document_views(&d, &[seal("s1", None)], "0a"),
            Err(DocumentRefusal::Invalid(DocumentProblem::Digest))
        );
    }

    #[test]
    fn refuses_sha256_and_duplicate_names() {
        let mut d = docs();
        d[0].digest_alg = DigestAlg::Sha256;
        assert_eq!(
            document_views(&d, &[seal("s1", None)], "0a"),
            Err(DocumentRefusal::DigestAlgorithm)
        );
        let mut d = docs();
        d[1].name = d[0].name.clone();
        assert_eq!(
            document_views(&d, &[seal("s1", None)], "0a"),
            Err(DocumentRefusal::DuplicateName)
        );
    }

    #[test]
    fn refuses_a_seal_the_signer_may_not_use() {
        // Not among the enterprise's seals (another enterprise's, or deleted).
        assert_eq!(
            document_views(&docs(), &[seal("s2", None)], "0a"),
            Err(DocumentRefusal::SealNotUsable("s1".into()))
        );
        // Bound to another certificate.
        assert_eq!(
            document_views(&docs(), &[seal("s1", Some("0b"))], "0a"),
            Err(DocumentRefusal::SealNotUsable("s1".into()))
        );
        assert!(document_views(&docs(), &[seal("s1", Some("0A"))], "0a").is_ok());
    }

    #[test]
    fn refuses_a_seal_off_the_document() {
        let mut d = docs();
        if let Some(s) = d[1].seal.as_mut() {
            s.page = 5;
        }
        assert_eq!(
            document_views(&d, &[seal("s1", None)], "0a"),
            Err(DocumentRefusal::Invalid(DocumentProblem::Placement))
        );
    }
}
