//! TLS for PostgreSQL connections: libpq's `sslmode` mapped onto rustls.
//!
//! The `postgres` crate knows only disable/prefer/require and leaves
//! verification to the TLS connector, so the verifier decides what each mode
//! means, as libpq does: `prefer`/`require` encrypt without verifying (unless
//! a root certificate file exists, when `require` verifies the chain, as libpq
//! does); `verify-ca` checks the chain against the root certificate;
//! `verify-full` checks the chain and that the certificate names the host.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

use super::conninfo::{ConnInfo, Environment, SslMode};

/// How the server's certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// Encrypt only: any certificate (the handshake signature is still checked).
    None,
    /// The chain must lead to a trusted root; the name is not checked.
    Chain,
    /// The chain and the host name.
    ChainAndName,
}

/// What `sslmode` means for verification, given whether a root file exists.
pub fn verification_for(mode: SslMode, root_file_exists: bool) -> Verification {
    match mode {
        // libpq: "if a root CA file exists, require behaves like verify-ca".
        SslMode::Require if root_file_exists => Verification::Chain,
        SslMode::Disable | SslMode::Prefer | SslMode::Require => Verification::None,
        SslMode::VerifyCa => Verification::Chain,
        SslMode::VerifyFull => Verification::ChainAndName,
    }
}

/// Where the root certificates come from: `sslrootcert`, else `~/.postgresql/root.crt`.
enum RootSource {
    /// `sslrootcert=system`: the bundled web roots.
    System,
    File(PathBuf),
}

fn root_source(info: &ConnInfo, env: &dyn Environment) -> Option<RootSource> {
    match info.sslrootcert.as_deref() {
        Some("system") => Some(RootSource::System),
        Some(path) => Some(RootSource::File(PathBuf::from(path))),
        None => env
            .home()
            .map(|h| h.join(".postgresql").join("root.crt"))
            .map(RootSource::File),
    }
}

/// The rustls client configuration for `info`.
pub fn client_config(info: &ConnInfo, env: &dyn Environment) -> Result<ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let source = root_source(info, env);
    let root_exists = match &source {
        Some(RootSource::System) => true,
        Some(RootSource::File(p)) => p.is_file(),
        None => false,
    };
    let verification = verification_for(info.sslmode, root_exists);
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?;
    let verifier: Arc<dyn ServerCertVerifier> = match verification {
        Verification::None => Arc::new(EncryptOnly {
            provider: provider.clone(),
        }),
        Verification::Chain | Verification::ChainAndName => {
            let roots = load_roots(source.as_ref(), info.sslmode)?;
            let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| format!("TLS setup: {e}"))?;
            if verification == Verification::ChainAndName {
                webpki
            } else {
                Arc::new(ChainOnly { inner: webpki })
            }
        }
    };
    Ok(builder
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth())
}

fn load_roots(source: Option<&RootSource>, mode: SslMode) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    match source {
        Some(RootSource::System) => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        Some(RootSource::File(path)) => {
            if !path.is_file() {
                return Err(format!(
                    "sslmode={} needs a root certificate: {} does not exist (name one with sslrootcert=FILE, or sslrootcert=system for the public roots)",
                    mode.as_str(),
                    path.display()
                ));
            }
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(Iterator::collect::<Result<Vec<_>, _>>)
                .map_err(|e| {
                    format!("cannot read root certificates from {}: {e}", path.display())
                })?;
            let (added, _ignored) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(format!("no usable root certificate in {}", path.display()));
            }
        }
        None => return Err("no root certificate: set sslrootcert".into()),
    }
    Ok(roots)
}

/// `require`/`prefer` without a root file: encrypted, the peer unverified
/// (libpq's meaning), but the handshake signature is still checked.
#[derive(Debug)]
struct EncryptOnly {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for EncryptOnly {
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

/// `verify-ca`: the full chain check, with only a name mismatch forgiven.
#[derive(Debug)]
struct ChainOnly {
    inner: Arc<WebPkiServerVerifier>,
}

impl ServerCertVerifier for ChainOnly {
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
    fn sslmodes_map_to_libpq_verification() {
        assert_eq!(verification_for(SslMode::Prefer, true), Verification::None);
        assert_eq!(
            verification_for(SslMode::Require, false),
            Verification::None
        );
        assert_eq!(
            verification_for(SslMode::Require, true),
            Verification::Chain
        );
        assert_eq!(
            verification_for(SslMode::VerifyCa, false),
            Verification::Chain
        );
        assert_eq!(
            verification_for(SslMode::VerifyFull, true),
            Verification::ChainAndName
        );
    }

    struct NoHome;
    impl Environment for NoHome {
        fn var(&self, _: &str) -> Option<String> {
            None
        }
        fn home(&self) -> Option<PathBuf> {
            None
        }
        fn os_user(&self) -> Option<String> {
            Some("u".into())
        }
    }

    #[test]
    fn verify_modes_need_a_root_certificate_and_say_so() {
        let info = super::super::conninfo::resolve(
            "postgres://u:pw@h/d?sslmode=verify-full&sslrootcert=/nonexistent/root.crt",
            &NoHome,
        )
        .unwrap();
        let err = client_config(&info, &NoHome).unwrap_err();
        assert!(err.contains("/nonexistent/root.crt"), "{err}");
        let system = super::super::conninfo::resolve(
            "postgres://u@h/d?sslmode=verify-full&sslrootcert=system",
            &NoHome,
        )
        .unwrap();
        assert!(client_config(&system, &NoHome).is_ok());
        let require =
            super::super::conninfo::resolve("postgres://u@h/d?sslmode=require", &NoHome).unwrap();
        assert!(client_config(&require, &NoHome).is_ok());
    }
}
