//! TLS: a pinned self-signed certificate through `--ca-cert`, `GUACAMOLE_CA_CERT`
//! and `ca_cert` (flag over environment over file), a private CA, the errors of
//! untrusted certificates (each says how to trust it, printed once), and
//! `--insecure` warning also under `-q`.

use rustls::pki_types::pem::PemObject as _;

use super::*;

/// The `openssl req -x509` certificate (CA:TRUE), pinned each of the three ways;
/// the flag wins over the environment, which wins over the file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pinned_openssl_certificate_via_flag_env_and_toml() {
    let dir = workdir();
    let good = openssl_self_signed(dir.path(), "server", "guac.test");
    let other = openssl_self_signed(dir.path(), "other", "guac.test");
    let server = tls_server(&good).await;
    // The CN names no host the URL uses: a pin is accepted whatever the name.
    let url = server.base_url().to_owned();
    let good_path = good.cert_path.to_str().expect("utf-8");
    let other_path = other.cert_path.to_str().expect("utf-8");
    let toml = |cert: &str| {
        let config = dir.path().join("guacsync.toml");
        std::fs::write(&config, format!("[server]\nca_cert = \"{cert}\"\n")).expect("write");
    };

    // Each way alone (the toml path is relative to the configuration file).
    let flag = plan(&server, dir.path(), &url, &["--ca-cert", good_path], &[]).await;
    assert_eq!(flag.status.code(), Some(0), "{}", stderr(&flag));
    let env = plan(
        &server,
        dir.path(),
        &url,
        &[],
        &[("GUACAMOLE_CA_CERT", good_path)],
    )
    .await;
    assert_eq!(env.status.code(), Some(0), "{}", stderr(&env));
    toml("server.pem");
    let file = plan(&server, dir.path(), &url, &[], &[]).await;
    assert_eq!(file.status.code(), Some(0), "{}", stderr(&file));
    assert!(
        stdout(&file).contains("+ connection ROOT/web-1"),
        "{}",
        stdout(&file)
    );

    // Precedence: the environment over the file, the flag over the environment.
    toml("other.pem");
    let env_wins = plan(
        &server,
        dir.path(),
        &url,
        &[],
        &[("GUACAMOLE_CA_CERT", good_path)],
    )
    .await;
    assert_eq!(env_wins.status.code(), Some(0), "{}", stderr(&env_wins));
    let flag_wins = plan(
        &server,
        dir.path(),
        &url,
        &["--ca-cert", good_path],
        &[("GUACAMOLE_CA_CERT", other_path)],
    )
    .await;
    assert_eq!(flag_wins.status.code(), Some(0), "{}", stderr(&flag_wins));
    server.clear_requests();
    let wrong_flag = plan(
        &server,
        dir.path(),
        &url,
        &["--ca-cert", other_path],
        &[("GUACAMOLE_CA_CERT", good_path)],
    )
    .await;
    let err = failed_once(&wrong_flag);
    assert!(err.contains("self-signed and not trusted"), "{err}");
    assert!(err.contains("holds 1 other certificate"), "{err}");
    assert!(
        server.requests().is_empty(),
        "nothing passes an untrusted handshake"
    );
}

/// A private CA through the flag; a CA-issued certificate used under another name
/// says which names it has; pinning that certificate itself accepts it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_ca_and_a_pinned_ca_issued_certificate() {
    let dir = workdir();
    let (ca, ca_pem) = rcgen_ca("guacsync test CA");
    let ca_path = dir.path().join("ca.pem");
    std::fs::write(&ca_path, ca_pem).expect("write");
    let ca_arg = ca_path.to_str().expect("utf-8");
    let leaf = rcgen_leaf(dir.path(), "leaf.pem", &["localhost"], Some(&ca), None);
    let server = tls_server(&leaf).await;
    let port = server.addr().port();
    let by_name = format!("https://localhost:{port}/guacamole");
    let ok = plan(&server, dir.path(), &by_name, &["--ca-cert", ca_arg], &[]).await;
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));

    let by_ip = format!("https://127.0.0.1:{port}/guacamole");
    let wrong_name = plan(&server, dir.path(), &by_ip, &["--ca-cert", ca_arg], &[]).await;
    let err = failed_once(&wrong_name);
    assert!(
        err.contains(&format!(
            "POST https://127.0.0.1:{port}/guacamole/api/tokens"
        )),
        "{err}"
    );
    assert!(
        err.contains("is not valid for 127.0.0.1: it names localhost"),
        "{err}"
    );
    assert!(err.contains("pinned"), "{err}");

    let leaf_arg = leaf.cert_path.to_str().expect("utf-8");
    let pinned = plan(&server, dir.path(), &by_ip, &["--ca-cert", leaf_arg], &[]).await;
    assert_eq!(pinned.status.code(), Some(0), "{}", stderr(&pinned));
}

