//! The SQS event a worker receives and the answer it gives, with only the
//! fields the worker reads or writes (others are ignored on the way in).
//!
//! Declared here rather than taken from `aws_lambda_events`'s `sqs` feature:
//! that feature brings `serde_with` and its macro crates (`darling`), about
//! 17 s of CPU in a fresh `make local` build, which builds this crate too.
//! The names and shapes are those of Lambda's SQS event and of
//! `ReportBatchItemFailures`; `tests/worker.rs` reads the same fixture with
//! both these types and `aws_lambda_events`'s.

use std::collections::HashMap;

use serde::{Deserialize, Deserializer, Serialize};

/// One batch of records from the queue (`{"Records": [...]}`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct SqsEvent {
    /// The messages of the batch.
    #[serde(rename = "Records", default, deserialize_with = "null_as_default")]
    pub records: Vec<SqsMessage>,
}

/// One message of a batch.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SqsMessage {
    /// The id the answer names to have the message retried.
    #[serde(default)]
    pub message_id: Option<String>,
    /// What `ChangeMessageVisibility` takes to bring the message back sooner.
    #[serde(default)]
    pub receipt_handle: Option<String>,
    /// The message: a shard job as JSON.
    #[serde(default)]
    pub body: Option<String>,
    /// System attributes such as `ApproximateReceiveCount`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub attributes: HashMap<String, String>,
    /// `aws:sqs`.
    #[serde(default)]
    pub event_source: Option<String>,
}

/// The answer under `ReportBatchItemFailures`: the messages to retry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SqsBatchResponse {
    /// One entry per message SQS should deliver again.
    pub batch_item_failures: Vec<BatchItemFailure>,
}

/// A message to retry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchItemFailure {
    /// The record's `messageId`.
    pub item_identifier: String,
}

/// `null` read as the empty value, as Lambda's events may carry it.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nulls_and_missing_fields_read_as_empty() {
        let event: SqsEvent = serde_json::from_str(
            r#"{"Records":[{"messageId":"m","body":null,"attributes":null,"messageAttributes":{}}]}"#,
        )
        .unwrap();
        assert_eq!(event.records.len(), 1);
        assert_eq!(event.records[0].message_id.as_deref(), Some("m"));
        assert_eq!(event.records[0].body, None);
        assert!(event.records[0].attributes.is_empty());
        let empty: SqsEvent = serde_json::from_str(r#"{"Records":null}"#).unwrap();
        assert!(empty.records.is_empty());
    }

    #[test]
    fn the_answer_names_failures_as_lambda_reads_them() {
        let response = SqsBatchResponse {
            batch_item_failures: vec![BatchItemFailure {
                item_identifier: "m".to_owned(),
            }],
        };
        assert_eq!(
            serde_json::to_value(&response).unwrap(),
            serde_json::json!({"batchItemFailures": [{"itemIdentifier": "m"}]})
        );
    }
}
