//! A DAG's schedule in plain words ("At 09:30, Monday through Friday"),
//! for people who do not read cron at a glance.

use cron_descriptor::cronparser::Options;
use cron_descriptor::cronparser::cron_expression_descriptor::get_description_cron_options;

use crate::dag::Timetable;

/// The schedule in words, or "Manual runs only" for `schedule: null`.
pub fn schedule(timetable: &Timetable) -> String {
    match &timetable.schedule {
        None => "Manual runs only".to_string(),
        Some(cron) => cron_words(cron.cron_fields()),
    }
}

/// `fields` (five cron fields) in words, 24-hour clock; the fields
/// themselves when the describer cannot say them.
pub fn cron_words(fields: &str) -> String {
    // the describer is a port of a C# library; a panic there must not take
    // the page down, so it is contained and the cron shown instead
    let described = std::panic::catch_unwind(|| {
        get_description_cron_options(fields, &Options::twenty_four_hour())
    });
    match described {
        Ok(Ok(words)) => words,
        _ => fields.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_schedules_read_as_a_person_would_say_them() {
        assert_eq!(cron_words("0 0 * * *"), "At 00:00");
        assert_eq!(cron_words("*/5 * * * *"), "Every 5 minutes");
        assert_eq!(
            cron_words("30 9 * * 1-5"),
            "At 09:30, Monday through Friday"
        );
        assert_eq!(cron_words("0 * * * *"), "Every hour");
    }
}
