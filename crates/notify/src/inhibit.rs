//! Inhibition, as in Alertmanager's `inhibit_rules`: while an open
//! incident matches a rule's source matchers, the notifications of other
//! incidents that match its target matchers and share the values of its
//! `equal` labels are suppressed.
//!
//! One difference: a label named in `equal` must be present on both
//! incidents (Alertmanager counts two missing labels as equal), so that
//! the default rule's "same host" never links incidents that name no host.

use std::collections::BTreeMap;

use firewatch_event::{Incident, IncidentId, IncidentState};

use crate::matcher::{MatchOp, Matcher, all_match, incident_labels};

/// One inhibition rule.
#[derive(Clone, Debug)]
pub struct InhibitRule {
    /// What an open incident must match to inhibit.
    pub source: Vec<Matcher>,
    /// What an incident must match to be inhibited.
    pub target: Vec<Matcher>,
    /// Labels both must have, with the same values.
    pub equal: Vec<String>,
}

impl InhibitRule {
    /// The rule used when the pipeline names none: an open critical
    /// incident on a host suppresses lower-severity notifications of
    /// other incidents on the same host.
    pub fn default_rule() -> Self {
        let matcher = |name: &str, op, value: &str| {
            Matcher::new(name, op, value).unwrap_or_else(|_| unreachable!("a fixed valid matcher"))
        };
        Self {
            source: vec![matcher("severity", MatchOp::Equal, "critical")],
            target: vec![matcher("severity", MatchOp::NotEqual, "critical")],
            equal: vec!["host".into()],
        }
    }

    fn inhibits(
        &self,
        source: &BTreeMap<String, String>,
        target: &BTreeMap<String, String>,
    ) -> bool {
        all_match(&self.source, source)
            && all_match(&self.target, target)
            && self.equal.iter().all(
                |name| matches!((source.get(name), target.get(name)), (Some(a), Some(b)) if a == b),
            )
    }
}

/// The open incidents, and the rules that let them inhibit others.
pub struct Inhibitor {
    rules: Vec<InhibitRule>,
    open: BTreeMap<IncidentId, BTreeMap<String, String>>,
}

impl Inhibitor {
    /// An inhibitor with these rules and no open incident.
    pub fn new(rules: Vec<InhibitRule>) -> Self {
        Self {
            rules,
            open: BTreeMap::new(),
        }
    }

    /// Takes note of an incident's latest state.
    pub fn update(&mut self, incident: &Incident) {
        if incident.state == IncidentState::Open {
            self.open.insert(incident.id, incident_labels(incident));
        } else {
            self.open.remove(&incident.id);
        }
    }

    /// The open incident that inhibits notifications about `incident`, if
    /// any (never itself).
    pub fn inhibited_by(&self, incident: &Incident) -> Option<IncidentId> {
        if self.rules.is_empty() {
            return None;
        }
        let target = incident_labels(incident);
        self.open.iter().find_map(|(id, source)| {
            (*id != incident.id && self.rules.iter().any(|rule| rule.inhibits(source, &target)))
                .then_some(*id)
        })
    }
}

#[cfg(test)]
mod tests {
    use firewatch_event::Severity;

    use super::*;
    use crate::tests::incident;

    fn with(severity: Severity, state: IncidentState, rule: &str, host: Option<&str>) -> Incident {
        let mut incident = incident(
            rule,
            &host.map(|host| [("host", host)]).unwrap_or_default()[..],
        );
        incident.severity = severity;
        incident.state = state;
        incident
    }

    #[test]
    fn an_open_critical_incident_inhibits_lower_ones_on_its_host() {
        let mut inhibitor = Inhibitor::new(vec![InhibitRule::default_rule()]);
        let critical = with(
            Severity::Critical,
            IncidentState::Open,
            "db-down",
            Some("db-01"),
        );
        let same_host = with(
            Severity::High,
            IncidentState::Open,
            "disk-io",
            Some("db-01"),
        );
        let other_host = with(
            Severity::High,
            IncidentState::Open,
            "disk-io",
            Some("db-02"),
        );
        let no_host = with(Severity::Low, IncidentState::Open, "x", None);
        let also_critical = with(Severity::Critical, IncidentState::Open, "y", Some("db-01"));
        assert_eq!(inhibitor.inhibited_by(&same_host), None);
        inhibitor.update(&critical);
        assert_eq!(inhibitor.inhibited_by(&same_host), Some(critical.id));
        assert_eq!(inhibitor.inhibited_by(&other_host), None);
        assert_eq!(inhibitor.inhibited_by(&no_host), None);
        assert_eq!(inhibitor.inhibited_by(&also_critical), None);
        assert_eq!(inhibitor.inhibited_by(&critical), None);
        // Once the critical incident resolves, it inhibits nothing.
        let mut resolved = critical.clone();
        resolved.state = IncidentState::Resolved;
        inhibitor.update(&resolved);
        assert_eq!(inhibitor.inhibited_by(&same_host), None);
    }

    #[test]
    fn configured_rules_use_their_matchers_and_equal_labels() {
        let rule = InhibitRule {
            source: vec!["rule=db-down".parse().unwrap()],
            target: vec!["rule=~conn.*".parse().unwrap()],
            equal: vec!["service".into()],
        };
        let mut inhibitor = Inhibitor::new(vec![rule]);
        let mut source = incident("db-down", &[("service", "postgres")]);
        source.state = IncidentState::Open;
        inhibitor.update(&source);
        let target = incident("connection-refused", &[("service", "postgres")]);
        let other_service = incident("connection-refused", &[("service", "api")]);
        let other_rule = incident("disk-full", &[("service", "postgres")]);
        assert_eq!(inhibitor.inhibited_by(&target), Some(source.id));
        assert_eq!(inhibitor.inhibited_by(&other_service), None);
        assert_eq!(inhibitor.inhibited_by(&other_rule), None);
        assert_eq!(Inhibitor::new(Vec::new()).inhibited_by(&target), None);
    }
}
