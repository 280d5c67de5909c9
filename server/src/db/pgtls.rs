//! PostgreSQL connections with libpq's TLS settings in the URL:
//! `postgres://user@host/db?sslmode=verify-full&sslrootcert=/etc/bidkey/db-ca.pem`.
//!
//! | `sslmode` | TLS | the server's certificate |
//! | --- | --- | --- |
//! | `disable` (the default here) | no | — |
//! | `prefer` | when the server offers it | not checked |
//! | `require` | always | not checked (what libpq does: protects against listening, not against a man in the middle) |
//! | `verify-ca` | always | issued by the CA in `sslrootcert` |
//! | `verify-full` | always | issued by that CA **and** for the host in the URL |
//!
//! The `postgres` crate knows only `disable`, `prefer` and `require` and no `sslrootcert`,
//! so both are taken out of the URL here and the TLS is done by `tokio-postgres-rustls` on
//! rustls with the ring provider (the workspace's one TLS stack).

use super::DbError;
use rustls::DigitallySignedStruct;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, RootCertStore, SignatureScheme};
use std::path::PathBuf;
use std::sync::Arc;

/// libpq's `sslmode` values this server supports (`allow` is not: it never helps).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    fn parse(s: &str) -> Result<SslMode, String> {
        Ok(match s {
            "disable" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => {
                return Err(format!(
                    "sslmode={other}: must be disable, prefer, require, verify-ca or verify-full"
                ));
            }
        })
    }
}

/// A PostgreSQL URL taken apart: what the `postgres` crate reads, and the TLS settings.
#[derive(Debug, Clone)]
pub struct Target {
    pub config: postgres::Config,
    pub mode: SslMode,
    pub root_cert: Option<PathBuf>,
}

/// Take `sslmode` and `sslrootcert` out of the URL's query and check them; the rest is the
/// `postgres` crate's. Errors are words for the operator (no password in them).
pub fn parse(url: &str) -> Result<Target, String> {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, q),
        None => (url, ""),
    };
    let mut mode = SslMode::Disable;
    let mut root_cert = None;
    let mut rest = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("sslmode", v)) => mode = SslMode::parse(v)?,
            Some(("sslrootcert", v)) => root_cert = Some(PathBuf::from(percent_decode(v)?)),
            _ => rest.push(pair),
        }
    }
    let plain = if rest.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", rest.join("&"))
    };
    let mut config: postgres::Config = plain
        .parse()
        .map_err(|e| format!("not a valid PostgreSQL URL: {e}"))?;
    config.ssl_mode(match mode {
        SslMode::Disable => postgres::config::SslMode::Disable,
        SslMode::Prefer => postgres::config::SslMode::Prefer,
        _ => postgres::config::SslMode::Require,
    });
    match (mode, &root_cert) {
        (SslMode::VerifyCa | SslMode::VerifyFull, None) => {
            return Err(
                "sslmode=verify-ca and verify-full need sslrootcert=FILE (the CA's PEM)".into(),
            );
        }
        (_, Some(f)) if !f.is_file() => {
            return Err(format!("sslrootcert={}: no such file", f.display()));
        }
        _ => {}
    }
    Ok(Target {
        config,
        mode,
        root_cert,
    })
}

/// `%2F` and friends in a query value (a path may be written escaped).
fn percent_decode(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("{s}: a bad %-escape"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("{s}: not UTF-8"))
}

/// Connect as the URL says.
pub fn connect(url: &str) -> Result<postgres::Client, DbError> {
    let target = parse(url).map_err(DbError::Connect)?;
    let client = match target.mode {
        SslMode::Disable => target.config.connect(postgres::NoTls),
        mode => {
            let tls = client_config(mode, target.root_cert.as_ref())?;
            target
                .config
                .connect(tokio_postgres_rustls::MakeRustlsConnect::new(tls))
        }
    };
    client.map_err(|e| DbError::Connect(describe(&e)))
}

/// The error with its cause: the crate's own words are often only "db error" or "error
/// performing TLS handshake", the reason is underneath.
fn describe(e: &postgres::Error) -> String {
    match std::error::Error::source(e) {
        Some(cause) => format!("{e}: {cause}"),
        None => e.to_string(),
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The rustls client settings for `mode`.
fn client_config(
    mode: SslMode,
    root_cert: Option<&PathBuf>,
) -> Result<rustls::ClientConfig, DbError> {
    let provider = provider();
    let verifier: Arc<dyn ServerCertVerifier> = match mode {
        SslMode::Disable | SslMode::Prefer | SslMode::Require => Arc::new(Unverified {
            provider: provider.clone(),
        }),
        SslMode::VerifyCa | SslMode::VerifyFull => {
            let path = root_cert.ok_or_else(|| {
                DbError::Connect("verify-ca and verify-full need sslrootcert".into())
            })?;
            let mut roots = RootCertStore::empty();
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|e| DbError::Connect(format!("sslrootcert {}: {e}", path.display())))?;
            for cert in certs {
                let cert = cert.map_err(|e| {
                    DbError::Connect(format!("sslrootcert {}: {e}", path.display()))
                })?;
                roots.add(cert).map_err(|e| {
                    DbError::Connect(format!("sslrootcert {}: {e}", path.display()))
                })?;
            }
            if roots.is_empty() {
                return Err(DbError::Connect(format!(
                    "sslrootcert {}: no certificate in it",
                    path.display()
                )));
            }
            let full =
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .map_err(|e| DbError::Connect(format!("TLS verifier: {e}")))?;
            if mode == SslMode::VerifyFull {
                full
            } else {
                Arc::new(AnyName { inner: full })
            }
        }
    };
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| DbError::Connect(format!("TLS: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth())
}

/// `require`/`prefer`: encrypted, the certificate not checked (libpq's meaning). The
/// handshake's signature is still checked, so the key matches the certificate presented.
#[derive(Debug)]
struct Unverified {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// `verify-ca`: the chain must lead to the CA; the host name is not compared.
#[derive(Debug)]
struct AnyName {
    inner: Arc<WebPkiServerVerifier>,
}

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            // The name is checked last, after the chain: only a good chain gets here.
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_settings_leave_the_url_and_are_checked() {
        let t = parse("postgres://u:p@db.internal:5432/bidkey?sslmode=require&application_name=x")
            .expect("valid");
        assert_eq!(t.mode, SslMode::Require);
        assert_eq!(t.config.get_application_name(), Some("x"));
        assert_eq!(
            parse("postgres://u@h/d").expect("valid").mode,
            SslMode::Disable
        );
        let e = parse("postgres://u@h/d?sslmode=verify-full").expect_err("no CA");
        assert!(e.contains("sslrootcert"), "{e}");
        let e = parse("postgres://u@h/d?sslmode=verify-full&sslrootcert=%2Fnonexistent%2Fca.pem")
            .expect_err("no file");
        assert!(e.contains("/nonexistent/ca.pem: no such file"), "{e}");
        let e = parse("postgres://u@h/d?sslmode=allow").expect_err("not supported");
        assert!(e.contains("sslmode=allow"), "{e}");
        let e = parse("postgres://u:secret@h:notaport/d").expect_err("bad URL");
        assert!(!e.contains("secret"), "{e}");
    }
}
