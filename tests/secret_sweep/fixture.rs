//! The sweep's fixture: the known secret values, the server state that holds
//! some of them (a login user with its password and TOTP, a TOTP enrolment key),
//! and the manifests, secret files and configuration that carry the others.

use std::path::Path;

use guacamole_testserver::State;
use guacamole_testserver::state::{Permissions, SystemPermission, UserState};

use crate::common::principals_only;

/// The manifests directory and the configuration file `write_manifests` writes,
/// as the commands name them (relative to the sweep directory).
pub(crate) const MANIFESTS: &str = "manifests";
pub(crate) const CONFIG: &str = "guacsync.toml";
pub(crate) const CSV_PASSWORD: &str = "Sw33p-Csv-Literal-91ab";
pub(crate) const YAML_PASSWORD: &str = "Sw33p-Yaml-Literal-77cd";
pub(crate) const KEY_BODY: &str = "Sw33pKeyBody3e3eAAAAB3NzaC1yc2E";
pub(crate) const JSON_PASSPHRASE: &str = "Sw33p-Json-Passphrase-12ef";
pub(crate) const ENV_SECRET: &str = "Sw33p-Env \"Value\"\n5a5a";
pub(crate) const FILE_SECRET: &str = "Sw33p-File-Value-6b6b";
pub(crate) const LOGIN_PASSWORD: &str = "Sw33p-Login-Password&8c8c";
pub(crate) const WRONG_PASSWORD: &str = "Sw33p-Wrong-Password-9d9d";
pub(crate) const TOTP_SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPSWEEPQAA";
pub(crate) const CHANGED_PASSWORD: &str = "Sw33p-Changed-Literal-4f4f";
pub(crate) const USER: &str = "sweeper";
/// Secrets written literally in an estate document: a user's password, a TOTP
/// key attribute, and a sharing profile parameter under a misspelt name.
pub(crate) const ESTATE_PASSWORD: &str = "Sw33p-Estate-Password-1a1a";
pub(crate) const ESTATE_TOTP_KEY: &str = "SW33PESTATETOTPKEY2B2B";
pub(crate) const ESTATE_SHARE_SECRET: &str = "Sw33p-Estate-Share-3c3c";
pub(crate) const OUTSIDE_SECRET: &str = "Sw33p-Outside-Roots-2c2c";
/// Secrets the server holds for `export --estate`: a user's TOTP key attribute
/// and a sharing profile parameter no sharing form declares.
pub(crate) const SERVER_TOTP_KEY: &str = "SW33PSERVERTOTPKEY7E7E";
pub(crate) const SERVER_SHARE_SECRET: &str = "Sw33p-Server-Share-8f8f";
/// A user's TOTP enrolment key as the TOTP extension keeps it (in a state file).
pub(crate) const SERVER_ENROLMENT_KEY: &str = "SW33PENROLMENTKEY9A9A";

pub(crate) fn state() -> State {
    let mut s = principals_only();
    s.users.push(UserState {
        username: USER.into(),
        password: Some(LOGIN_PASSWORD.into()),
        disabled: false,
        attributes: std::collections::BTreeMap::default(),
        permissions: Permissions {
            system_permissions: [
                SystemPermission::Administer,
                SystemPermission::CreateConnection,
                SystemPermission::CreateConnectionGroup,
                SystemPermission::CreateUser,
                SystemPermission::CreateUserGroup,
            ]
            .into(),
            ..Permissions::default()
        },
        last_active: None,
        totp_secret: None,
    });
    s.users.push(UserState {
        username: "enrolled".into(),
        password: None,
        disabled: false,
        attributes: [(
            "guac-totp-key-secret".to_owned(),
            SERVER_TOTP_KEY.to_owned(),
        )]
        .into(),
        permissions: Permissions::default(),
        last_active: None,
        totp_secret: Some(SERVER_ENROLMENT_KEY.into()),
    });
    s
}

pub(crate) fn write_manifests(dir: &Path, csv_password: &str) {
    let m = dir.join("manifests");
    std::fs::create_dir_all(&m).expect("mkdir");
    std::fs::create_dir_all(dir.join("secrets")).expect("mkdir");
    std::fs::write(dir.join("secrets/sweep.txt"), format!("{FILE_SECRET}\n")).expect("write");
    std::fs::write(
        m.join("linux.csv"),
        format!(
            "name,protocol,group,users,hostname,password,passphrase\n\
             web,ssh,ROOT/Prod,alice,web.example.com,{csv_password},${{file:../secrets/sweep.txt}}\n"
        ),
    )
    .expect("write");
    std::fs::write(
        m.join("windows.yaml"),
        format!(
            "- name: desk\n  protocol: rdp\n  group: ROOT/Prod\n  users: [bob]\n  parameters:\n    hostname: desk.example.com\n    password: {YAML_PASSWORD}\n\
             - name: jump\n  protocol: ssh\n  group: ROOT/Prod\n  parameters:\n    hostname: jump.example.com\n    password: ${{env:SWEEP_ENV}}\n    private-key: |\n      -----BEGIN OPENSSH PRIVATE KEY-----\n      {KEY_BODY}\n      -----END OPENSSH PRIVATE KEY-----\n"
        ),
    )
    .expect("write");
    std::fs::write(
        m.join("lab.json"),
        format!(
            "[{{\"name\": \"lab\", \"protocol\": \"ssh\", \"group\": \"ROOT/Lab\", \"parameters\": {{\"hostname\": \"lab\", \"passphrase\": \"{JSON_PASSPHRASE}\"}}}}]\n"
        ),
    )
    .expect("write");
    std::fs::write(
        m.join("estate.yaml"),
        format!(
            "users:\n  - username: newcomer\n    password: {ESTATE_PASSWORD}\n    attributes: {{guac-totp-key-secret: {ESTATE_TOTP_KEY}}}\n  - username: other\n    password: ${{env:SWEEP_ENV}}\nsharingProfiles:\n  - {{connection: ROOT/Prod/web, name: watch, parameters: {{pasword: {ESTATE_SHARE_SECRET}}}}}\n"
        ),
    )
    .expect("write");
    std::fs::write(
        dir.join("guacsync.toml"),
        // The misspelt sharing-profile parameter is sent (with a warning), so
        // that its secret travels the whole way.
        "[scope]\ngroups = [\"ROOT/Prod\", \"ROOT/Lab\"]\n[sync]\ncreate_groups = true\nallow_unknown_parameters = true\n",
    )
    .expect("write");
}
