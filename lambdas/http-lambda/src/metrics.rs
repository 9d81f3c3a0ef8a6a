//! CloudWatch metrics without an API call: one JSON line in the Embedded
//! Metric Format on standard output, which Lambda ships to CloudWatch Logs
//! and CloudWatch turns into metrics.

use channels::fanout::Published;
use channels::{ChannelName, PublishReport};
use serde_json::{json, Map, Value};
use tracing::info;

/// The namespace of every metric of this service.
pub const NAMESPACE: &str = "LambdaRustWebsocket";

/// The outcome of one fan-out (a synchronous publish or one shard job), as
/// an EMF line: metrics `Delivered`, `Gone`, `Failed` (Count) and `Duration`
/// (Milliseconds) under the dimension `Mode` (`sync` or `async`), with
/// `properties` (publish id, channel, shard…) searchable in the logs.
pub fn fanout_line(
    mode: &str,
    report: &PublishReport,
    duration_ms: u64,
    properties: &[(&str, Value)],
    timestamp_ms: i64,
) -> String {
    let mut line = Map::new();
    line.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["Mode"]],
                "Metrics": [
                    {"Name": "Delivered", "Unit": "Count"},
                    {"Name": "Gone", "Unit": "Count"},
                    {"Name": "Failed", "Unit": "Count"},
                    {"Name": "Duration", "Unit": "Milliseconds"},
                ],
            }],
        }),
    );
    line.insert("Mode".into(), json!(mode));
    line.insert("Delivered".into(), json!(report.delivered));
    line.insert("Gone".into(), json!(report.gone));
    line.insert("Failed".into(), json!(report.failed));
    line.insert("Duration".into(), json!(duration_ms));
    for (name, value) in properties {
        line.insert((*name).to_owned(), value.clone());
    }
    Value::Object(line).to_string()
}

/// Prints [`fanout_line`], stamped now, on standard output, where Lambda
/// picks it up.
pub fn print_fanout(
    mode: &str,
    report: &PublishReport,
    duration_ms: u64,
    properties: &[(&str, Value)],
) {
    println!(
        "{}",
        fanout_line(
            mode,
            report,
            duration_ms,
            properties,
            channels::now_millis()
        )
    );
}

/// Logs what a publish did (never its body) and, with `metrics`, prints
/// the EMF line of a synchronous one.
pub fn log_published(
    channel: &ChannelName,
    publish_id: &str,
    bytes: usize,
    published: &Published,
    started: std::time::Instant,
    metrics: bool,
) {
    let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    match published {
        Published::Sync { position, report } => {
            info!(
                mode = "sync",
                publish_id = %publish_id,
                offset = position.offset,
                bytes,
                recipients = report.recipients,
                delivered = report.delivered,
                gone = report.gone,
                failed = report.failed,
                duration_ms,
                "published"
            );
            if metrics {
                let properties = [
                    ("channel", json!(channel.as_str())),
                    ("publishId", json!(publish_id)),
                ];
                print_fanout("sync", report, duration_ms, &properties);
            }
        }
        Published::Async {
            position, shards, ..
        } => {
            info!(mode = "async", publish_id = %publish_id, offset = position.offset, shards, bytes, "published: handed to the workers");
        }
        Published::Duplicate { offset } => {
            info!(publish_id = %publish_id, offset, "publish key seen before: not delivered again");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_declares_each_metric_it_carries() {
        let report = PublishReport {
            delivered: 10,
            gone: 2,
            failed: 1,
            ..PublishReport::default()
        };
        let line = fanout_line(
            "async",
            &report,
            345,
            &[("publishId", json!("p1")), ("shard", json!(3))],
            1_700_000_000_000,
        );
        let v: Value = serde_json::from_str(&line).unwrap();
        let declared = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(declared["Namespace"], NAMESPACE);
        assert_eq!(declared["Dimensions"], json!([["Mode"]]));
        assert_eq!(v["_aws"]["Timestamp"], 1_700_000_000_000_i64);
        for metric in declared["Metrics"].as_array().unwrap() {
            let name = metric["Name"].as_str().unwrap();
            assert!(v[name].is_u64(), "{name} has a value");
        }
        assert_eq!(
            (
                v["Mode"].as_str(),
                v["Delivered"].as_u64(),
                v["Duration"].as_u64()
            ),
            (Some("async"), Some(10), Some(345))
        );
        assert_eq!(
            (v["publishId"].as_str(), v["shard"].as_u64()),
            (Some("p1"), Some(3))
        );
        assert!(!line.contains('\n'), "one line");
    }
}
