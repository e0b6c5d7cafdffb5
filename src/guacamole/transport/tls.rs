//! TLS for the connection to Guacamole: which certificates are trusted, and an
//! error that says how to trust one that is not.
//!
//! It exists because the stock verifier cannot trust the certificate most
//! self-hosted Guacamole servers have: `openssl req -x509` makes a self-signed
//! certificate with `basicConstraints CA:TRUE`, which webpki refuses as a server
//! certificate (`CaUsedAsEndEntity`) even when it is the trust anchor itself. Here
//! every certificate in `ca_cert` is both
//! - a trust anchor: certificates a private CA issued are accepted for the names they
//!   carry and within their dates, as with the system's CAs; and
//! - a pin: a server presenting exactly that certificate (byte for byte) is
//!   accepted, within the certificate's dates, whatever host name the URL uses.
//!
//! The handshake signature is verified in both cases (the server proves that it
//! holds the certificate's private key), so a pin trusts one key holder. The name
//! is not checked for a pin: the certificate was named explicitly, and the usual
//! `openssl req -x509 -subj /CN=host` certificate carries its name only in the CN,
//! which rustls (like browsers) no longer reads. `--insecure` accepts any
//! certificate.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, UNIX_EPOCH};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, DigitallySignedStruct, Error as TlsError, OtherError, RootCertStore,
    SignatureScheme,
};
use sha2::{Digest as _, Sha256};
use x509_parser::prelude::{FromDer as _, GeneralName, X509Certificate};

/// Stands for the server's host and port in a [`CertProblem`] (the verifier knows
/// only the host name); the client replaces it.
pub const HOST_PORT: &str = "HOST:PORT";

/// The ways to name a certificate to trust, for hints.
const TRUST_HOW: &str = "--ca-cert FILE, GUACAMOLE_CA_CERT=FILE or ca_cert in guacsync.toml";

/// Why a certificate was refused, in words that say how to trust it. Carried inside
/// rustls' error (`CertificateError::Other`) so the client can show it.
#[derive(Debug)]
pub struct CertProblem(pub String);

impl std::fmt::Display for CertProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CertProblem {}

/// The rustls configuration for reqwest: system roots plus `ca_cert` (anchors and
/// pins), or no verification with `insecure`. ALPN offers HTTP/2 and HTTP/1.1.
pub fn client_config(
    ca_cert: Option<&Path>,
    insecure: bool,
) -> Result<rustls::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let file = ca_cert.map(CaFile::load).transpose()?;
    let verifier = Verifier::new(provider.clone(), file, insecure)?;
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// The certificates of a `ca_cert` file.
#[derive(Debug)]
struct CaFile {
    path: PathBuf,
    certs: Vec<CertificateDer<'static>>,
}

impl CaFile {
    fn load(path: &Path) -> Result<Self, String> {
        let shown = path.display();
        let bytes = std::fs::read(path)
            .map_err(|e| format!("cannot read the ca_cert file {shown}: {e}"))?;
        let mut certs = Vec::new();
        for item in CertificateDer::pem_slice_iter(&bytes) {
            certs.push(item.map_err(|e| format!("{shown}: not a valid PEM file: {e}"))?);
        }
        if certs.is_empty() {
            return Err(format!(
                "{shown} holds no PEM certificate (-----BEGIN CERTIFICATE-----); give the CA's or the server's own certificate in PEM form (`openssl x509 -inform der -in FILE.der -out FILE.pem` converts a DER file)"
            ));
        }
        for (i, cert) in certs.iter().enumerate() {
            if let Err(e) = X509Certificate::from_der(cert) {
                return Err(format!(
                    "{shown}: certificate {} of {} cannot be read: {e}",
                    i + 1,
                    certs.len()
                ));
            }
        }
        if bytes.windows(16).any(|w| w == b"PRIVATE KEY-----") {
            tracing::warn!(
                "{shown} also holds a private key; guacsync needs only the certificate (keep the key on the server, out of the repository)"
            );
        }
        Ok(Self {
            path: path.to_owned(),
            certs,
        })
    }
}

/// The system's CA certificates, read once per process.
fn system_roots() -> &'static [CertificateDer<'static>] {
    static ROOTS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let found = rustls_native_certs::load_native_certs();
        for e in &found.errors {
            tracing::debug!("reading the system's CA certificates: {e}");
        }
        found.certs
    })
}