/// Untrusted certificates: each error names the certificate, says why, says how to
/// trust it, and is printed once; nothing gets past the handshake.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untrusted_certificates_say_how_to_trust_them() {
    let dir = workdir();
    let (ca, _) = rcgen_ca("guacsync test CA");
    let (impostor_ca, impostor_pem) = rcgen_ca("guacsync test CA");
    let impostor_path = dir.path().join("impostor-ca.pem");
    std::fs::write(&impostor_path, impostor_pem).expect("write");
    drop(impostor_ca);

    // Self-signed (openssl), nothing named: the fingerprint and the three ways.
    let self_signed = openssl_self_signed(dir.path(), "self", "guac.test");
    let server = tls_server(&self_signed).await;
    let url = server.base_url().to_owned();
    let out = plan(&server, dir.path(), &url, &[], &[]).await;
    let err = failed_once(&out);
    let der = rustls::pki_types::CertificateDer::from_pem_slice(self_signed.cert.as_bytes())
        .expect("der");
    let fingerprint: Vec<String> = <sha2::Sha256 as sha2::Digest>::digest(der.as_ref())
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    for needle in [
        "self-signed and not trusted",
        &fingerprint.join(":"),
        "--ca-cert FILE, GUACAMOLE_CA_CERT=FILE or ca_cert in guacsync.toml",
        &format!(
            "openssl s_client -connect 127.0.0.1:{}",
            server.addr().port()
        ),
    ] {
        assert!(err.contains(needle), "{needle:?} not in:\n{err}");
    }
    assert!(server.requests().is_empty());
    drop(server);

    // Issued by a CA nobody named.
    let issued = rcgen_leaf(dir.path(), "issued.pem", &["localhost"], Some(&ca), None);
    let server = tls_server(&issued).await;
    let url = format!("https://localhost:{}/guacamole", server.addr().port());
    let err = failed_once(&plan(&server, dir.path(), &url, &[], &[]).await);
    assert!(
        err.contains("issued by CN=guacsync test CA) was issued by a CA that is neither"),
        "{err}"
    );
    assert!(err.contains("name the issuing CA's certificate"), "{err}");

    // Another CA with the same name (a CA re-created with a new key).
    let impostor = impostor_path.to_str().expect("utf-8");
    let err = failed_once(&plan(&server, dir.path(), &url, &["--ca-cert", impostor], &[]).await);
    assert!(err.contains("another CA with the same name"), "{err}");
    assert!(err.contains("impostor-ca.pem"), "{err}");
    drop(server);

    // Expired, from a trusted CA.
    let (trusted, trusted_pem) = rcgen_ca("guacsync trusted CA");
    let trusted_path = dir.path().join("trusted-ca.pem");
    std::fs::write(&trusted_path, trusted_pem).expect("write");
    let trusted_arg = trusted_path.to_str().expect("utf-8");
    let expired = rcgen_leaf(
        dir.path(),
        "expired.pem",
        &["localhost"],
        Some(&trusted),
        Some((2021, 3, 4)),
    );
    let server = tls_server(&expired).await;
    let url = format!("https://localhost:{}/guacamole", server.addr().port());
    let err = failed_once(&plan(&server, dir.path(), &url, &["--ca-cert", trusted_arg], &[]).await);
    assert!(err.contains("expired on 2021-03-04T00:00:00Z"), "{err}");
    // Pinned does not mean forever: the pin's dates are checked too.
    let pinned = expired.cert_path.to_str().expect("utf-8");
    let err = failed_once(&plan(&server, dir.path(), &url, &["--ca-cert", pinned], &[]).await);
    assert!(
        err.contains(
            "the pinned certificate (subject CN=guac.test, issued by CN=guacsync trusted CA, in "
        ),
        "{err}"
    );
    assert!(err.contains("expired on 2021-03-04T00:00:00Z"), "{err}");
    assert!(server.requests().is_empty());

    // A ca_cert file that holds no certificate is named, before any connection.
    let not_pem = dir.path().join("not.pem");
    std::fs::write(&not_pem, "hello\n").expect("write");
    let err = failed_once(
        &plan(
            &server,
            dir.path(),
            &url,
            &["--ca-cert", not_pem.to_str().expect("utf-8")],
            &[],
        )
        .await,
    );
    assert!(err.contains("not.pem holds no PEM certificate"), "{err}");
}

/// `--insecure` warns on every run, `-q` included, and still works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insecure_warns_even_when_quiet() {
    let dir = workdir();
    let pem = openssl_self_signed(dir.path(), "server", "guac.test");
    let server = tls_server(&pem).await;
    let url = server.base_url().to_owned();
    for args in [&["--insecure"][..], &["--insecure", "-q"][..]] {
        let out = plan(&server, dir.path(), &url, args, &[]).await;
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let err = stderr(&out);
        let warnings = err
            .lines()
            .filter(|l| l.starts_with("warning: --insecure: the TLS certificate of 127.0.0.1:"))
            .count();
        assert_eq!(warnings, 1, "{args:?}:\n{err}");
        assert!(err.contains("is not verified"), "{err}");
    }
}
