//! Timestamps as Go's `time` package handles them for hashicorp/time: RFC 3339 parsing
//! (`time.Parse(time.RFC3339, s)`: fixed offsets, optional fraction, years 0000–9999) and
//! formatting (`Format(time.RFC3339)`: seconds precision, `Z` for UTC), civil fields in the
//! timestamp's own offset, `AddDate` with Go's normalisation of overflowing months and days
//! (January 31 plus one month is March 3, or March 2 in a leap year), `Add`, and
//! `time.ParseDuration`.
//!
//! Pure calendar arithmetic (proleptic Gregorian, no time zone database, no leap seconds);
//! nothing here reads the clock except [`Timestamp::now_utc`].

use std::time::{SystemTime, UNIX_EPOCH};

const NANOS_PER_SEC: i128 = 1_000_000_000;
/// Years beyond this magnitude are rejected instead of overflowing.
const MAX_YEAR: i64 = 1_000_000_000;

/// An instant with the fixed UTC offset it is presented in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Timestamp {
    /// Seconds since 1970-01-01T00:00:00Z.
    secs: i64,
    nanos: u32,
    /// Seconds east of UTC.
    offset: i32,
}

/// The calendar fields of a timestamp in its own offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Civil {
    pub year: i64,
    pub month: i64,
    pub day: i64,
    pub hour: i64,
    pub minute: i64,
    pub second: i64,
}

