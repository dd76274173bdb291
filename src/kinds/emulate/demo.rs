//! The `demo` source: a built-in, deterministic sample of the three Pinterest
//! tables (`pinterest_data`, `geolocation_data`, `user_data`) with their real
//! column names and messy value formats, generated per row from a fixed seed
//! so the pipeline runs with no database. Pure: no I/O, no other airless module.

use chrono::DateTime;
use serde_json::{Map, Value};

/// Rows in each demo table; every offset `randint(0, 11000)` can draw exists.
pub const DEMO_ROWS: u64 = 11_153;

/// Changing this changes every demo row; tests and fixtures depend on it.
const DEMO_SEED: u64 = 0x7069_6e74_6572_6573;

/// One of the three source tables the original emulator reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Table {
    /// `pinterest_data`: one pin per row.
    Pin,
    /// `geolocation_data`: where and when the pin was posted.
    Geo,
    /// `user_data`: who posted it.
    User,
}

impl Table {
    /// All tables, in the order the original script sends them.
    pub const ALL: [Table; 3] = [Table::Pin, Table::Geo, Table::User];

    /// The table's name in MySQL.
    pub fn name(&self) -> &'static str {
        match self {
            Table::Pin => "pinterest_data",
            Table::Geo => "geolocation_data",
            Table::User => "user_data",
        }
    }

    fn salt(self) -> u64 {
        match self {
            Table::Pin => 1,
            Table::Geo => 2,
            Table::User => 3,
        }
    }
}

/// The row at `offset` (what `SELECT * FROM t LIMIT offset, 1` returns), keyed
/// by column name as the original script sends it: ints as numbers, floats as
/// numbers, datetimes as `YYYY-MM-DD HH:MM:SS` strings.
///
/// A pure function of `(table, offset)`; `None` when `offset >= DEMO_ROWS`.
/// `index` (pin) and `ind` (geo, user) equal `offset`.
pub fn row(table: Table, offset: u64) -> Option<Map<String, Value>> {
    if offset >= DEMO_ROWS {
        return None;
    }
    let mut rng = RowRng::new(table, offset);
    match table {
        Table::Pin => Some(pin_row(&mut rng, offset)),
        Table::Geo => geo_row(&mut rng, offset),
        Table::User => user_row(&mut rng, offset),
    }
}

const CATEGORIES: [&str; 13] = [
    "art",
    "beauty",
    "christmas",
    "diy-and-crafts",
    "education",
    "event-planning",
    "finance",
    "home-decor",
    "mens-fashion",
    "quotes",
    "tattoos",
    "travel",
    "vehicles",
];

const NO_TITLE: &str = "No Title Data Available";
const NO_DESCRIPTION: &str = "No description available";
const NO_DESCRIPTION_STORY: &str = "No description available Story format";
const USER_INFO_ERROR: &str = "User Info Error";
const NO_TAGS: &str = "N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e";
const IMAGE_SRC_ERROR: &str = "Image src error.";
const STORY_FORMAT: &str = "multi-video(story page format)";

const NON_ASCII_TITLES: [&str; 10] = [
    "Crème brûlée à la maison",
    "Café corner décor ☕",
    "✨ Winter wonderland ✨",
    "和風タトゥーのデザイン",
    "北欧风客厅装饰",
    "Déjà vu — quotes to live by 💭",
    "Fiesta de cumpleaños 🎉",
    "Ölgemälde für Anfänger",
    "Moda masculina: coração 💙",
    "서울 여행 가이드",
];

const TITLE_ADJECTIVES: [&str; 12] = [
    "Easy",
    "Modern",
    "Vintage",
    "Minimalist",
    "Cozy",
    "Bold",
    "Simple",
    "Rustic",
    "Creative",
    "Budget",
    "Elegant",
    "Quick",
];

