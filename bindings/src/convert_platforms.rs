//! FFI records of trading platforms, grants (授权管理), zones (专区) and seals (印章管理),
//! converted from the protocol and core types at the edge.

use bidkey_protocol::platforms as plat;

/// Where the phone is, to list platforms nearest first.
#[derive(Debug, Clone, Copy, PartialEq, uniffi::Record)]
pub struct Location {
    pub latitude: f64,
    pub longitude: f64,
}

impl From<Location> for bidkey_core::flows::platforms::Location {
    fn from(l: Location) -> Self {
        Self {
            latitude: l.latitude,
            longitude: l.longitude,
        }
    }
}

/// A trading platform (交易平台) Bidkey serves.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Platform {
    pub id: String,
    pub name: String,
    /// `https://…`: where its login and signing requests come from.
    pub origin: String,
    pub region: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    /// Set when listed near a location.
    pub distance_km: Option<f64>,
    pub has_certificate: bool,
    pub created_at: i64,
}

impl From<plat::Platform> for Platform {
    fn from(p: plat::Platform) -> Self {
        Self {
            id: p.id,
            name: p.name,
            origin: p.origin,
            region: p.region,
            latitude: p.latitude,
            longitude: p.longitude,
            distance_km: p.distance_km,
            has_certificate: p.has_certificate,
            created_at: p.created_at,
        }
    }
}

/// Which grants to list: by platform, by person, or both; revoked ones on request.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct GrantFilter {
    #[uniffi(default = None)]
    pub platform_id: Option<String>,
    #[uniffi(default = None)]
    pub account_id: Option<String>,
    /// Also the revoked grants (历史授权记录).
    #[uniffi(default = false)]
    pub include_revoked: bool,
}

impl From<GrantFilter> for bidkey_core::flows::admin::GrantFilter {
    fn from(f: GrantFilter) -> Self {
        Self {
            platform_id: f.platform_id,
            account_id: f.account_id,
            include_revoked: f.include_revoked,
        }
    }
}

/// A member's enterprise certificate allowed on a platform.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Grant {
    pub id: String,
    pub enterprise_id: String,
    pub account_id: String,
    pub real_name: Option<String>,
    pub platform_id: String,
    pub platform_name: String,
    /// Account id of the admin who granted it.
    pub granted_by: String,
    pub created_at: i64,
    /// Set once revoked.
    pub revoked_at: Option<i64>,
}

impl From<plat::Grant> for Grant {
    fn from(g: plat::Grant) -> Self {
        Self {
            id: g.id,
            enterprise_id: g.enterprise_id,
            account_id: g.account_id,
            real_name: g.real_name,
            platform_id: g.platform_id,
            platform_name: g.platform_name,
            granted_by: g.granted_by,
            created_at: g.created_at,
            revoked_at: g.revoked_at,
        }
    }
}

/// An enterprise's zone (专区) on a platform.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Zone {
    pub id: String,
    pub enterprise_id: String,
    pub platform_id: String,
    pub platform_name: String,
    pub origin: String,
    pub created_at: i64,
}

impl From<plat::Zone> for Zone {
    fn from(z: plat::Zone) -> Self {
        Self {
            id: z.id,
            enterprise_id: z.enterprise_id,
            platform_id: z.platform_id,
            platform_name: z.platform_name,
            origin: z.origin,
            created_at: z.created_at,
        }
    }
}

/// An enterprise seal (印章); fetch its PNG with `sealImage`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Seal {
    pub id: String,
    pub enterprise_id: String,
    pub name: String,
    pub width: u32,
    pub height: u32,
    /// Bytes of the PNG.
    pub size: u64,
    /// Hex SHA-256 of the PNG.
    pub image_sha256: String,
    /// The enterprise signing certificate the seal is bound to, if any.
    pub cert_serial: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<plat::Seal> for Seal {
    fn from(s: plat::Seal) -> Self {
        Self {
            id: s.id,
            enterprise_id: s.enterprise_id,
            name: s.name,
            width: s.width,
            height: s.height,
            size: s.size,
            image_sha256: s.image_sha256,
            cert_serial: s.cert_serial,
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}