#[derive(Debug)]
struct Verifier {
    provider: Arc<CryptoProvider>,
    /// System roots plus the `ca_cert` certificates; `None` when there are none.
    webpki: Option<Arc<WebPkiServerVerifier>>,
    file: Option<CaFile>,
    insecure: bool,
}

impl Verifier {
    fn new(
        provider: Arc<CryptoProvider>,
        file: Option<CaFile>,
        insecure: bool,
    ) -> Result<Self, String> {
        let mut roots = RootCertStore::empty();
        roots.add_parsable_certificates(system_roots().iter().cloned());
        for cert in file.iter().flat_map(|f| &f.certs) {
            // A certificate that cannot be an anchor still works as a pin.
            if let Err(e) = roots.add(cert.clone()) {
                tracing::debug!("a ca_cert certificate is not usable as a CA: {e}");
            }
        }
        let webpki = if roots.is_empty() {
            None
        } else {
            Some(
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .map_err(|e| e.to_string())?,
            )
        };
        Ok(Self {
            provider,
            webpki,
            file,
            insecure,
        })
    }

    fn pinned(&self, cert: &CertificateDer<'_>) -> bool {
        self.file
            .iter()
            .flat_map(|f| &f.certs)
            .any(|c| c.as_ref() == cert.as_ref())
    }

    fn ca_note(&self) -> String {
        match &self.file {
            Some(f) => format!(
                " (the ca_cert file {} holds {} other certificate(s))",
                f.path.display(),
                f.certs.len()
            ),
            None => String::new(),
        }
    }
}

fn refused(text: String) -> TlsError {
    TlsError::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(CertProblem(
        text,
    )))))
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, TlsError> {
        if self.insecure {
            return Ok(ServerCertVerified::assertion());
        }
        if self.pinned(end_entity) {
            return match Facts::read(end_entity) {
                Some(facts) => facts
                    .check_dates(now)
                    .map(|()| ServerCertVerified::assertion())
                    .map_err(|why| {
                        let file = self.file.as_ref().map(|f| f.path.display().to_string());
                        refused(format!(
                            "the pinned certificate ({}, in {}) {why}: renew it on the server and put the new certificate in ca_cert",
                            facts.describe(),
                            file.unwrap_or_default()
                        ))
                    }),
                None => Err(refused("the pinned certificate cannot be read".to_owned())),
            };
        }
        let Some(webpki) = &self.webpki else {
            let unknown = TlsError::InvalidCertificate(CertificateError::UnknownIssuer);
            return Err(refused(format!(
                "{} (this system has no CA certificates at all: install its CA bundle, such as the ca-certificates package, to trust public CAs)",
                self.explain(&unknown, end_entity, server_name)
            )));
        };
        webpki
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            .map_err(|e| refused(self.explain(&e, end_entity, server_name)))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        if self.insecure {
            return Ok(HandshakeSignatureValid::assertion());
        }
        rustls::crypto::verify_tls12_signature(
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
    ) -> Result<HandshakeSignatureValid, TlsError> {
        if self.insecure {
            return Ok(HandshakeSignatureValid::assertion());
        }
        rustls::crypto::verify_tls13_signature(
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

impl Verifier {
    /// Why webpki refused the certificate, and how to trust it.
    fn explain(&self, err: &TlsError, cert: &CertificateDer<'_>, name: &ServerName<'_>) -> String {
        let Some(facts) = Facts::read(cert) else {
            return format!("the server's certificate is refused: {err}");
        };
        let what = facts.describe();
        let TlsError::InvalidCertificate(reason) = err else {
            return format!("the server's certificate ({what}) is refused: {err}");
        };
        let pin_hint = "to trust only this certificate, name the certificate itself instead (it is then pinned)";
        let untrusted_self_signed = facts.self_signed
            && match reason {
                CertificateError::UnknownIssuer | CertificateError::BadSignature => true,
                CertificateError::Other(o) => format!("{o:?}").contains("CaUsedAsEndEntity"),
                _ => false,
            };
        if untrusted_self_signed {
            return format!(
                "the server's certificate (subject {}, SHA-256 {}) is self-signed and not trusted{}. To trust exactly this certificate, save it as PEM (`openssl s_client -connect {HOST_PORT} -showcerts </dev/null` prints it), check that its fingerprint is the server's, and name the file with {TRUST_HOW}: it is then pinned",
                facts.subject,
                facts.sha256,
                self.ca_note()
            );
        }
        match reason {
            CertificateError::UnknownIssuer => format!(
                "the server's certificate ({what}) was issued by a CA that is neither one of this system's CAs nor in ca_cert{}. To trust it, name the issuing CA's certificate (PEM) with {TRUST_HOW}, or add the CA to the system's trust store; {pin_hint}",
                self.ca_note()
            ),
            CertificateError::BadSignature => format!(
                "the server's certificate ({what}) was not signed by the trusted CA of that name: the CA in {} is another CA with the same name (re-created with a new key?). Name the CA that issued this certificate with {TRUST_HOW}; {pin_hint}",
                self.file.as_ref().map_or_else(
                    || "the system's trust store".to_owned(),
                    |f| f.path.display().to_string()
                )
            ),
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                let names = if facts.names.is_empty() {
                    "no host name in subjectAltName (only its subject, which TLS clients no longer read for names)".to_owned()
                } else {
                    facts.names.join(", ")
                };
                format!(
                    "the server's certificate ({what}) is not valid for {}: it names {names}. Use a URL with one of its names, or have a certificate issued for this host, or pin this certificate: name the certificate itself (PEM) with {TRUST_HOW} (a pinned certificate is accepted whatever name the URL uses)",
                    name.to_str()
                )
            }
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => format!(
                "the server's certificate ({what}) expired on {}: renew it on the server (or check this machine's clock)",
                date(facts.not_after)
            ),
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                format!(
                    "the server's certificate ({what}) is valid only from {}: check the clocks of this machine and of the server",
                    date(facts.not_before)
                )
            }
            CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
                format!(
                    "the server's certificate ({what}) is not meant for a TLS server (its extended key usage); install a server certificate"
                )
            }
            other => format!(
                "the server's certificate ({what}) is refused: {other:?}; to trust only this certificate, name it (PEM) with {TRUST_HOW} (it is then pinned)"
            ),
        }
    }
}

