//! Sigma field names and log sources, mapped to firewatch's event model.
//!
//! Sigma rules for Linux name fields after the log they were written for
//! (`Image`, `ProcessId`, `User`, ...). A syslog-style event has a host, a
//! service (the program), a level and a message, and the syslog parser
//! keeps `facility`, `severity` and `procid` among its fields. The tables
//! here are the ones `docs/sigma.md` documents; a name not in them is a
//! structured field (`fields.NAME`).

use crate::syntax::{ConditionSpec, Literal};

use super::{LogSource, spanned};

/// Sigma field names (compared without case) and the event field each
/// maps to.
const FIELDS: &[(&[&str], &str)] = &[
    (
        &["message", "msg", "syslog.message", "log.message"],
        "message",
    ),
    (
        &[
            "host",
            "hostname",
            "host.name",
            "host.hostname",
            "computer",
            "computername",
        ],
        "host",
    ),
    (
        &[
            "service",
            "program",
            "programname",
            "app",
            "appname",
            "app_name",
            "syslog_identifier",
            "image",
            "process",
            "processname",
            "process.name",
        ],
        "service",
    ),
    (
        &["pid", "procid", "processid", "process.pid", "syslog.procid"],
        "fields.procid",
    ),
    (&["facility", "syslog.facility"], "fields.facility"),
    (&["severity", "syslog.severity"], "fields.severity"),
    (&["level", "log.level"], "level"),
    (
        &["user", "username", "user.name", "targetusername"],
        "fields.user",
    ),
];

/// The event field a Sigma field name stands for.
pub(crate) fn field(name: &str) -> String {
    let name = name.trim();
    FIELDS
        .iter()
        .find(|(names, _)| names.iter().any(|known| known.eq_ignore_ascii_case(name)))
        .map_or_else(
            || format!("fields.{}", name.strip_prefix("fields.").unwrap_or(name)),
            |(_, mapped)| (*mapped).to_owned(),
        )
}

/// Sigma `logsource.service` values for Linux and the program names
/// (firewatch `service`) that write those logs.
const SERVICES: &[(&str, &[&str])] = &[
    ("sshd", &["sshd", "sshd-session"]),
    ("sudo", &["sudo"]),
    ("su", &["su"]),
    ("cron", &["cron", "CRON", "crond", "anacron"]),
    ("auditd", &["auditd", "audit"]),
    ("vsftpd", &["vsftpd"]),
    ("clamav", &["clamd", "freshclam"]),
];

/// The condition a log source narrows a rule to: the services that write
/// its log, for a `service` firewatch knows. Other services, products and
/// categories do not narrow the rule (see `docs/sigma.md`).
pub(crate) fn log_source(log_source: &LogSource) -> Option<serde_saphyr::Spanned<ConditionSpec>> {
    let service = log_source.service.as_ref()?;
    let (_, programs) = SERVICES
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(service.value.trim()))?;
    let location = service.referenced;
    let values = programs
        .iter()
        .map(|program| spanned(Literal::Text((*program).to_owned()), location))
        .collect();
    Some(spanned(
        ConditionSpec {
            field: Some(spanned("service".to_owned(), location)),
            op: Some(spanned("in".to_owned(), location)),
            value: Some(spanned(Literal::List(values), location)),
            ..ConditionSpec::default()
        },
        location,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_names_map_to_the_event_model_and_others_to_fields() {
        for (name, mapped) in [
            ("msg", "message"),
            ("Computer", "host"),
            ("Image", "service"),
            ("ProcessId", "fields.procid"),
            ("facility", "fields.facility"),
            ("level", "level"),
            ("User", "fields.user"),
            ("rhost", "fields.rhost"),
            ("fields.http.status", "fields.http.status"),
        ] {
            assert_eq!(field(name), mapped, "{name}");
        }
    }
}