const TITLE_TEMPLATES: [&str; 8] = [
    "{adj} {topic} ideas",
    "{n} {adj} {topic} ideas you will love",
    "How to start with {topic}",
    "The best {topic} of {year}",
    "{adj} {topic} for beginners",
    "{topic} inspiration",
    "Our favourite {topic} this season",
    "{n} {topic} tips",
];

const DESCRIPTION_TEMPLATES: [&str; 6] = [
    "Looking for {topic}? Here are {n} {adj} ideas to get you started.",
    "{adj} {topic} that anyone can try at home. Save this pin for later!",
    "We rounded up the best {topic} on the web, from {adj} to classic.",
    "Everything you need to know about {topic}, step by step.",
    "{n} {adj} {topic} ideas curated by our editors.",
    "Get inspired with these {adj} {topic} ideas.",
];

const POSTER_WORDS: [&str; 16] = [
    "Studio", "Daily", "Home", "Style", "Craft", "Ink", "Wander", "Money", "Quotes", "Motor",
    "Festive", "Glow", "Learn", "Party", "Gent", "Canvas",
];

const POSTER_SUFFIXES: [&str; 8] = [
    "Co.",
    "Magazine",
    "Blog",
    "Hub",
    "& Friends",
    "Official",
    "Lab",
    "Diaries",
];

const COUNTRIES: [&str; 40] = [
    "Afghanistan",
    "Albania",
    "Algeria",
    "American Samoa",
    "Andorra",
    "Angola",
    "Antarctica (the territory South of 60 deg S)",
    "Argentina",
    "Armenia",
    "Aruba",
    "Australia",
    "Bangladesh",
    "Bouvet Island (Bouvetoya)",
    "British Indian Ocean Territory (Chagos Archipelago)",
    "Cote d'Ivoire",
    "Czech Republic",
    "Egypt",
    "France",
    "Germany",
    "Holy See (Vatican City State)",
    "India",
    "Italy",
    "Japan",
    "Korea",
    "Libyan Arab Jamahiriya",
    "Maldives",
    "Mexico",
    "Netherlands Antilles",
    "Nigeria",
    "Poland",
    "Reunion",
    "Saint Barthelemy",
    "South Georgia and the South Sandwich Islands",
    "Spain",
    "Svalbard & Jan Mayen Islands",
    "Timor-Leste",
    "United Kingdom",
    "United States of America",
    "United States Minor Outlying Islands",
    "Vietnam",
];

const FIRST_NAMES: [&str; 32] = [
    "Abigail",
    "Alexandra",
    "Andrea",
    "Brian",
    "Bryan",
    "Charles",
    "Christopher",
    "Daniel",
    "David",
    "Dylan",
    "Elizabeth",
    "Emily",
    "Eric",
    "Gabriel",
    "Jessica",
    "Jonathan",
    "Joseph",
    "Kevin",
    "Kimberly",
    "Linda",
    "Mary",
    "Matthew",
    "Michael",
    "Michelle",
    "Nicole",
    "Rachel",
    "Robert",
    "Ryan",
    "Sarah",
    "Stephanie",
    "Thomas",
    "Wendy",
];

const LAST_NAMES: [&str; 32] = [
    "Ali",
    "Allen",
    "Bailey",
    "Brown",
    "Chavez",
    "Clark",
    "Cox",
    "Davis",
    "Diaz",
    "Evans",
    "Garcia",
    "Gonzalez",
    "Hall",
    "Harris",
    "Hernandez",
    "Jackson",
    "Johnson",
    "Jones",
    "Lee",
    "Lopez",
    "Martin",
    "Miller",
    "Moore",
    "Nguyen",
    "Perez",
    "Robinson",
    "Smith",
    "Taylor",
    "Thomas",
    "Walker",
    "White",
    "Williams",
];

/// Unix seconds of 2017-01-01 00:00:00 and 2023-01-01 00:00:00 (UTC).
const GEO_TIME_RANGE: (i64, i64) = (1_483_228_800, 1_672_531_200);
/// Unix seconds of 2015-01-01 00:00:00 and 2018-01-01 00:00:00 (UTC).
const JOINED_TIME_RANGE: (i64, i64) = (1_420_070_400, 1_514_764_800);

