//! Small helpers: API Gateway-style ids, the time formats API Gateway uses,
//! percent-decoding.

use base64::Engine as _;

/// An id shaped like API Gateway's connection and request ids: 11 random
/// bytes in standard base64, 16 characters ending in `=`, e.g.
/// `L0SM9cOFvHcCIhw=`. Ids containing `/` are drawn again, so that an id
/// can be pasted into a URL path as it is.
pub(crate) fn new_id() -> String {
    loop {
        let mut bytes = [0u8; 11];
        fastrand::fill(&mut bytes);
        let id = base64::engine::general_purpose::STANDARD.encode(bytes);
        if !id.contains('/') {
            return id;
        }
    }
}

/// Days since 1970-01-01 to (year, month 1-12, day 1-31), proleptic Gregorian
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    // Both are in range by construction.
    (
        year,
        u32::try_from(month).unwrap_or(1),
        u32::try_from(day).unwrap_or(1),
    )
}

struct Utc {
    year: i64,
    month: u32,
    day: u32,
    hour: i64,
    minute: i64,
    second: i64,
    millis: i64,
}

fn utc(epoch_ms: i64) -> Utc {
    let secs = epoch_ms.div_euclid(1000);
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    Utc {
        year,
        month,
        day,
        hour: sod / 3600,
        minute: sod % 3600 / 60,
        second: sod % 60,
        millis: epoch_ms.rem_euclid(1000),
    }
}

/// `requestTime` / `time` of API Gateway events: `12/Mar/2020:19:03:58 +0000`.
pub(crate) fn clf_time(epoch_ms: i64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let t = utc(epoch_ms);
    let month = MONTHS
        .get(t.month.saturating_sub(1) as usize)
        .copied()
        .unwrap_or("Jan");
    format!(
        "{:02}/{month}/{:04}:{:02}:{:02}:{:02} +0000",
        t.day, t.year, t.hour, t.minute, t.second
    )
}

/// ISO 8601 in UTC with milliseconds, as `GetConnection` answers:
/// `2020-03-12T19:03:58.123Z`.
pub(crate) fn iso8601(epoch_ms: i64) -> String {
    let t = utc(epoch_ms);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year, t.month, t.day, t.hour, t.minute, t.second, t.millis
    )
}

/// Decodes `%XX` escapes. Invalid escapes stay as they are; bytes that do
/// not form UTF-8 are replaced.
pub(crate) fn percent_decode(s: &str) -> String {
    fn hex(b: u8) -> Option<u8> {
        match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            b'A'..=b'F' => Some(b - b'A' + 10),
            _ => None,
        }
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match (bytes.get(i), bytes.get(i + 1), bytes.get(i + 2)) {
            (Some(b'%'), Some(&h), Some(&l)) => hex(h).zip(hex(l)).map(|(h, l)| (h << 4) | l),
            _ => None,
        };
        match escaped {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_look_like_api_gateway_ids() {
        for _ in 0..200 {
            let id = new_id();
            assert_eq!(id.len(), 16, "{id}");
            assert!(id.ends_with('='), "{id}");
            assert!(!id.contains('/'), "{id}");
        }
        assert_ne!(new_id(), new_id());
    }

    #[test]
    fn formats_times_like_api_gateway() {
        // 2020-03-12T19:03:58.123Z
        let ms = 1_584_039_838_123;
        assert_eq!(clf_time(ms), "12/Mar/2020:19:03:58 +0000");
        assert_eq!(iso8601(ms), "2020-03-12T19:03:58.123Z");
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        // A leap day.
        assert_eq!(iso8601(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn decodes_percent_escapes() {
        assert_eq!(percent_decode("L0SM9cOFvHcCIhw%3D"), "L0SM9cOFvHcCIhw=");
        assert_eq!(percent_decode("a%20b%2Fc"), "a b/c");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}
