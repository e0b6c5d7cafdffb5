//! The CSV tokenizer and header rules against Guacamole's import behaviour.

use super::*;

fn texts(records: &[Record]) -> Vec<Vec<&str>> {
    records
        .iter()
        .map(|r| r.cells.iter().map(|c| c.text.as_str()).collect())
        .collect()
}

#[test]
fn tokenizer_table() {
    let cases: &[(&str, &[&[&str]])] = &[
        ("a,b\n1,2\n", &[&["a", "b"], &["1", "2"]]),
        ("a,b\r\n1,2", &[&["a", "b"], &["1", "2"]]),
        ("a,b\r1,2\r", &[&["a", "b"], &["1", "2"]]),
        ("a,b\n\n\n1,2\n\n", &[&["a", "b"], &["1", "2"]]),
        ("a\n\"x,\"\"y\"\"\nz\"\n", &[&["a"], &["x,\"y\"\nz"]]),
        ("a,b\n,\n", &[&["a", "b"], &["", ""]]),
        ("a,b\n\"\",\"\"\n", &[&["a", "b"], &["", ""]]),
        (" a , b \n", &[&[" a ", " b "]]),
    ];
    for (input, expected) in cases {
        let (records, err) = tokenize(input);
        assert_eq!(err, None, "{input:?}");
        assert_eq!(texts(&records), *expected, "{input:?}");
    }
}

#[test]
fn tokenizer_positions() {
    let (records, _) = tokenize("name,protocol\n\"we\nb\",ssh\r\nx,é,\"z\"\n");
    assert_eq!(records[1].pos, Pos::new(2, 1));
    assert_eq!(records[1].cells[1].pos, Pos::new(3, 4));
    assert_eq!(records[2].pos, Pos::new(4, 1));
    assert_eq!(records[2].cells[2].pos, Pos::new(4, 5));
}

#[test]
fn tokenizer_errors() {
    let cases: &[(&str, Pos)] = &[
        ("a,b\n\"x,1\n", Pos::new(2, 1)),
        ("a,b\n\"x\"y,1\n", Pos::new(2, 4)),
        ("a,b\nx\"y,1\n", Pos::new(2, 2)),
    ];
    for (input, pos) in cases {
        let (_, err) = tokenize(input);
        assert_eq!(err.map(|e| e.pos), Some(*pos), "{input:?}");
    }
}

#[test]
fn list_splitting() {
    assert_eq!(split_list("alice; bob ;;"), ["alice", "bob"]);
    assert_eq!(split_list("a\\;b;c\\\\d"), ["a;b", "c\\d"]);
    // Upstream (1.6.0 `connectionCSVService.js#splitIdentifiers`): a backslash
    // sets "escaped" and is never appended, so a lone trailing one is dropped.
    assert_eq!(split_list("trailing\\"), ["trailing"]);
    assert_eq!(split_list("a\\;b\\"), ["a;b"]);
    assert!(split_list("\\").is_empty());
    assert!(split_list(" ; ").is_empty());
}

#[test]
fn js_trim_strips_bom_and_whitespace() {
    assert_eq!(js_trim("\u{feff} name \t"), "name");
    assert_eq!(js_trim("\u{85}x"), "\u{85}x");
}

#[test]
fn header_classification() {
    assert_eq!(classify_header("name"), Column::Name);
    assert_eq!(classify_header("Name"), Column::Other("Name".into()));
    assert_eq!(
        classify_header("name (parameter)"),
        Column::Parameter("name".into())
    );
    assert_eq!(
        classify_header("a (parameter) (parameter)"),
        Column::Parameter("a (parameter)".into())
    );
    assert_eq!(
        classify_header("weight (attribute)"),
        Column::Attribute("weight".into())
    );
}