/// What a certificate says, for messages and the dates of a pin.
struct Facts {
    subject: String,
    issuer: String,
    self_signed: bool,
    names: Vec<String>,
    not_before: i64,
    not_after: i64,
    sha256: String,
}

impl Facts {
    fn read(der: &CertificateDer<'_>) -> Option<Self> {
        let (_, cert) = X509Certificate::from_der(der).ok()?;
        let mut names = Vec::new();
        if let Ok(Some(san)) = cert.subject_alternative_name() {
            for n in &san.value.general_names {
                match n {
                    GeneralName::DNSName(d) => names.push((*d).to_owned()),
                    GeneralName::IPAddress(ip) => names.push(ip_text(ip)),
                    _ => {}
                }
            }
        }
        let mut sha256 = String::new();
        for (i, b) in Sha256::digest(der.as_ref()).iter().enumerate() {
            let sep = if i == 0 { "" } else { ":" };
            let _ = write!(sha256, "{sep}{b:02X}");
        }
        Some(Self {
            subject: cert.subject().to_string(),
            issuer: cert.issuer().to_string(),
            self_signed: cert.subject().as_raw() == cert.issuer().as_raw(),
            names,
            not_before: cert.validity().not_before.timestamp(),
            not_after: cert.validity().not_after.timestamp(),
            sha256,
        })
    }

    /// `subject CN=host, issued by CN=CA` or `subject CN=host, self-signed`.
    fn describe(&self) -> String {
        let subject = if self.subject.is_empty() {
            "no subject".to_owned()
        } else {
            format!("subject {}", self.subject)
        };
        if self.self_signed {
            format!("{subject}, self-signed")
        } else {
            format!("{subject}, issued by {}", self.issuer)
        }
    }

    fn check_dates(&self, now: UnixTime) -> Result<(), String> {
        let now = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
        if now > self.not_after {
            Err(format!("expired on {}", date(self.not_after)))
        } else if now < self.not_before {
            Err(format!("is valid only from {}", date(self.not_before)))
        } else {
            Ok(())
        }
    }
}

