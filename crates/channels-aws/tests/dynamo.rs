//! The DynamoDB adapter against moto_server on 127.0.0.1, with the table
//! layout Terraform declares (`channels_aws::schema`, checked against
//! terraform/dynamodb.tf by the contract-tests crate's terraform_contract test).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

use aws_sdk_dynamodb::types::{KeyType, PutRequest, WriteRequest};
use channels::testing::MemoryNotifier;
use channels::{publish, ChannelName, Connection, ConnectionStore, PublishOptions, Shards};
use channels_aws::dynamo::{ensure_table, item, DynamoStore};
use channels_aws::schema::{
    partition, CHANNEL_ATTRIBUTE, CHANNEL_INDEX, INDEX_HASH_KEY, INDEX_RANGE_KEY, TABLE_HASH_KEY,
    TTL_ATTRIBUTE,
};
use channels_aws::testing::MotoServer;

const NEEDS_MOTO: &str = "needs moto_server; `make test` runs it";

fn channel(name: &str) -> ChannelName {
    ChannelName::parse(name).expect("valid channel name")
}

async fn store(moto: &MotoServer, table: &str) -> DynamoStore {
    let client = moto.dynamodb_client();
    ensure_table(&client, table).await.expect("create table");
    DynamoStore::new(client, table)
}

/// Every member of every shard, and how many pages that took.
async fn all_members(store: &DynamoStore, channel: &ChannelName) -> (Vec<String>, usize) {
    let (mut ids, mut pages) = (Vec::new(), 0);
    for shard in store.shards().all() {
        let (found, n) = shard_members(store, channel, shard).await;
        ids.extend(found);
        pages += n;
    }
    ids.sort();
    (ids, pages)
}

async fn shard_members(
    store: &DynamoStore,
    channel: &ChannelName,
    shard: u16,
) -> (Vec<String>, usize) {
    let (mut ids, mut pages, mut cursor) = (Vec::new(), 0, None);
    loop {
        let page = store
            .members(channel, shard, cursor, None)
            .await
            .expect("query");
        pages += 1;
        ids.extend(page.connection_ids);
        match page.next {
            Some(next) => cursor = Some(next),
            None => return (ids, pages),
        }
    }
}

#[tokio::test]
#[ignore = "needs moto_server; `make test` runs it"]
async fn table_has_the_declared_keys_index_and_ttl() {
    let moto = MotoServer::start().expect(NEEDS_MOTO);
    let store = store(&moto, "schema").await;
    let table = store
        .client()
        .describe_table()
        .table_name("schema")
        .send()
        .await
        .expect("describe");
    let table = table.table().expect("table description");
    let keys: Vec<_> = table
        .key_schema()
        .iter()
        .map(|k| (k.attribute_name(), k.key_type().clone()))
        .collect();
    assert_eq!(keys, [(TABLE_HASH_KEY, KeyType::Hash)]);
    let index = &table.global_secondary_indexes()[0];
    assert_eq!(index.index_name(), Some(CHANNEL_INDEX));
    let keys: Vec<_> = index
        .key_schema()
        .iter()
        .map(|k| (k.attribute_name(), k.key_type().clone()))
        .collect();
    assert_eq!(
        keys,
        [
            (INDEX_HASH_KEY, KeyType::Hash),
            (INDEX_RANGE_KEY, KeyType::Range)
        ]
    );
    let ttl = store
        .client()
        .describe_time_to_live()
        .table_name("schema")
        .send()
        .await
        .expect("ttl");
    assert_eq!(
        ttl.time_to_live_description()
            .and_then(|t| t.attribute_name()),
        Some(TTL_ATTRIBUTE)
    );
    // Creating it again is a no-op.
    ensure_table(store.client(), "schema")
        .await
        .expect("idempotent");
}

