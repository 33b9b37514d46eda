//! What each kind of receiver is sent: pure functions from an incident to
//! a JSON body, so that their shapes are tested without a network.

use std::collections::BTreeMap;

use firewatch_event::{Incident, NotifyReason, Severity};
use serde_json::{Value, json};

/// Alertmanager's "not ended yet" time, sent as `endsAt` of firing alerts.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";
/// PagerDuty's limit on `payload.summary`, in characters.
const PAGERDUTY_MAX_SUMMARY: usize = 1024;
/// PagerDuty's limit on `dedup_key`, in characters.
const PAGERDUTY_MAX_DEDUP_KEY: usize = 255;

/// A label name Alertmanager accepts (`[a-zA-Z_][a-zA-Z0-9_]*`): other
/// characters become `_` (`fields.rhost` -> `fields_rhost`).
fn label_name(name: &str) -> String {
    let mut label: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if label.starts_with(|c: char| c.is_ascii_digit()) || label.is_empty() {
        label.insert(0, '_');
    }
    label
}

/// The body of an Alertmanager webhook (`webhook_config`, version 4): one
/// group of one alert. Labels: `alertname` (the rule), `severity`,
/// `incident_id`, `key` and the group values; annotations: `summary` (the
/// title) and `description`. The group is the rule and its group values,
/// so `groupKey` is stable for one incident key.
pub fn alertmanager(receiver: &str, reason: NotifyReason, incident: &Incident) -> Value {
    let resolved = reason == NotifyReason::Resolved;
    let status = if resolved { "resolved" } else { "firing" };
    let mut group_labels = BTreeMap::new();
    group_labels.insert("alertname".to_owned(), incident.rule.clone());
    for (name, value) in &incident.group {
        group_labels
            .entry(label_name(name))
            .or_insert_with(|| value.clone());
    }
    let mut labels = group_labels.clone();
    labels.insert("severity".into(), incident.severity.as_str().into());
    labels.insert("incident_id".into(), incident.id.to_string());
    labels.insert("key".into(), incident.key.clone());
    let mut annotations = BTreeMap::new();
    annotations.insert("summary".to_owned(), incident.title.clone());
    if let Some(description) = &incident.description {
        annotations.insert("description".to_owned(), description.clone());
    }
    let ends_at = match (resolved, incident.resolved_at) {
        (true, Some(at)) => at.to_string(),
        (true, None) => incident.last_seen.to_string(),
        (false, _) => ZERO_TIME.to_owned(),
    };
    let group_key = format!(
        "{{}}:{{{}}}",
        group_labels
            .iter()
            .map(|(name, value)| format!("{name}={value:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    json!({
        "version": "4",
        "groupKey": group_key,
        "truncatedAlerts": 0,
        "status": status,
        "receiver": receiver,
        "groupLabels": group_labels,
        "commonLabels": labels,
        "commonAnnotations": annotations,
        "externalURL": "",
        "alerts": [{
            "status": status,
            "labels": labels,
            "annotations": annotations,
            "startsAt": incident.first_seen.to_string(),
            "endsAt": ends_at,
            "generatorURL": "",
            "fingerprint": incident.id.to_string(),
        }],
    })
}

/// PagerDuty's severity for a firewatch severity.
pub fn pagerduty_severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "critical",
        Severity::High => "error",
        Severity::Medium | Severity::Low => "warning",
        Severity::Info => "info",
    }
}

/// The first `max` characters of `text`.
fn truncated(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => text[..end].to_owned(),
        None => text.to_owned(),
    }
}

/// The body of a PagerDuty Events API v2 event: `trigger` when the
/// incident fires, escalates or is re-notified, `resolve` when it
/// resolves, both with the incident key as `dedup_key` (the rule and the
/// incident id when the key is longer than PagerDuty allows).
pub fn pagerduty(routing_key: &str, reason: NotifyReason, incident: &Incident) -> Value {
    let dedup_key = if incident.key.chars().count() <= PAGERDUTY_MAX_DEDUP_KEY {
        incident.key.clone()
    } else {
        format!("{}/{}", truncated(&incident.rule, 200), incident.id)
    };
    if reason == NotifyReason::Resolved {
        return json!({
            "routing_key": routing_key,
            "event_action": "resolve",
            "dedup_key": dedup_key,
        });
    }
    // PagerDuty requires a `source`; `component` is optional, so it is
    // left out rather than sent empty.
    let group_value = |name: &str| {
        incident
            .group
            .get(name)
            .map(String::as_str)
            .filter(|value| !value.is_empty())
    };
    let mut payload = json!({
            "summary": truncated(&incident.title, PAGERDUTY_MAX_SUMMARY),
            "source": group_value("host").unwrap_or("firewatch"),
            "severity": pagerduty_severity(incident.severity),
            "timestamp": incident.first_seen.to_string(),
            "class": incident.rule,
            "custom_details": {
                "reason": reason,
                "incident_id": incident.id,
                "key": incident.key,
                "severity": incident.severity,
                "description": incident.description,
                "count": incident.count,
                "first_seen": incident.first_seen,
                "last_seen": incident.last_seen,
                "group": incident.group,
            },
    });
    if let (Some(service), Some(fields)) = (group_value("service"), payload.as_object_mut()) {
        fields.insert("component".into(), service.into());
    }
    json!({
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": dedup_key,
        "client": "firewatch",
        "payload": payload,
    })
}

