//! The record of notification deliveries, as the notifier appends it.

use std::path::Path;

use firewatch_event::{DELIVERIES_FILE, Delivery, IncidentId};

use crate::PostmortemError;

/// The delivery attempts about `incident` recorded under `data_dir`, oldest
/// first; none when nothing was ever notified (no file). A last line
/// without its newline is a write cut short and is skipped; any other line
/// that is not a delivery is an error naming it.
pub fn read_deliveries(
    data_dir: &Path,
    incident: IncidentId,
) -> Result<Vec<Delivery>, PostmortemError> {
    let path = data_dir.join(DELIVERIES_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(PostmortemError::Io { path, source }),
    };
    let complete = text.rfind('\n').map_or("", |end| &text[..end]);
    let mut deliveries = Vec::new();
    for (number, line) in complete.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let delivery: Delivery =
            serde_json::from_str(line).map_err(|error| PostmortemError::BadDelivery {
                path: path.clone(),
                line: number + 1,
                reason: error.to_string(),
            })?;
        if delivery.incident == incident {
            deliveries.push(delivery);
        }
    }
    deliveries.sort_by_key(|delivery| delivery.at);
    Ok(deliveries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_incidents_deliveries_and_skips_a_cut_last_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DELIVERIES_FILE);
        assert!(
            read_deliveries(dir.path(), IncidentId(1))
                .unwrap()
                .is_empty()
        );
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let line = |at: &str, incident: u64| {
            format!(
                r#"{{"at":"{at}","incident":"{:016x}","rule":"r","receiver":"oncall","reason":"fired","attempt":1,"outcome":"delivered"}}"#,
                incident
            )
        };
        let text = format!(
            "{}\n{}\n{}\n{{\"at\":",
            line("2026-11-20T09:42:05Z", 1),
            line("2026-11-20T09:41:00Z", 1),
            line("2026-11-20T09:41:00Z", 2)
        );
        std::fs::write(&path, text).unwrap();
        let read = read_deliveries(dir.path(), IncidentId(1)).unwrap();
        assert_eq!(read.len(), 2);
        assert!(read[0].at < read[1].at);

        std::fs::write(&path, "not json\n").unwrap();
        let error = read_deliveries(dir.path(), IncidentId(1)).unwrap_err();
        assert!(error.to_string().contains("deliveries.jsonl:1:"), "{error}");
    }
}