/// The real table holds a block of pins per scraped category, in index order.
fn category_of(offset: u64) -> &'static str {
    let block = DEMO_ROWS.div_ceil(CATEGORIES.len() as u64);
    let i = (offset / block) as usize;
    CATEGORIES[i.min(CATEGORIES.len() - 1)]
}

fn topic_of(category: &str) -> &'static str {
    match category {
        "art" => "wall art",
        "beauty" => "makeup looks",
        "christmas" => "Christmas decorations",
        "diy-and-crafts" => "DIY crafts",
        "education" => "classroom activities",
        "event-planning" => "party themes",
        "finance" => "saving money tips",
        "home-decor" => "living room decor",
        "mens-fashion" => "men's outfits",
        "quotes" => "inspirational quotes",
        "tattoos" => "small tattoos",
        "travel" => "travel destinations",
        _ => "classic cars",
    }
}

fn pin_row(rng: &mut RowRng, offset: u64) -> Map<String, Value> {
    let category = category_of(offset);
    let unique_id = rng.uuid4();
    let mut row = Map::new();
    row.insert("index".into(), offset.into());
    row.insert("unique_id".into(), unique_id.into());
    row.insert("category".into(), category.into());
    row.insert(
        "save_location".into(),
        format!("Local save in /data/{category}").into(),
    );

    // Story pins scrape as placeholders in every field, as in the real table.
    if rng.chance(40) {
        row.insert("title".into(), NO_TITLE.into());
        row.insert("description".into(), NO_DESCRIPTION_STORY.into());
        row.insert("poster_name".into(), USER_INFO_ERROR.into());
        row.insert("follower_count".into(), USER_INFO_ERROR.into());
        row.insert("tag_list".into(), NO_TAGS.into());
        row.insert("is_image_or_video".into(), STORY_FORMAT.into());
        row.insert("image_src".into(), IMAGE_SRC_ERROR.into());
        row.insert("downloaded".into(), 0.into());
        return row;
    }

    let topic = topic_of(category);
    let title = if rng.chance(15) {
        NO_TITLE.to_owned()
    } else if rng.chance(20) {
        rng.pick(&NON_ASCII_TITLES).to_owned()
    } else {
        let template = rng.pick(&TITLE_TEMPLATES);
        fill(rng, template, topic)
    };
    let description = if rng.chance(15) {
        NO_DESCRIPTION.to_owned()
    } else {
        let template = rng.pick(&DESCRIPTION_TEMPLATES);
        fill(rng, template, topic)
    };
    let (poster_name, follower_count) = if rng.chance(20) {
        (USER_INFO_ERROR.to_owned(), USER_INFO_ERROR.to_owned())
    } else {
        let name = format!("{} {}", rng.pick(&POSTER_WORDS), rng.pick(&POSTER_SUFFIXES));
        (name, rng.follower_count())
    };
    let tag_list = if rng.chance(25) {
        NO_TAGS.to_owned()
    } else {
        rng.tag_list(topic)
    };
    let kind = if rng.chance(150) { "video" } else { "image" };
    let image_src = if rng.chance(20) {
        IMAGE_SRC_ERROR.to_owned()
    } else {
        rng.image_src()
    };
    let downloaded = u8::from(image_src != IMAGE_SRC_ERROR);

    row.insert("title".into(), title.into());
    row.insert("description".into(), description.into());
    row.insert("poster_name".into(), poster_name.into());
    row.insert("follower_count".into(), follower_count.into());
    row.insert("tag_list".into(), tag_list.into());
    row.insert("is_image_or_video".into(), kind.into());
    row.insert("image_src".into(), image_src.into());
    row.insert("downloaded".into(), downloaded.into());
    row
}