/// The body of a `json` receiver and the standard input of a `command`
/// receiver: the reason and the incident as firewatch stores it.
pub fn plain(reason: NotifyReason, incident: &Incident) -> Value {
    json!({ "reason": reason, "incident": incident })
}

#[cfg(test)]
mod tests {
    use firewatch_event::IncidentState;

    use super::*;
    use crate::tests::incident;

    #[test]
    fn alertmanager_bodies_have_the_webhook_fields() {
        let mut open = incident(
            "db-down",
            &[("host", "db-01"), ("fields.rhost", "10.0.0.1")],
        );
        open.description = Some("20 failures".into());
        let body = alertmanager("oncall", NotifyReason::Fired, &open);
        for key in [
            "version",
            "groupKey",
            "truncatedAlerts",
            "status",
            "receiver",
            "groupLabels",
            "commonLabels",
            "commonAnnotations",
            "externalURL",
            "alerts",
        ] {
            assert!(body.get(key).is_some(), "{key} missing: {body}");
        }
        assert_eq!(body["version"], "4");
        assert_eq!(body["status"], "firing");
        assert_eq!(body["receiver"], "oncall");
        assert_eq!(
            body["groupKey"],
            r#"{}:{alertname="db-down", fields_rhost="10.0.0.1", host="db-01"}"#
        );
        let alert = &body["alerts"][0];
        assert_eq!(alert["status"], "firing");
        assert_eq!(alert["labels"]["alertname"], "db-down");
        assert_eq!(alert["labels"]["severity"], "high");
        assert_eq!(alert["labels"]["host"], "db-01");
        assert_eq!(alert["labels"]["fields_rhost"], "10.0.0.1");
        assert_eq!(alert["labels"]["incident_id"], open.id.to_string());
        assert_eq!(alert["annotations"]["summary"], open.title);
        assert_eq!(alert["annotations"]["description"], "20 failures");
        assert_eq!(alert["startsAt"], open.first_seen.to_string());
        assert_eq!(alert["endsAt"], ZERO_TIME);
        assert_eq!(alert["fingerprint"], open.id.to_string());

        let mut resolved = open.clone();
        resolved.state = IncidentState::Resolved;
        resolved.resolved_at = Some(open.last_seen + jiff::SignedDuration::from_mins(5));
        let body = alertmanager("oncall", NotifyReason::Resolved, &resolved);
        assert_eq!(body["status"], "resolved");
        assert_eq!(
            body["alerts"][0]["endsAt"],
            resolved.resolved_at.unwrap().to_string()
        );
    }

    #[test]
    fn pagerduty_events_trigger_and_resolve_on_the_incident_key() {
        let mut open = incident("db-down", &[("host", "db-01"), ("service", "postgres")]);
        open.severity = Severity::Critical;
        let body = pagerduty("R0UT1NG", NotifyReason::Fired, &open);
        assert_eq!(body["routing_key"], "R0UT1NG");
        assert_eq!(body["event_action"], "trigger");
        assert_eq!(body["dedup_key"], open.key);
        assert_eq!(body["payload"]["summary"], open.title);
        assert_eq!(body["payload"]["source"], "db-01");
        assert_eq!(body["payload"]["severity"], "critical");
        assert_eq!(body["payload"]["component"], "postgres");
        assert_eq!(body["payload"]["timestamp"], open.first_seen.to_string());
        assert_eq!(body["payload"]["custom_details"]["reason"], "fired");

        let resolve = pagerduty("R0UT1NG", NotifyReason::Resolved, &open);
        assert_eq!(resolve["event_action"], "resolve");
        assert_eq!(resolve["dedup_key"], open.key);
        assert!(resolve.get("payload").is_none());

        let mut long = open.clone();
        long.key = "k".repeat(300);
        long.title = "t".repeat(2000);
        let body = pagerduty("R", NotifyReason::Renotify, &long);
        assert!(body["dedup_key"].as_str().unwrap().chars().count() <= 255);
        assert_eq!(body["payload"]["summary"].as_str().unwrap().len(), 1024);

        // No host, no service: a meaningful source, and no component.
        let bare = pagerduty("R", NotifyReason::Fired, &incident("disk-full", &[]));
        assert_eq!(bare["payload"]["source"], "firewatch");
        assert!(bare["payload"].get("component").is_none(), "{bare}");

        for (severity, expected) in [
            (Severity::Critical, "critical"),
            (Severity::High, "error"),
            (Severity::Medium, "warning"),
            (Severity::Low, "warning"),
            (Severity::Info, "info"),
        ] {
            assert_eq!(pagerduty_severity(severity), expected);
        }
    }

    #[test]
    fn plain_bodies_carry_the_incident_as_stored() {
        let open = incident("db-down", &[]);
        let body = plain(NotifyReason::Escalated, &open);
        assert_eq!(body["reason"], "escalated");
        let back: Incident = serde_json::from_value(body["incident"].clone()).unwrap();
        assert_eq!(back, open);
    }
}