impl Timestamp {
    /// The current time in UTC.
    pub(super) fn now_utc() -> Timestamp {
        let (secs, nanos) = match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => (
                i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
                d.subsec_nanos(),
            ),
            Err(e) => {
                let d = e.duration();
                let s = -i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
                if d.subsec_nanos() == 0 {
                    (s, 0)
                } else {
                    (s - 1, 1_000_000_000 - d.subsec_nanos())
                }
            }
        };
        Timestamp {
            secs,
            nanos,
            offset: 0,
        }
    }

    /// Go's zero `time.Time`: 0001-01-01T00:00:00Z.
    pub(super) fn zero() -> Timestamp {
        Timestamp {
            secs: days_from_civil(1, 1, 1) * 86_400,
            nanos: 0,
            offset: 0,
        }
    }

    /// `time.Parse(time.RFC3339, s)`.
    pub(super) fn parse_rfc3339(s: &str) -> Result<Timestamp, String> {
        let err = || format!("parsing time {s:?} as \"2006-01-02T15:04:05Z07:00\": cannot parse");
        let b = s.as_bytes();
        if b.len() < 20 || !s.is_ascii() {
            return Err(err());
        }
        let num = |from: usize, to: usize| -> Option<i64> {
            let part = &b[from..to];
            if part.iter().all(u8::is_ascii_digit) {
                Some(
                    part.iter()
                        .fold(0i64, |acc, c| acc * 10 + i64::from(c - b'0')),
                )
            } else {
                None
            }
        };
        if !(b[4] == b'-' && b[7] == b'-' && b[10] == b'T' && b[13] == b':' && b[16] == b':') {
            return Err(err());
        }
        let (Some(year), Some(month), Some(day), Some(hour), Some(minute), Some(second)) = (
            num(0, 4),
            num(5, 7),
            num(8, 10),
            num(11, 13),
            num(14, 16),
            num(17, 19),
        ) else {
            return Err(err());
        };
        let range = |what: &str| format!("parsing time {s:?}: {what} out of range");
        if !(1..=12).contains(&month) {
            return Err(range("month"));
        }
        if day < 1 || day > days_in_month(year, month) {
            return Err(range("day"));
        }
        if hour > 23 {
            return Err(range("hour"));
        }
        if minute > 59 {
            return Err(range("minute"));
        }
        if second > 59 {
            return Err(range("second"));
        }
        let mut rest = &b[19..];
        let mut nanos: u32 = 0;
        if rest.len() >= 2 && rest[0] == b'.' && rest[1].is_ascii_digit() {
            let n = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
            let digits = &rest[1..=n];
            for (i, c) in digits.iter().take(9).enumerate() {
                nanos += u32::from(c - b'0') * 10u32.pow(8 - i as u32);
            }
            rest = &rest[n + 1..];
        }
        let offset = match rest {
            [b'Z'] => 0,
            [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
                let digits = [*h1, *h2, *m1, *m2];
                if !digits.iter().all(u8::is_ascii_digit) {
                    return Err(err());
                }
                let oh = i32::from(h1 - b'0') * 10 + i32::from(h2 - b'0');
                let om = i32::from(m1 - b'0') * 10 + i32::from(m2 - b'0');
                if oh > 23 || om > 59 {
                    return Err(range("time zone offset"));
                }
                let o = (oh * 60 + om) * 60;
                if *sign == b'-' {
                    -o
                } else {
                    o
                }
            }
            _ => return Err(err()),
        };
        let local = days_from_civil(year, month, 1) + day - 1;
        let local_secs = local * 86_400 + hour * 3600 + minute * 60 + second;
        Ok(Timestamp {
            secs: local_secs - i64::from(offset),
            nanos,
            offset,
        })
    }

    /// `Format(time.RFC3339)`.
    pub(super) fn rfc3339(&self) -> String {
        let c = self.civil();
        let year = if c.year < 0 {
            format!("-{:04}", -c.year)
        } else {
            format!("{:04}", c.year)
        };
        let zone = if self.offset == 0 {
            "Z".to_string()
        } else {
            let sign = if self.offset < 0 { '-' } else { '+' };
            let m = self.offset.unsigned_abs() / 60;
            format!("{sign}{:02}:{:02}", m / 60, m % 60)
        };
        format!(
            "{year}-{:02}-{:02}T{:02}:{:02}:{:02}{zone}",
            c.month, c.day, c.hour, c.minute, c.second
        )
    }

    /// Seconds since the epoch (`Unix()`).
    pub(super) fn unix(&self) -> i64 {
        self.secs
    }

    /// The calendar fields in the timestamp's offset.
    pub(super) fn civil(&self) -> Civil {
        let local = self.secs + i64::from(self.offset);
        let days = local.div_euclid(86_400);
        let sod = local.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        Civil {
            year,
            month,
            day,
            hour: sod / 3600,
            minute: sod % 3600 / 60,
            second: sod % 60,
        }
    }

    /// Go's `AddDate(years, months, days)`: the calendar fields are added and the result
    /// normalised (month 13 is January of the next year, day 32 of a 31-day month is the 1st
    /// of the next), keeping the time of day and offset. `None` when out of range.
    pub(super) fn add_date(&self, years: i64, months: i64, days: i64) -> Option<Timestamp> {
        let c = self.civil();
        let month0 = (c.month - 1).checked_add(months)?;
        let year = c
            .year
            .checked_add(years)?
            .checked_add(month0.div_euclid(12))?;
        if year.abs() > MAX_YEAR {
            return None;
        }
        let month = month0.rem_euclid(12) + 1;
        let day_number = days_from_civil(year, month, 1)
            .checked_add(c.day - 1)?
            .checked_add(days)?;
        let local = day_number
            .checked_mul(86_400)?
            .checked_add(c.hour * 3600 + c.minute * 60 + c.second)?;
        let t = Timestamp {
            secs: local.checked_sub(i64::from(self.offset))?,
            nanos: self.nanos,
            offset: self.offset,
        };
        t.in_range().then_some(t)
    }

    /// Go's `Add(d)` for a duration in nanoseconds. `None` when out of range.
    pub(super) fn add_nanos(&self, n: i128) -> Option<Timestamp> {
        let total = i128::from(self.secs) * NANOS_PER_SEC + i128::from(self.nanos) + n;
        let secs = i64::try_from(total.div_euclid(NANOS_PER_SEC)).ok()?;
        let nanos = u32::try_from(total.rem_euclid(NANOS_PER_SEC)).ok()?;
        let t = Timestamp {
            secs,
            nanos,
            offset: self.offset,
        };
        t.in_range().then_some(t)
    }

    /// Whether `self` is strictly after `other` (Go's `After`).
    pub(super) fn is_after(&self, other: &Timestamp) -> bool {
        (self.secs, self.nanos) > (other.secs, other.nanos)
    }

    fn in_range(&self) -> bool {
        let limit = days_from_civil(MAX_YEAR, 1, 1) * 86_400;
        self.secs.abs() < limit
    }
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (month 1–12; day may exceed the month).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        Timestamp::parse_rfc3339(s).expect(s)
    }

    #[test]
    fn parse_and_format() {
        let x = t("2020-02-12T06:36:13Z");
        assert_eq!(x.unix(), 1_581_489_373);
        assert_eq!(x.rfc3339(), "2020-02-12T06:36:13Z");
        let y = t("2020-02-12T06:36:13.123456789+05:30");
        assert_eq!(y.unix(), 1_581_489_373 - 19_800);
        assert_eq!(y.rfc3339(), "2020-02-12T06:36:13+05:30");
        assert_eq!(y.civil().hour, 6);
        assert_eq!(t("1969-12-31T23:59:59Z").unix(), -1);
        assert_eq!(t("0001-01-01T00:00:00Z"), Timestamp::zero());
        assert_eq!(Timestamp::zero().unix(), -62_135_596_800);
        assert_eq!(
            t("2024-02-29T00:00:00-00:00").rfc3339(),
            "2024-02-29T00:00:00Z"
        );
        // A long fraction is truncated to nanoseconds.
        assert!(Timestamp::parse_rfc3339("2020-01-01T00:00:00.1234567891234Z").is_ok());
    }

    #[test]
    fn parse_rejects_what_go_rejects() {
        for bad in [
            "",
            "2020-02-12",
            "2020-02-12 06:36:13Z",
            "2020-02-12t06:36:13Z",
            "2020-02-12T06:36:13",
            "2020-02-12T06:36:13z",
            "2023-02-29T00:00:00Z",
            "2020-13-01T00:00:00Z",
            "2020-00-01T00:00:00Z",
            "2020-01-01T24:00:00Z",
            "2020-01-01T00:60:00Z",
            "2020-01-01T00:00:60Z",
            "2020-01-01T00:00:00+24:00",
            "2020-01-01T00:00:00+0100",
            "2020-01-01T00:00:00.Z",
            "2020-01-01T00:00:00Zjunk",
            "２020-01-01T00:00:00Z",
        ] {
            assert!(Timestamp::parse_rfc3339(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn add_date_normalises_like_go() {
        let d = |s: &str, y, m, dd| t(s).add_date(y, m, dd).expect("in range").rfc3339();
        assert_eq!(d("2021-01-31T10:00:00Z", 0, 1, 0), "2021-03-03T10:00:00Z");
        assert_eq!(d("2020-01-31T10:00:00Z", 0, 1, 0), "2020-03-02T10:00:00Z");
        assert_eq!(d("2020-02-29T00:00:00Z", 1, 0, 0), "2021-03-01T00:00:00Z");
        assert_eq!(d("2020-12-15T00:00:00Z", 0, 1, 0), "2021-01-15T00:00:00Z");
        assert_eq!(d("2020-01-15T00:00:00Z", 0, -1, 0), "2019-12-15T00:00:00Z");
        assert_eq!(d("2020-03-31T00:00:00Z", 0, -1, 0), "2020-03-02T00:00:00Z");
        assert_eq!(d("2020-01-01T00:00:00Z", 0, 0, 366), "2021-01-01T00:00:00Z");
        assert_eq!(d("2020-01-01T00:00:00Z", 0, 0, -1), "2019-12-31T00:00:00Z");
        assert_eq!(d("2020-01-01T00:00:00Z", 0, 25, 0), "2022-02-01T00:00:00Z");
        assert_eq!(
            d("2020-01-01T23:30:00+02:00", 0, 0, 1),
            "2020-01-02T23:30:00+02:00"
        );
        assert!(t("2020-01-01T00:00:00Z").add_date(i64::MAX, 0, 0).is_none());
        assert!(t("2020-01-01T00:00:00Z").add_date(0, i64::MAX, 0).is_none());
        assert!(t("2020-01-01T00:00:00Z").add_date(0, 0, i64::MAX).is_none());
    }

    #[test]
    fn add_nanos_and_order() {
        let x = t("2020-01-01T00:00:00Z");
        let h = 3_600 * NANOS_PER_SEC;
        assert_eq!(
            x.add_nanos(h).expect("ok").rfc3339(),
            "2020-01-01T01:00:00Z"
        );
        assert_eq!(
            x.add_nanos(-h).expect("ok").rfc3339(),
            "2019-12-31T23:00:00Z"
        );
        assert!(x.add_nanos(h).expect("ok").is_after(&x));
        assert!(!x.is_after(&x));
        assert!(x.add_nanos(i128::MAX / 2).is_none());
        let now = Timestamp::now_utc();
        assert!(now.rfc3339().ends_with('Z'));
        assert!(now.unix() > 1_600_000_000);
    }
}