fn fill(rng: &mut RowRng, template: &str, topic: &str) -> String {
    let n = 5 + rng.below(46);
    let year = 2017 + rng.below(6);
    let text = template
        .replace("{topic}", topic)
        .replace("{adj}", &rng.pick(&TITLE_ADJECTIVES).to_lowercase())
        .replace("{n}", &n.to_string())
        .replace("{year}", &year.to_string());
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

fn geo_row(rng: &mut RowRng, offset: u64) -> Option<Map<String, Value>> {
    let timestamp = rng.datetime(GEO_TIME_RANGE)?;
    // The real table has a cluster of pins at one point near the South Pole.
    let (latitude, longitude) = if rng.chance(30) {
        (-89.9787, -173.293)
    } else {
        (rng.coordinate(90.0), rng.coordinate(180.0))
    };
    let country = rng.pick(&COUNTRIES);
    let mut row = Map::new();
    row.insert("ind".into(), offset.into());
    row.insert("timestamp".into(), timestamp.into());
    row.insert("latitude".into(), float(latitude));
    row.insert("longitude".into(), float(longitude));
    row.insert("country".into(), country.into());
    Some(row)
}

fn user_row(rng: &mut RowRng, offset: u64) -> Option<Map<String, Value>> {
    let first_name = rng.pick(&FIRST_NAMES);
    let last_name = rng.pick(&LAST_NAMES);
    let age = 20 + rng.below(61);
    let date_joined = rng.datetime(JOINED_TIME_RANGE)?;
    let mut row = Map::new();
    row.insert("ind".into(), offset.into());
    row.insert("first_name".into(), first_name.into());
    row.insert("last_name".into(), last_name.into());
    row.insert("age".into(), age.into());
    row.insert("date_joined".into(), date_joined.into());
    Some(row)
}

fn float(x: f64) -> Value {
    // Coordinates are finite by construction; NaN would become null.
    serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
}

/// SplitMix64 keyed by (seed, table, offset): each row is independent of
/// every other, so `row` never has to generate the rows before it.
struct RowRng(u64);

impl RowRng {
    fn new(table: Table, offset: u64) -> Self {
        let mut key = RowRng(DEMO_SEED ^ table.salt().wrapping_mul(0xa076_1d64_78bd_642f));
        let mixed = key.next_u64() ^ offset;
        RowRng(mixed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A value in `[0, n)`; the modulo bias is irrelevant for demo data.
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    /// True with probability `per_mille / 1000`.
    fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        let i = self.below(items.len() as u64) as usize;
        items.get(i).copied().unwrap_or_default()
    }

    fn uuid4(&mut self) -> String {
        let hi = self.next_u64();
        let lo = self.next_u64();
        let hi = (hi & !0xf000) | 0x4000;
        let lo = (lo & !(0xc << 60)) | (0x8 << 60);
        format!(
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            hi >> 32,
            (hi >> 16) & 0xffff,
            hi & 0xffff,
            lo >> 48,
            lo & 0xffff_ffff_ffff
        )
    }

    /// `437`, `26k` or `6M`, as the scraper wrote the count (truncated).
    fn follower_count(&mut self) -> String {
        let n = match self.below(10) {
            0..=3 => self.below(1000),
            4..=8 => 1_000 + self.below(999_000),
            _ => 1_000_000 + self.below(20_000_000),
        };
        if n >= 1_000_000 {
            format!("{}M", n / 1_000_000)
        } else if n >= 1_000 {
            format!("{}k", n / 1_000)
        } else {
            n.to_string()
        }
    }

    fn tag_list(&mut self, topic: &str) -> String {
        let count = 3 + self.below(6);
        let mut tags = Vec::new();
        for _ in 0..count {
            let adj = self.pick(&TITLE_ADJECTIVES);
            tags.push(format!("{adj} {topic}"));
        }
        tags.join(",")
    }

    fn image_src(&mut self) -> String {
        let a = self.next_u64();
        let b = self.next_u64();
        let ext = if self.chance(100) { "png" } else { "jpg" };
        format!(
            "https://i.pinimg.com/originals/{:02x}/{:02x}/{:02x}/{a:016x}{b:016x}.{ext}",
            a >> 56,
            (a >> 48) & 0xff,
            (a >> 40) & 0xff
        )
    }

    /// A uniform coordinate in `[-limit, limit]`, rounded to 4 decimals.
    fn coordinate(&mut self, limit: f64) -> f64 {
        let steps = (limit * 20_000.0) as u64 + 1;
        (self.below(steps) as f64 - limit * 10_000.0) / 10_000.0
    }

    /// `str()` of a naive Python datetime in `[start, end)` Unix seconds.
    fn datetime(&mut self, (start, end): (i64, i64)) -> Option<String> {
        let span = u64::try_from(end - start).ok()?;
        let secs = start + i64::try_from(self.below(span)).ok()?;
        let at = DateTime::from_timestamp(secs, 0)?.naive_utc();
        Some(at.format("%Y-%m-%d %H:%M:%S").to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, NaiveDateTime};
    use std::collections::{BTreeSet, HashMap};

    fn all_rows(table: Table) -> Vec<Map<String, Value>> {
        (0..DEMO_ROWS).map(|k| row(table, k).unwrap()).collect()
    }

    fn text<'a>(row: &'a Map<String, Value>, column: &str) -> &'a str {
        row[column].as_str().unwrap()
    }

    fn count(rows: &[Map<String, Value>], column: &str, value: &str) -> usize {
        rows.iter().filter(|r| r[column] == value).count()
    }

    fn is_python_datetime(s: &str) -> bool {
        let b = s.as_bytes();
        b.len() == 19
            && b.iter().enumerate().all(|(i, c)| match i {
                4 | 7 => *c == b'-',
                10 => *c == b' ',
                13 | 16 => *c == b':',
                _ => c.is_ascii_digit(),
            })
    }

    fn parse(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    fn at(y: i32, m: u32, d: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap()
    }

    #[test]
    fn tables_are_named_as_in_mysql() {
        assert_eq!(Table::Pin.name(), "pinterest_data");
        assert_eq!(Table::Geo.name(), "geolocation_data");
        assert_eq!(Table::User.name(), "user_data");
    }

    #[test]
    fn every_offset_the_original_script_can_draw_exists() {
        for table in Table::ALL {
            for k in 0..=11_000 {
                assert!(row(table, k).is_some(), "{} offset {k}", table.name());
            }
            assert!(row(table, DEMO_ROWS - 1).is_some());
        }
    }

    #[test]
    fn offsets_past_the_last_row_are_absent() {
        for table in Table::ALL {
            assert_eq!(row(table, DEMO_ROWS), None);
            assert_eq!(row(table, u64::MAX), None);
        }
    }

    #[test]
    fn a_row_is_the_same_on_every_call() {
        for table in Table::ALL {
            let first = all_rows(table);
            for k in [0, 1, 2386, 7528, 11_000, DEMO_ROWS - 1] {
                assert_eq!(row(table, k).as_ref(), first.get(k as usize));
            }
            assert_eq!(all_rows(table), first);
        }
    }

    #[test]
    fn index_and_ind_equal_the_offset_in_all_three_tables() {
        for k in 0..DEMO_ROWS {
            assert_eq!(row(Table::Pin, k).unwrap()["index"], k);
            assert_eq!(row(Table::Geo, k).unwrap()["ind"], k);
            assert_eq!(row(Table::User, k).unwrap()["ind"], k);
        }
    }

    #[test]
    fn rows_have_exactly_the_real_columns() {
        let expected: [(Table, &[&str]); 3] = [
            (
                Table::Pin,
                &[
                    "index",
                    "unique_id",
                    "title",
                    "description",
                    "poster_name",
                    "follower_count",
                    "tag_list",
                    "is_image_or_video",
                    "image_src",
                    "downloaded",
                    "save_location",
                    "category",
                ],
            ),
            (
                Table::Geo,
                &["ind", "timestamp", "latitude", "longitude", "country"],
            ),
            (
                Table::User,
                &["ind", "first_name", "last_name", "age", "date_joined"],
            ),
        ];
        for (table, columns) in expected {
            let want: BTreeSet<&str> = columns.iter().copied().collect();
            for r in all_rows(table) {
                let got: BTreeSet<&str> = r.keys().map(String::as_str).collect();
                assert_eq!(got, want, "{}", table.name());
            }
        }
    }

    #[test]
    fn follower_counts_are_plain_thousands_millions_or_the_error_text() {
        for r in all_rows(Table::Pin) {
            let f = text(&r, "follower_count");
            if f == USER_INFO_ERROR {
                continue;
            }
            let digits = f.strip_suffix(['k', 'M']).unwrap_or(f);
            assert!(
                !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()),
                "{f}"
            );
            assert!(digits == "0" || !digits.starts_with('0'), "{f}");
            if digits.len() == f.len() {
                assert!(digits.parse::<u32>().unwrap() < 1000, "{f}");
            }
        }
    }

    #[test]
    fn every_follower_count_form_occurs() {
        let pins = all_rows(Table::Pin);
        let forms = |suffix: Option<char>| {
            pins.iter()
                .map(|r| text(r, "follower_count"))
                .filter(|f| *f != USER_INFO_ERROR)
                .filter(|f| f.chars().last().filter(|c| !c.is_ascii_digit()) == suffix)
                .count()
        };
        assert!(forms(None) > 100);
        assert!(forms(Some('k')) > 100);
        assert!(forms(Some('M')) > 100);
    }

    #[test]
    fn pin_columns_have_the_real_formats() {
        let mut ids = BTreeSet::new();
        for r in all_rows(Table::Pin) {
            let category = text(&r, "category");
            assert!(CATEGORIES.contains(&category));
            assert_eq!(
                text(&r, "save_location"),
                format!("Local save in /data/{category}")
            );
            assert!(["image", "video", STORY_FORMAT].contains(&text(&r, "is_image_or_video")));
            let src = text(&r, "image_src");
            assert!(
                src == IMAGE_SRC_ERROR || src.starts_with("https://i.pinimg.com/"),
                "{src}"
            );
            let downloaded = r["downloaded"].as_u64().unwrap();
            assert_eq!(downloaded, u64::from(src != IMAGE_SRC_ERROR));
            assert!(r["index"].is_u64());
            let id = text(&r, "unique_id");
            let groups: Vec<usize> = id.split('-').map(str::len).collect();
            assert_eq!(groups, [8, 4, 4, 4, 12], "{id}");
            assert!(id.bytes().all(|b| b == b'-' || b.is_ascii_hexdigit()));
            assert!(ids.insert(id.to_owned()), "duplicate unique_id {id}");
            assert!(!text(&r, "tag_list").is_empty());
        }
    }

    #[test]
    fn every_real_category_occurs() {
        let pins = all_rows(Table::Pin);
        for category in CATEGORIES {
            assert!(count(&pins, "category", category) > 500, "{category}");
        }
    }

    #[test]
    fn the_messy_values_of_the_real_data_occur() {
        let pins = all_rows(Table::Pin);
        let messy = [
            ("title", NO_TITLE),
            ("description", NO_DESCRIPTION),
            ("description", NO_DESCRIPTION_STORY),
            ("poster_name", USER_INFO_ERROR),
            ("follower_count", USER_INFO_ERROR),
            ("tag_list", NO_TAGS),
            ("is_image_or_video", STORY_FORMAT),
            ("is_image_or_video", "video"),
            ("image_src", IMAGE_SRC_ERROR),
        ];
        for (column, value) in messy {
            let n = count(&pins, column, value);
            // Present often enough to matter, rare enough to stay messiness.
            assert!((50..3000).contains(&n), "{column} = {value:?}: {n} rows");
        }
        let downloaded_zero = pins.iter().filter(|r| r["downloaded"] == 0).count();
        assert!(downloaded_zero > 50);

        let geos = all_rows(Table::Geo);
        let outliers = geos.iter().filter(|r| r["latitude"] == -89.9787).count();
        assert!(outliers > 50, "{outliers} outliers");
        let antarctica = count(
            &geos,
            "country",
            "Antarctica (the territory South of 60 deg S)",
        );
        assert!(antarctica > 50, "{antarctica}");
    }

    #[test]
    fn some_titles_are_not_ascii() {
        let pins = all_rows(Table::Pin);
        let titles: Vec<&str> = pins.iter().map(|r| text(r, "title")).collect();
        let non_ascii = titles.iter().filter(|t| !t.is_ascii()).count();
        assert!(non_ascii > 50, "{non_ascii}");
        assert!(titles.iter().any(|t| t.contains('é')));
        assert!(
            titles
                .iter()
                .any(|t| t.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)))
        );
        assert!(titles.iter().any(|t| t.chars().any(|c| c >= '\u{1f300}')));
    }

    #[test]
    fn geolocation_timestamps_fall_in_2017_to_2022_as_python_datetime_strings() {
        let (lo, hi) = (at(2017, 1, 1), at(2023, 1, 1));
        let mut years = BTreeSet::new();
        for r in all_rows(Table::Geo) {
            let ts = text(&r, "timestamp");
            assert!(is_python_datetime(ts), "{ts}");
            let t = parse(ts);
            assert!(lo <= t && t < hi, "{ts}");
            years.insert(ts[..4].to_owned());
        }
        assert_eq!(years.len(), 6);
    }

    #[test]
    fn coordinates_are_numbers_within_the_globe_with_four_decimals() {
        for r in all_rows(Table::Geo) {
            let lat = r["latitude"].as_f64().unwrap();
            let lon = r["longitude"].as_f64().unwrap();
            assert!((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon));
            for value in [&r["latitude"], &r["longitude"]] {
                let s = value.to_string();
                let decimals = s.split_once('.').map_or(0, |(_, d)| d.len());
                assert!(decimals <= 4, "{s}");
            }
            assert!(COUNTRIES.contains(&text(&r, "country")));
        }
    }

    #[test]
    fn users_are_20_to_80_and_joined_in_2015_to_2017() {
        let (lo, hi) = (at(2015, 1, 1), at(2018, 1, 1));
        let mut ages = HashMap::new();
        for r in all_rows(Table::User) {
            let age = r["age"].as_u64().unwrap();
            assert!((20..=80).contains(&age));
            *ages.entry(age).or_insert(0) += 1;
            let joined = text(&r, "date_joined");
            assert!(is_python_datetime(joined), "{joined}");
            let t = parse(joined);
            assert!(lo <= t && t < hi, "{joined}");
            assert!(FIRST_NAMES.contains(&text(&r, "first_name")));
            assert!(LAST_NAMES.contains(&text(&r, "last_name")));
        }
        assert_eq!(ages.len(), 61);
    }

    #[test]
    fn time_range_constants_are_the_documented_dates() {
        let secs = |t: NaiveDateTime| t.and_utc().timestamp();
        assert_eq!(GEO_TIME_RANGE, (secs(at(2017, 1, 1)), secs(at(2023, 1, 1))));
        assert_eq!(
            JOINED_TIME_RANGE,
            (secs(at(2015, 1, 1)), secs(at(2018, 1, 1)))
        );
    }

    #[test]
    fn a_row_serialises_as_the_original_script_sends_it() {
        let geo = Value::Object(row(Table::Geo, 7528).unwrap()).to_string();
        assert!(geo.contains("\"ind\":7528"), "{geo}");
        let pin = Value::Object(row(Table::Pin, 7528).unwrap()).to_string();
        assert!(
            pin.contains("\"index\":7528") && pin.contains("\"downloaded\":"),
            "{pin}"
        );
    }
}
