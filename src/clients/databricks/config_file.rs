//! Reads `~/.databrickscfg`: INI sections named after profiles, each with
//! `key = value` lines (`host`, `token`, `client_id`, `client_secret`, …).
//! Pure parsing; the caller decides which file and which profile.

use std::collections::BTreeMap;

/// One profile's keys, lowercased, with trimmed values.
pub(crate) type Profile = BTreeMap<String, String>;

/// The profiles of one config file, in file order of their names.
#[derive(Debug, Default)]
pub(crate) struct ConfigFile {
    profiles: BTreeMap<String, Profile>,
}

/// A line that is neither a section, a `key = value`, a comment nor blank.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ParseError {
    pub line: usize,
    pub reason: String,
}

impl ConfigFile {
    /// Parses INI text as the Databricks tools do: `[name]` opens a profile,
    /// `#` and `;` start comment lines, `key = value` or `key: value` inside
    /// a profile. A later duplicate key wins.
    pub(crate) fn parse(text: &str) -> Result<Self, ParseError> {
        let mut profiles: BTreeMap<String, Profile> = BTreeMap::new();
        let mut current: Option<String> = None;
        for (index, raw) in text.lines().enumerate() {
            let line = raw.trim();
            let number = index + 1;
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if let Some(rest) = line.strip_prefix('[') {
                let Some(name) = rest.strip_suffix(']') else {
                    return Err(ParseError {
                        line: number,
                        reason: "a section header must end with `]`".to_owned(),
                    });
                };
                let name = name.trim().to_owned();
                profiles.entry(name.clone()).or_default();
                current = Some(name);
                continue;
            }
            let Some(split) = line.find(['=', ':']) else {
                return Err(ParseError {
                    line: number,
                    reason: "expected `key = value` or `[profile]`".to_owned(),
                });
            };
            let Some(profile) = current.as_ref().and_then(|name| profiles.get_mut(name)) else {
                return Err(ParseError {
                    line: number,
                    reason: "a key outside any [profile] section".to_owned(),
                });
            };
            let key = line[..split].trim().to_ascii_lowercase();
            let value = line[split + 1..].trim().to_owned();
            profile.insert(key, value);
        }
        Ok(Self { profiles })
    }

    pub(crate) fn profile(&self, name: &str) -> Option<&Profile> {
        self.profiles.get(name)
    }

    pub(crate) fn profile_names(&self) -> Vec<String> {
        self.profiles.keys().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_keys_and_comments_are_read() {
        let file = ConfigFile::parse(
            "# written by databricks configure\n\
             [DEFAULT]\n\
             host = https://dbc-1.cloud.databricks.com\n\
             token = dapi123\n\
             \n\
             ; service principal\n\
             [ci]\n\
             HOST: https://dbc-2.cloud.databricks.com/\n\
             client_id = abc\n\
             client_secret = s=e=c\n",
        )
        .unwrap();
        assert_eq!(file.profile_names(), ["DEFAULT", "ci"]);
        let default = file.profile("DEFAULT").unwrap();
        assert_eq!(default["host"], "https://dbc-1.cloud.databricks.com");
        assert_eq!(default["token"], "dapi123");
        let ci = file.profile("ci").unwrap();
        assert_eq!(ci["host"], "https://dbc-2.cloud.databricks.com/");
        assert_eq!(ci["client_secret"], "s=e=c");
        assert!(file.profile("prod").is_none());
    }

    #[test]
    fn a_key_before_any_section_is_an_error_with_its_line() {
        let error = ConfigFile::parse("\nhost = x\n").unwrap_err();
        assert_eq!(error.line, 2);
    }

    #[test]
    fn an_unclosed_section_is_an_error() {
        let error = ConfigFile::parse("[DEFAULT\nhost = x\n").unwrap_err();
        assert_eq!(error.line, 1);
        assert!(error.reason.contains("`]`"));
    }
}