#[tokio::test]
#[ignore = "needs moto_server; `make test` runs it"]
async fn put_query_count_and_delete() {
    let moto = MotoServer::start().expect(NEEDS_MOTO);
    let store = store(&moto, "crud").await;
    let now = channels::now_millis();
    for (id, ch) in [("a=", "red"), ("b=", "red"), ("c=", "blue")] {
        store
            .put(&Connection::new(id, channel(ch), now))
            .await
            .expect("put");
    }

    // The item is stored in the documented shape.
    let got = store
        .client()
        .get_item()
        .table_name("crud")
        .key(
            TABLE_HASH_KEY,
            item(&Connection::new("a=", channel("red"), now), Shards::ONE)[TABLE_HASH_KEY].clone(),
        )
        .send()
        .await
        .expect("get");
    assert_eq!(
        got.item().cloned(),
        Some(item(
            &Connection::new("a=", channel("red"), now),
            Shards::ONE
        ))
    );

    assert_eq!(all_members(&store, &channel("red")).await.0, ["a=", "b="]);
    assert_eq!(channels::count(&store, &channel("red")).await.ok(), Some(2));
    assert_eq!(
        channels::count(&store, &channel("blue")).await.ok(),
        Some(1)
    );
    assert_eq!(
        channels::count(&store, &channel("none")).await.ok(),
        Some(0)
    );

    store.remove("a=").await.expect("delete");
    store
        .remove("a=")
        .await
        .expect("deleting a missing connection succeeds");
    assert_eq!(all_members(&store, &channel("red")).await.0, ["b="]);
}

#[tokio::test]
#[ignore = "needs moto_server; `make test` runs it"]
async fn expired_items_are_filtered_out() {
    let moto = MotoServer::start().expect(NEEDS_MOTO);
    let store = store(&moto, "ttl").await;
    let mut stale = Connection::new("stale=", channel("room"), 0);
    stale.expires_at = channels::now_millis() / 1000 - 60;
    store.put(&stale).await.expect("put");
    store
        .put(&Connection::new(
            "fresh=",
            channel("room"),
            channels::now_millis(),
        ))
        .await
        .expect("put");
    assert_eq!(all_members(&store, &channel("room")).await.0, ["fresh="]);
    assert_eq!(
        channels::count(&store, &channel("room")).await.ok(),
        Some(1)
    );
}

#[tokio::test]
#[ignore = "needs moto_server; `make test` runs it"]
async fn a_channel_larger_than_one_1mb_page_is_followed_to_the_end() {
    // GIVEN 5,000 members whose items are ~330 bytes: ~1.6 MB, more than one
    // 1 MB Query page, plus members of another channel interleaved.
    let moto = MotoServer::start().expect(NEEDS_MOTO);
    let store = store(&moto, "big").await;
    let big = channel(&"b".repeat(128));
    let now = channels::now_millis();
    let ids: Vec<String> = (0..5000)
        .map(|i| format!("{i:05}{}", "x".repeat(150)))
        .collect();
    let mut requests: Vec<WriteRequest> = ids
        .iter()
        .map(|id| Connection::new(id.clone(), big.clone(), now))
        .chain((0..50).map(|i| Connection::new(format!("other{i}"), channel("small"), now)))
        .map(|c| {
            let put = PutRequest::builder()
                .set_item(Some(item(&c, Shards::ONE)))
                .build()
                .expect("put request");
            WriteRequest::builder().put_request(put).build()
        })
        .collect();
    while !requests.is_empty() {
        let batch: Vec<_> = requests.drain(..requests.len().min(25)).collect();
        store
            .client()
            .batch_write_item()
            .request_items("big", batch)
            .send()
            .await
            .expect("batch write");
    }

    // WHEN listing the channel page by page
    let (found, pages) = all_members(&store, &big).await;

    // THEN it took more than one page and found every member exactly once
    assert!(pages >= 2, "expected several pages, got {pages}");
    let mut sorted = found.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 5000);
    assert_eq!(sorted, ids);
    assert_eq!(channels::count(&store, &big).await.ok(), Some(5000));

    // AND a publish reaches all of them
    let notifier = MemoryNotifier::new();
    let report = publish(&store, &notifier, &big, b"hi", &PublishOptions::default())
        .await
        .expect("publish");
    assert_eq!((report.recipients, report.delivered), (5000, 5000));
    assert!(notifier.delivered("other0").is_empty());
}

