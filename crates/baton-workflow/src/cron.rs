//! Cron expressions for `schedule` blocks: five fields (minute, hour, day of month, month, day
//! of week) or six with seconds first; `*`, lists, ranges, steps, month and weekday names, and
//! cron's rule that when both day fields are restricted a day matching either one fires. The
//! next firing time is found in the schedule's time zone (IANA names, read from the system's
//! zone database), so a daily 03:00 stays at 03:00 across daylight-saving changes; a time that
//! does not exist that day (skipped by a DST jump) does not fire.
//!
//! Must not sleep or read the clock: callers pass the instant to search from.

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

/// A cron expression that did not parse.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct CronError(String);

/// A parsed cron expression: the allowed values of each field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cron {
    seconds: Vec<bool>,
    minutes: Vec<bool>,
    hours: Vec<bool>,
    days: Vec<bool>,
    months: Vec<bool>,
    weekdays: Vec<bool>,
    days_restricted: bool,
    weekdays_restricted: bool,
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const WEEKDAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

impl Cron {
    pub fn parse(text: &str) -> Result<Cron, CronError> {
        let fields: Vec<&str> = text.split_whitespace().collect();
        let (sec, rest) = match fields.len() {
            5 => ("0", &fields[..]),
            6 => (fields[0], &fields[1..]),
            n => {
                return Err(CronError(format!(
                    "{text:?} has {n} field(s); a cron expression has five (minute hour day-of-month month day-of-week), or six with seconds first"
                )))
            }
        };
        let weekdays = field(rest[4], "day of week", 0, 7, &WEEKDAYS)?;
        // 7 is Sunday too.
        let mut wd = weekdays.clone();
        wd[0] = wd[0] || wd[7];
        wd.truncate(7);
        Ok(Cron {
            seconds: field(sec, "second", 0, 59, &[])?,
            minutes: field(rest[0], "minute", 0, 59, &[])?,
            hours: field(rest[1], "hour", 0, 23, &[])?,
            days: field(rest[2], "day of month", 1, 31, &[])?,
            months: field(rest[3], "month", 1, 12, &MONTHS)?,
            weekdays: wd,
            days_restricted: !rest[2].starts_with('*') && rest[2] != "?",
            weekdays_restricted: !rest[4].starts_with('*') && rest[4] != "?",
        })
    }

    fn day_matches(&self, d: Date) -> bool {
        let dom = self.days[d.day() as usize];
        let dow = self.weekdays[d.weekday().to_sunday_zero_offset() as usize];
        match (self.days_restricted, self.weekdays_restricted) {
            (true, true) => dom || dow,
            (true, false) => dom,
            (false, true) => dow,
            (false, false) => true,
        }
    }

    /// The first firing strictly after `after`, in `zone`; `None` if none within five years
    /// (an expression like `0 0 30 2 *` never fires).
    pub fn next_after(&self, after: Timestamp, zone: &TimeZone) -> Option<Timestamp> {
        let start = after.to_zoned(zone.clone()).datetime();
        let mut date = start.date();
        let limit = date.checked_add(5.years()).ok()?;
        while date <= limit {
            if self.months[date.month() as usize] && self.day_matches(date) {
                for h in 0..24i8 {
                    if !self.hours[h as usize] {
                        continue;
                    }
                    for m in 0..60i8 {
                        if !self.minutes[m as usize] {
                            continue;
                        }
                        for s in 0..60i8 {
                            if !self.seconds[s as usize] {
                                continue;
                            }
                            let Ok(t) = Time::new(h, m, s, 0) else {
                                continue;
                            };
                            let dt = DateTime::from_parts(date, t);
                            if dt <= start {
                                continue;
                            }
                            // A wall time skipped by a DST jump does not exist that day.
                            let Ok(z) = zone.to_ambiguous_zoned(dt).unambiguous() else {
                                if let Ok(z) = zone.to_ambiguous_zoned(dt).later() {
                                    if z.datetime() == dt {
                                        return Some(z.timestamp());
                                    }
                                }
                                continue;
                            };
                            if z.timestamp() > after {
                                return Some(z.timestamp());
                            }
                        }
                    }
                }
            }
            date = date.tomorrow().ok()?;
        }
        None
    }
}

