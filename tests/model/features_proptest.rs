//! `extract` and `tokens` must never panic, whatever a log line holds.

use proptest::prelude::*;
use qlat::sql::catalog::Catalog;
use qlat::sql::features::{extract, extract_with_tokens};
use qlat::sql::tokens::{fallback_tokens, tokens};

/// SQL-flavoured fragments, so that generated text gets past the tokenizer
/// and exercises the parser and the feature walker, not just error paths.
fn sqlish() -> impl Strategy<Value = String> {
    let frag = prop::sample::select(vec![
        "select",
        "from",
        "where",
        "lineitem",
        "orders",
        "l_orderkey",
        "o_orderkey",
        "=",
        "<",
        ">=",
        "and",
        "or",
        "not",
        "(",
        ")",
        ",",
        "'1994-01-01'",
        "date",
        "interval",
        "'1'",
        "year",
        "+",
        "-",
        "in",
        "exists",
        "like",
        "'%x%'",
        "between",
        "group by",
        "order by",
        "limit",
        "10",
        "join",
        "left",
        "on",
        "as",
        "l1",
        "count(*)",
        "sum",
        "case",
        "when",
        "then",
        "else",
        "end",
        "union",
        "with",
        "'",
        "`",
        "/*",
        "*/",
        "--",
        "\n",
        "@@x",
        "?",
    ]);
    prop::collection::vec(frag, 0..60).prop_map(|v| v.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn extract_never_panics_on_arbitrary_text(s in ".{0,400}") {
        let cat = Catalog::tpch();
        let f = extract(&s, &cat);
        prop_assert!(f.numeric_vector().iter().all(|(_, v)| v.is_finite()));
    }

    #[test]
    fn extract_never_panics_on_sqlish_text(s in sqlish()) {
        let cat = Catalog::tpch();
        let f = extract(&s, &cat);
        prop_assert!(f.parsed || f.unparsed_reason.is_some());
    }

    #[test]
    fn tokens_never_panic(s in ".{0,400}") {
        let _ = tokens(&s);
        let _ = fallback_tokens(&s);
    }

    #[test]
    fn tokens_never_panic_on_sqlish_text(s in sqlish()) {
        let t = tokens(&s);
        prop_assert!(t.iter().all(|x| !x.is_empty()));
    }

    /// Serving takes features and TF-IDF tokens from one tokenizer pass; a
    /// model trained on `tokens` must see exactly the same tokens there.
    #[test]
    fn shared_pass_gives_the_same_tokens_and_features(s in sqlish()) {
        let catalog = Catalog::default();
        let (f, t) = extract_with_tokens(&s, &catalog);
        prop_assert_eq!(t, tokens(&s));
        prop_assert_eq!(f, extract(&s, &catalog));
    }

    #[test]
    fn deep_nesting_is_rejected_not_overflowed(depth in 0usize..3000, open_only in any::<bool>()) {
        let cat = Catalog::tpch();
        let close = if open_only { String::new() } else { ")".repeat(depth) };
        let sql = format!("SELECT * FROM orders WHERE o_orderkey IN {}1{}", "(".repeat(depth), close);
        let f = extract(&sql, &cat);
        if depth > 32 {
            prop_assert!(!f.parsed);
        }
        let sub = format!(
            "SELECT * FROM orders WHERE {}o_orderkey = 1{}",
            "o_orderkey IN (SELECT l_orderkey FROM lineitem WHERE ".repeat(depth % 200),
            ")".repeat(depth % 200)
        );
        let _ = extract(&sub, &cat);
        let _ = tokens(&sql);
    }
}

/// Found by `shared_pass_gives_the_same_tokens_and_features`: the trimmed
/// end of "` ` -- \n" left a bare `--`, two minus signs to the parser but a
/// comment to `tokens`.
#[test]
fn a_final_comment_marker_tokenizes_alike_in_both_passes() {
    let catalog = Catalog::default();
    for s in ["` ` -- \n", "SELECT 1 -- \n", "SELECT 1 --;"] {
        let (f, t) = extract_with_tokens(s, &catalog);
        assert_eq!(t, tokens(s), "{s:?}");
        assert_eq!(f, extract(s, &catalog), "{s:?}");
    }
}