#[tokio::test]
#[ignore = "needs moto_server; `make test` runs it"]
async fn publish_removes_gone_connections_from_the_table() {
    let moto = MotoServer::start().expect(NEEDS_MOTO);
    let store = store(&moto, "gone").await;
    let now = channels::now_millis();
    for id in ["alive=", "ghost="] {
        store
            .put(&Connection::new(id, channel("room"), now))
            .await
            .expect("put");
    }
    let notifier = MemoryNotifier::new();
    notifier.gone("ghost=");
    let report = publish(
        &store,
        &notifier,
        &channel("room"),
        b"hi",
        &PublishOptions::default(),
    )
    .await
    .expect("publish");
    assert_eq!((report.delivered, report.gone), (1, 1));
    assert_eq!(all_members(&store, &channel("room")).await.0, ["alive="]);
}

#[tokio::test]
#[ignore = "needs moto_server; `make test` runs it"]
async fn an_unreachable_table_is_an_error_not_a_panic() {
    let moto = MotoServer::start().expect(NEEDS_MOTO);
    let store = DynamoStore::new(moto.dynamodb_client(), "no-such-table");
    let err = store
        .members(&channel("room"), 0, None, None)
        .await
        .expect_err("missing table");
    assert_eq!(err.operation, "Query");
    assert!(store
        .put(&Connection::new("a=", channel("room"), 0))
        .await
        .is_err());
}

#[tokio::test]
async fn ensure_table_reports_an_unreachable_endpoint_as_such() {
    // A socket bound but not listening: connections to its port are refused,
    // and the port stays ours until the end of the test.
    let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
    socket
        .bind("127.0.0.1:0".parse().expect("an address"))
        .expect("bind 127.0.0.1:0");
    let addr = socket.local_addr().expect("local addr");
    let client = channels_aws::testing::dynamodb_client(&format!("http://{addr}"));
    let err = ensure_table(&client, "connections")
        .await
        .expect_err("unreachable");
    assert_eq!(err.operation, "DescribeTable", "{err}");
    drop(socket);
}

#[tokio::test]
#[ignore = "needs moto_server; `make test` runs it"]
async fn a_sharded_channel_is_spread_over_its_shards_and_found_whole() {
    // GIVEN a store spreading channels over 4 shards, and 400 members
    let moto = MotoServer::start().expect(NEEDS_MOTO);
    let client = moto.dynamodb_client();
    ensure_table(&client, "sharded")
        .await
        .expect("create table");
    let shards = Shards::new(4).unwrap();
    let store = DynamoStore::new(client, "sharded").with_shards(shards);
    let room = channel("room");
    let now = channels::now_millis();
    let mut ids: Vec<String> = (0..400).map(|i| format!("conn-{i:03}=")).collect();
    for id in &ids {
        store
            .put(&Connection::new(id.clone(), room.clone(), now))
            .await
            .expect("put");
    }
    ids.sort();

    // THEN each shard holds exactly the members the hash puts there,
    // under the `{channel}#{shard}` partition, and none is empty
    for shard in shards.all() {
        let (found, _) = shard_members(&store, &room, shard).await;
        assert!(found.len() > 50, "shard {shard}: {}", found.len());
        assert!(
            found.iter().all(|id| shards.of(id) == shard),
            "shard {shard}"
        );
        assert_eq!(
            store.count(&room, shard).await.ok(),
            Some(found.len() as u64)
        );
    }
    let stored = store
        .client()
        .get_item()
        .table_name("sharded")
        .key(
            TABLE_HASH_KEY,
            aws_sdk_dynamodb::types::AttributeValue::S(ids[0].clone()),
        )
        .send()
        .await
        .expect("get");
    let stored = stored.item().expect("stored item");
    assert_eq!(
        stored[INDEX_HASH_KEY].as_s().ok(),
        Some(&partition("room", shards.of(&ids[0])))
    );
    assert_eq!(
        stored[CHANNEL_ATTRIBUTE].as_s().ok(),
        Some(&"room".to_owned())
    );
    // AND the channel as a whole is every member exactly once
    assert_eq!(all_members(&store, &room).await.0, ids);
    assert_eq!(channels::count(&store, &room).await.ok(), Some(400));
    let notifier = MemoryNotifier::new();
    let report = publish(&store, &notifier, &room, b"hi", &PublishOptions::default())
        .await
        .expect("publish");
    assert_eq!((report.recipients, report.delivered), (400, 400));
    assert_eq!(notifier.recipients().len(), 400);
}
