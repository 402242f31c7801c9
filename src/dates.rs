//! Civil dates: UNIX seconds as RFC 3339 text, written without loops for
//! the dates records carry.

use chrono::{DateTime, SecondsFormat};

/// How far ahead of the machine's clock a bookmark or `start_date` may be:
/// clocks skew by seconds or minutes, and a day also covers a date written in
/// another time zone. Further ahead, a sync would skip every record.
pub const FUTURE_TOLERANCE_SECONDS: i64 = 86_400;

/// UNIX seconds as RFC 3339 text for messages, or the number when no
/// date-time has them.
pub fn describe(seconds: i64) -> String {
    date_time_text(seconds).unwrap_or_else(|| format!("{seconds} seconds after 1970"))
}

/// UNIX seconds to RFC 3339 UTC, e.g. `2024-03-05T10:00:00Z`.
pub fn rfc3339(seconds: f64) -> Option<String> {
    date_time_text(seconds.trunc() as i64)
}

/// Whole UNIX seconds as RFC 3339 text, written by [`push_rfc3339`]; None
/// when no date-time has them.
pub fn date_time_text(seconds: i64) -> Option<String> {
    let mut text = String::with_capacity(20);
    push_rfc3339(&mut text, seconds).then_some(text)
}

/// Seconds from 0000-03-01T00:00:00Z to 9999-12-31T23:59:59Z: the dates
/// [`civil_date`] computes (its years start in March).
const CIVIL_DATES: std::ops::RangeInclusive<i64> = -62_162_035_200..=253_402_300_799;

/// Whether some date-time is whole UNIX `seconds` from 1970.
pub fn names_date_time(seconds: i64) -> bool {
    CIVIL_DATES.contains(&seconds) || DateTime::from_timestamp(seconds, 0).is_some()
}

/// Appends whole UNIX `seconds` as RFC 3339 text to `out`; false, with
/// nothing written, when no date-time has them. Dates from 0000-03-01 to
/// 9999 are computed and written without loops, tables or chrono: every record
/// carries several, and in the component each loop iteration also pays the
/// watchdog's check.
pub fn push_rfc3339(out: &mut String, seconds: i64) -> bool {
    if !CIVIL_DATES.contains(&seconds) {
        let Some(time) = DateTime::from_timestamp(seconds, 0) else {
            return false;
        };
        out.push_str(&time.to_rfc3339_opts(SecondsFormat::Secs, true));
        return true;
    }
    let (year, month, day) = civil_date(seconds.div_euclid(86_400));
    let second = seconds.rem_euclid(86_400) as u32;
    let [y0, y1] = two_digits(year / 100);
    let [y2, y3] = two_digits(year % 100);
    let [mo0, mo1] = two_digits(month);
    let [d0, d1] = two_digits(day);
    let [h0, h1] = two_digits(second / 3600);
    let [mi0, mi1] = two_digits(second / 60 % 60);
    let [s0, s1] = two_digits(second % 60);
    let text = [
        y0, y1, y2, y3, b'-', mo0, mo1, b'-', d0, d1, b'T', h0, h1, b':', mi0, mi1, b':', s0, s1,
        b'Z',
    ];
    // Digits and ASCII punctuation: always UTF-8.
    out.push_str(std::str::from_utf8(&text).unwrap_or_default());
    true
}

/// Year, month and day of the proleptic Gregorian calendar, `days` after
/// 1970-01-01, from 0000-03-01 to 9999 (Howard Hinnant's `civil_from_days`).
fn civil_date(days: i64) -> (u32, u32, u32) {
    // Days since 0000-03-01: years start in March, so leap days come last.
    let days = (days + 719_468) as u32;
    let era = days / 146_097;
    let day_of_era = days % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + u32::from(month <= 2);
    (year, month, day)
}

fn two_digits(number: u32) -> [u8; 2] {
    [b'0' + (number / 10 % 10) as u8, b'0' + (number % 10) as u8]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ends_of_the_computed_dates_match_chrono() {
        // Year 0 before March, the first computed day, the last second of
        // year 9999 and the first of 10000.
        for seconds in [
            -62_167_219_200,
            -62_162_035_201,
            -62_162_035_200,
            253_402_300_799,
            253_402_300_800,
        ] {
            let time = DateTime::from_timestamp(seconds, 0).unwrap();
            let expected = time.to_rfc3339_opts(SecondsFormat::Secs, true);
            assert_eq!(date_time_text(seconds), Some(expected), "{seconds}");
        }
        assert_eq!(date_time_text(i64::MAX), None);
    }

    proptest::proptest! {
        #[test]
        fn written_like_chrono_writes_it(seconds in -70_000_000_000i64..300_000_000_000) {
            let time = DateTime::from_timestamp(seconds, 0).unwrap();
            let text = date_time_text(seconds);
            proptest::prop_assert_eq!(text, Some(time.to_rfc3339_opts(SecondsFormat::Secs, true)));
        }
    }
}