fn ip_text(bytes: &[u8]) -> String {
    match bytes.len() {
        4 => {
            let b: [u8; 4] = bytes.try_into().unwrap_or_default();
            std::net::Ipv4Addr::from(b).to_string()
        }
        16 => {
            let b: [u8; 16] = bytes.try_into().unwrap_or_default();
            std::net::Ipv6Addr::from(b).to_string()
        }
        _ => format!("{bytes:?}"),
    }
}

/// A certificate date as RFC 3339 (UTC).
fn date(secs: i64) -> String {
    match u64::try_from(secs) {
        Ok(s) => humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(s)).to_string(),
        Err(_) => format!("{secs} seconds from 1970"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn self_signed(ca: bool, names: &[&str]) -> (CertificateDer<'static>, String) {
        let key = rcgen::KeyPair::generate().expect("key");
        let mut params = rcgen::CertificateParams::new(
            names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>(),
        )
        .expect("params");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "guac.test");
        if ca {
            params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        }
        let cert = params.self_signed(&key).expect("cert");
        (cert.der().clone(), cert.pem())
    }

    fn verifier(file_pem: Option<&str>) -> Verifier {
        let dir = tempfile::tempdir().expect("dir");
        let file = file_pem.map(|pem| {
            let path = dir.path().join("ca.pem");
            std::fs::write(&path, pem).expect("write");
            CaFile::load(&path).expect("loads")
        });
        Verifier::new(
            Arc::new(rustls::crypto::ring::default_provider()),
            file,
            false,
        )
        .expect("verifier")
    }

    fn now() -> UnixTime {
        UnixTime::now()
    }

    fn check(v: &Verifier, cert: &CertificateDer<'_>, host: &str) -> Result<(), String> {
        let name = ServerName::try_from(host.to_owned()).expect("name");
        v.verify_server_cert(cert, &[], &name, &[], now())
            .map(|_| ())
            .map_err(|e| match e {
                TlsError::InvalidCertificate(CertificateError::Other(o)) => o.0.to_string(),
                other => other.to_string(),
            })
    }

    #[test]
    fn a_pinned_ca_true_certificate_is_accepted_for_any_name() {
        let (der, pem) = self_signed(true, &[]);
        let v = verifier(Some(&pem));
        assert_eq!(check(&v, &der, "localhost"), Ok(()));
        assert_eq!(check(&v, &der, "127.0.0.1"), Ok(()));
        let (other, _) = self_signed(true, &[]);
        let e = check(&v, &other, "localhost").expect_err("another certificate");
        assert!(e.contains("self-signed and not trusted"), "{e}");
        assert!(e.contains("holds 1 other certificate"), "{e}");
    }

    #[test]
    fn untrusted_certificates_say_how_to_trust_them() {
        let (der, _) = self_signed(false, &["localhost"]);
        let e = check(&verifier(None), &der, "localhost").expect_err("untrusted");
        assert!(
            e.contains("self-signed") && e.contains("GUACAMOLE_CA_CERT"),
            "{e}"
        );
        assert!(e.contains("SHA-256 "), "{e}");
    }

    #[test]
    fn ca_file_problems_name_the_file() {
        let dir = tempfile::tempdir().expect("dir");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").expect("write");
        let e = CaFile::load(&empty).expect_err("no certificate");
        assert!(e.contains("empty.pem holds no PEM certificate"), "{e}");
        let e = CaFile::load(&dir.path().join("missing.pem")).expect_err("missing");
        assert!(e.contains("missing.pem"), "{e}");
        let bad = dir.path().join("bad.pem");
        std::fs::write(
            &bad,
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        )
        .expect("write");
        let e = CaFile::load(&bad).expect_err("unreadable");
        assert!(e.contains("certificate 1 of 1 cannot be read"), "{e}");
    }

    #[test]
    fn pinned_dates_are_checked() {
        let facts = Facts {
            subject: "CN=x".into(),
            issuer: "CN=x".into(),
            self_signed: true,
            names: vec![],
            not_before: 1_000,
            not_after: 2_000,
            sha256: String::new(),
        };
        let at = |s| UnixTime::since_unix_epoch(Duration::from_secs(s));
        assert_eq!(facts.check_dates(at(1_500)), Ok(()));
        assert_eq!(
            facts.check_dates(at(2_001)),
            Err("expired on 1970-01-01T00:33:20Z".to_owned())
        );
        assert!(facts.check_dates(at(999)).is_err());
    }
}
