//! The certificate of the WSS listener (`wssConfig.certFile` / `keyFile`, PEM) and the TLS
//! acceptor built from it (real tokio only). Read once at start: a bad file stops the start
//! with an error that names it, never a connection later.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use crate::config::WssConfig;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("wssAddr is set but wssConfig.certFile and wssConfig.keyFile are not (PEM files)")]
    NotConfigured,
    #[error("cannot read {path}: {error}")]
    Read { path: PathBuf, error: std::io::Error },
    #[error("{path} holds no PEM {what}: {error}")]
    Pem { path: PathBuf, what: &'static str, error: rustls::pki_types::pem::Error },
    #[error("the certificate {cert} and the key {key} do not make a TLS server: {error}")]
    Invalid { cert: PathBuf, key: PathBuf, error: rustls::Error },
}

/// A TLS acceptor serving the certificate chain and private key of `config` (TLS 1.2 and
/// 1.3, the ring provider).
pub fn acceptor(config: &WssConfig) -> Result<TlsAcceptor, TlsError> {
    let (cert, key) = (&config.cert_file, &config.key_file);
    if cert.as_os_str().is_empty() || key.as_os_str().is_empty() {
        return Err(TlsError::NotConfigured);
    }
    let chain = certificates(cert)?;
    let private_key = private_key(key)?;
    let invalid = |error| TlsError::Invalid { cert: cert.clone(), key: key.clone(), error };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(invalid)?
        .with_no_client_auth()
        .with_single_cert(chain, private_key)
        .map_err(invalid)?;
    Ok(TlsAcceptor::from(Arc::new(server)))
}

/// Every certificate of the file, the server's first.
fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read(path)?;
    let pem_error = |error| TlsError::Pem { path: path.to_path_buf(), what: "certificate", error };
    let chain = CertificateDer::pem_slice_iter(&pem).collect::<Result<Vec<_>, _>>().map_err(pem_error)?;
    if chain.is_empty() {
        return Err(pem_error(rustls::pki_types::pem::Error::NoItemsFound));
    }
    Ok(chain)
}

/// The first private key of the file (PKCS#8, PKCS#1 or SEC1).
fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let pem = read(path)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|error| TlsError::Pem {
        path: path.to_path_buf(),
        what: "private key",
        error,
    })
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|error| TlsError::Read { path: path.to_path_buf(), error })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(cert_file: &Path, key_file: &Path) -> WssConfig {
        WssConfig { cert_file: cert_file.to_path_buf(), key_file: key_file.to_path_buf() }
    }

    fn error_of(config: &WssConfig) -> TlsError {
        match acceptor(config) {
            Ok(_) => panic!("an acceptor from {config:?}"),
            Err(error) => error,
        }
    }

    #[test]
    fn a_certificate_and_its_key_make_an_acceptor() {
        let dir = tempfile::tempdir().unwrap();
        let generated = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        std::fs::write(&cert, generated.cert.pem()).unwrap();
        std::fs::write(&key, generated.key_pair.serialize_pem()).unwrap();
        acceptor(&config(&cert, &key)).unwrap();
    }

    #[test]
    fn missing_and_bad_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(error_of(&WssConfig::default()), TlsError::NotConfigured));
        let missing = dir.path().join("missing.pem");
        let error = error_of(&config(&missing, &missing)).to_string();
        assert!(error.contains("missing.pem"), "{error}");
        let garbage = dir.path().join("garbage.pem");
        std::fs::write(&garbage, "not a certificate\n").unwrap();
        let error = error_of(&config(&garbage, &garbage)).to_string();
        assert!(error.contains("garbage.pem") && error.contains("certificate"), "{error}");
    }
}