/// One field: `*`, `*/5`, `1-5`, `1,3,5`, `mon-fri`, `10-40/10`.
fn field(
    text: &str,
    what: &str,
    min: u32,
    max: u32,
    names: &[&str],
) -> Result<Vec<bool>, CronError> {
    let mut allowed = vec![false; max as usize + 1];
    let value = |s: &str| -> Result<u32, CronError> {
        let lower = s.to_ascii_lowercase();
        if let Some(i) = names.iter().position(|n| *n == lower) {
            // Months are 1-based, weekdays 0-based.
            return Ok(i as u32 + min);
        }
        match s.parse::<u32>() {
            Ok(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(CronError(format!(
                "{s:?} is not a valid {what}: expected {min}-{max}{}",
                if names.is_empty() {
                    String::new()
                } else {
                    format!(" or a name such as {}", names[0])
                }
            ))),
        }
    };
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => match s.parse::<u32>() {
                Ok(n) if n > 0 => (r, n),
                _ => {
                    return Err(CronError(format!(
                        "{s:?} is not a valid step in the {what} field: expected a whole number of at least 1"
                    )))
                }
            },
            None => (part, 1),
        };
        let (lo, hi) = if range == "*" || range == "?" {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            (value(a)?, value(b)?)
        } else {
            let v = value(range)?;
            (v, if step > 1 { max } else { v })
        };
        if lo > hi {
            return Err(CronError(format!(
                "{range:?} is not a valid range in the {what} field: it starts after it ends"
            )));
        }
        let mut v = lo;
        while v <= hi {
            allowed[v as usize] = true;
            v += step;
        }
    }
    Ok(allowed)
}

/// The zone named `name`, from the system's zone database.
pub fn zone(name: &str) -> Result<TimeZone, CronError> {
    TimeZone::get(name).map_err(|e| {
        CronError(format!(
            "{name:?} is not a time zone this machine knows ({e}); use an IANA name such as \"Europe/Paris\" or \"UTC\""
        ))
    })
}

/// Checks that `name` is a known zone.
pub fn check_zone(name: &str) -> Result<(), CronError> {
    zone(name).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn next(expr: &str, after: &str, zone_name: &str) -> String {
        let c = Cron::parse(expr).expect("parses");
        let z = zone(zone_name).expect("zone");
        let t: Timestamp = after.parse().expect("instant");
        c.next_after(t, &z)
            .map(|t| t.to_string())
            .unwrap_or_else(|| "never".into())
    }

    #[test]
    fn next_firings() {
        let cases = [
            (
                "0 3 * * *",
                "2026-12-07T02:59:59Z",
                "UTC",
                "2026-12-07T03:00:00Z",
            ),
            (
                "0 3 * * *",
                "2026-12-07T03:00:00Z",
                "UTC",
                "2026-12-08T03:00:00Z",
            ),
            (
                "*/15 * * * *",
                "2026-12-07T10:07:00Z",
                "UTC",
                "2026-12-07T10:15:00Z",
            ),
            (
                "* * * * * *",
                "2026-12-07T10:07:00Z",
                "UTC",
                "2026-12-07T10:07:01Z",
            ),
            (
                "*/5 * * * * *",
                "2026-12-07T10:07:03Z",
                "UTC",
                "2026-12-07T10:07:05Z",
            ),
            (
                "0 9 * * mon-fri",
                "2026-12-05T12:00:00Z",
                "UTC",
                "2026-12-07T09:00:00Z",
            ),
            (
                "0 0 1 jan *",
                "2026-12-07T00:00:00Z",
                "UTC",
                "2027-01-01T00:00:00Z",
            ),
            // Either day field matches when both are restricted.
            (
                "0 0 13 * fri",
                "2026-12-07T00:00:00Z",
                "UTC",
                "2026-12-11T00:00:00Z",
            ),
            // 03:00 in Paris is 02:00 UTC in winter, 01:00 UTC in summer.
            (
                "0 3 * * *",
                "2026-12-07T00:00:00Z",
                "Europe/Paris",
                "2026-12-07T02:00:00Z",
            ),
            (
                "0 3 * * *",
                "2026-07-01T00:00:00Z",
                "Europe/Paris",
                "2026-07-01T01:00:00Z",
            ),
            // 02:30 does not exist in Paris on 2026-03-29 (clocks jump 02:00 → 03:00).
            (
                "30 2 * * *",
                "2026-03-28T12:00:00Z",
                "Europe/Paris",
                "2026-03-30T00:30:00Z",
            ),
            ("0 0 30 2 *", "2026-01-01T00:00:00Z", "UTC", "never"),
        ];
        for (expr, after, z, want) in cases {
            assert_eq!(next(expr, after, z), want, "{expr} after {after} in {z}");
        }
    }

    #[test]
    fn bad_expressions_say_what_is_wrong() {
        let cases = [
            ("* * *", "\"* * *\" has 3 field(s); a cron expression has five (minute hour day-of-month month day-of-week), or six with seconds first"),
            ("61 * * * *", "\"61\" is not a valid minute: expected 0-59"),
            ("* * * foo *", "\"foo\" is not a valid month: expected 1-12 or a name such as jan"),
            ("*/0 * * * *", "\"0\" is not a valid step in the minute field: expected a whole number of at least 1"),
            ("5-1 * * * *", "\"5-1\" is not a valid range in the minute field: it starts after it ends"),
        ];
        for (expr, want) in cases {
            assert_eq!(
                Cron::parse(expr).map(|_| ()).map_err(|e| e.to_string()),
                Err(want.to_string()),
                "{expr}"
            );
        }
        assert!(check_zone("Mars/Olympus").is_err());
    }
}
