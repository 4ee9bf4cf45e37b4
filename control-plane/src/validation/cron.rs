//! Cron schedules as CronJobs accept them (the standard five fields or a descriptor such as
//! `@hourly`), with the parser's error messages.

/// Allowed range and names of one schedule field.
struct FieldSpec {
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const MINUTE: FieldSpec = FieldSpec { min: 0, max: 59, names: &[] };
const HOUR: FieldSpec = FieldSpec { min: 0, max: 23, names: &[] };
const DAY_OF_MONTH: FieldSpec = FieldSpec { min: 1, max: 31, names: &[] };
const MONTH: FieldSpec = FieldSpec {
    min: 1,
    max: 12,
    names: &["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
};
const DAY_OF_WEEK: FieldSpec = FieldSpec { min: 0, max: 6, names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"] };

/// Checks a schedule; the error text is what Kubernetes reports for `spec.schedule`.
pub fn parse_schedule(spec: &str) -> Result<(), String> {
    if spec.is_empty() {
        return Err("empty spec string".to_string());
    }
    let spec = strip_time_zone(spec)?;
    if spec.starts_with('@') {
        return parse_descriptor(spec);
    }
    let fields: Vec<&str> = spec.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(format!("expected exactly 5 fields, found {}: [{}]", fields.len(), fields.join(" ")));
    }
    for (field, limits) in fields.iter().zip([MINUTE, HOUR, DAY_OF_MONTH, MONTH, DAY_OF_WEEK]) {
        parse_field(field, &limits)?;
    }
    Ok(())
}

/// `TZ=Europe/Paris 0 * * * *`: the parser accepts a zone prefix (CronJob validation then
/// rejects it in favour of `timeZone`).
fn strip_time_zone(spec: &str) -> Result<&str, String> {
    if !(spec.starts_with("TZ=") || spec.starts_with("CRON_TZ=")) {
        return Ok(spec);
    }
    match spec.split_once(' ') {
        Some((_, rest)) => Ok(rest.trim_start()),
        None => Err(format!("provided bad location {spec}: missing schedule")),
    }
}

fn parse_descriptor(spec: &str) -> Result<(), String> {
    match spec {
        "@yearly" | "@annually" | "@monthly" | "@weekly" | "@daily" | "@midnight" | "@hourly" => Ok(()),
        _ => match spec.strip_prefix("@every ") {
            Some(duration) if is_go_duration(duration) => Ok(()),
            Some(duration) => Err(format!("failed to parse duration {spec}: time: invalid duration \"{duration}\"")),
            None => Err(format!("unrecognized descriptor: {spec}")),
        },
    }
}

/// Go's `time.ParseDuration` syntax: `1h30m`, `1.5s`, `300ms`.
fn is_go_duration(text: &str) -> bool {
    let text = text.strip_prefix(['+', '-']).unwrap_or(text);
    if text == "0" {
        return true;
    }
    let mut rest = text;
    if rest.is_empty() {
        return false;
    }
    while !rest.is_empty() {
        let number_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        if number_len == 0 || rest[..number_len].chars().filter(|c| *c == '.').count() > 1 {
            return false;
        }
        rest = &rest[number_len..];
        let unit = ["ns", "us", "µs", "μs", "ms", "s", "m", "h"].iter().find(|u| rest.starts_with(**u));
        match unit {
            Some(unit) => rest = &rest[unit.len()..],
            None => return false,
        }
    }
    true
}

fn parse_field(field: &str, limits: &FieldSpec) -> Result<(), String> {
    field.split(',').try_for_each(|expr| parse_range(expr, limits))
}

/// One `a`, `a-b`, `*`, `?` with an optional `/step`.
fn parse_range(expr: &str, limits: &FieldSpec) -> Result<(), String> {
    let range_and_step: Vec<&str> = expr.split('/').collect();
    let low_and_high: Vec<&str> = range_and_step[0].split('-').collect();
    let single = low_and_high.len() == 1;
    let (start, mut end) = if low_and_high[0] == "*" || low_and_high[0] == "?" {
        (limits.min, limits.max)
    } else {
        let start = parse_value(low_and_high[0], limits)?;
        let end = match low_and_high.len() {
            1 => start,
            2 => parse_value(low_and_high[1], limits)?,
            _ => return Err(format!("too many hyphens: {expr}")),
        };
        (start, end)
    };
    let step = match range_and_step.len() {
        1 => 1,
        2 => {
            if single {
                end = limits.max;
            }
            parse_number(range_and_step[1], expr)?
        }
        _ => return Err(format!("too many slashes: {expr}")),
    };
    if start < limits.min {
        return Err(format!("beginning of range ({start}) below minimum ({}): {expr}", limits.min));
    }
    if end > limits.max {
        return Err(format!("end of range ({end}) above maximum ({}): {expr}", limits.max));
    }
    if start > end {
        return Err(format!("beginning of range ({start}) beyond end of range ({end}): {expr}"));
    }
    if step == 0 {
        return Err(format!("step of range should be a positive number: {expr}"));
    }
    Ok(())
}

fn parse_value(text: &str, limits: &FieldSpec) -> Result<u32, String> {
    let lower = text.to_lowercase();
    match limits.names.iter().position(|name| *name == lower) {
        Some(index) => Ok(limits.min + u32::try_from(index).unwrap_or(0)),
        None => parse_number(text, text),
    }
}

fn parse_number(text: &str, expr: &str) -> Result<u32, String> {
    match text.parse::<i64>() {
        Ok(n) if n < 0 => Err(format!("negative number ({n}) not allowed: {expr}")),
        Ok(n) => u32::try_from(n).map_err(|_| format!("failed to parse int from {text}: value out of range")),
        Err(_) => Err(format!("failed to parse int from {text}: strconv.Atoi: parsing {text:?}: invalid syntax")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_standard_schedules() {
        for ok in [
            "*/5 * * * *",
            "0 0 * * 0",
            "15 2 1,15 * MON-FRI",
            "0 9-17/2 * jan-mar ?",
            "@hourly",
            "@every 1h30m",
            "TZ=UTC 0 * * * *",
            "30 */6 * * *",
        ] {
            assert_eq!(parse_schedule(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn rejects_with_parser_messages() {
        assert_eq!(parse_schedule(""), Err("empty spec string".to_string()));
        assert_eq!(parse_schedule("* * *"), Err("expected exactly 5 fields, found 3: [* * *]".to_string()));
        assert_eq!(parse_schedule("60 * * * *"), Err("end of range (60) above maximum (59): 60".to_string()));
        assert_eq!(parse_schedule("* * 0 * *"), Err("beginning of range (0) below minimum (1): 0".to_string()));
        assert_eq!(
            parse_schedule("5-1 * * * *"),
            Err("beginning of range (5) beyond end of range (1): 5-1".to_string())
        );
        assert_eq!(parse_schedule("*/0 * * * *"), Err("step of range should be a positive number: */0".to_string()));
        assert_eq!(parse_schedule("1-2-3 * * * *"), Err("too many hyphens: 1-2-3".to_string()));
        assert_eq!(parse_schedule("@fortnightly"), Err("unrecognized descriptor: @fortnightly".to_string()));
        assert_eq!(
            parse_schedule("x * * * *"),
            Err("failed to parse int from x: strconv.Atoi: parsing \"x\": invalid syntax".to_string())
        );
        assert!(parse_schedule("@every soon").is_err());
        assert!(parse_schedule("* * * * 7").is_err());
    }
}
