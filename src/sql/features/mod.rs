//! Structured features of one SQL statement, resolved against a [`Catalog`].
//!
//! The latency model cannot run the optimizer, so it needs a cheap static
//! picture of the work a statement implies: which tables it touches and
//! whether they are reached through an index or scanned, how many joins and
//! how selective the filters look (date ranges, IN lists, leading-wildcard
//! LIKEs), how much post-processing it asks for (GROUP BY, ORDER BY,
//! DISTINCT, LIMIT) and how deeply it nests. [`extract`] computes that
//! picture; [`StatementFeatures::numeric_vector`] flattens it into named
//! numbers for the model and for explanations shown to DBAs.
//!
//! `extract` never fails: logs contain truncated statements, client chatter
//! and administrator commands, and every one of them must still get a
//! prediction. Session/administrative chatter (`SET`, `SHOW`, `USE`,
//! `COMMIT`, `Quit`, ...) is classified from its first keyword without
//! running sqlparser, which keeps the serving path fast for the bulk of a
//! real log; text sqlparser rejects is classified the same way and marked
//! `parsed: false`.
//!
//! Index-use heuristic: a table is "read via index" when a top-level (not
//! under `OR`) WHERE/ON predicate compares the leading column of its primary
//! key or of a secondary index with a value that does not depend on the same
//! query block (constant, outer column, subquery), or when an equality join
//! key on such a column connects it to another table of the block. A block
//! whose tables are *all* only reachable through join keys still has to start
//! somewhere, so the smallest of them (by catalog row count, else the first
//! in FROM order) is counted as scanned. The inner side of an outer join is
//! the only side that can use the ON keys.

use chrono::{Days, Months, NaiveDate};
use serde::{Deserialize, Serialize};
use sqlparser::ast::{
    BinaryOperator, DataType, DateTimeField, Distinct, DuplicateTreatment, Expr, FromTable,
    Function, FunctionArg, FunctionArgExpr, FunctionArguments, GroupByExpr, Ident, InTarget,
    JoinConstraint, JoinOperator, LimitClause, ObjectName, ObjectNamePart, OrderBy, OrderByKind,
    Query, Select, SelectItem, SetExpr, SetOperator, SetQuantifier, Statement, TableFactor,
    TableObject, TableWithJoins, UnaryOperator, Value,
};
use sqlparser::dialect::MySqlDialect;
use sqlparser::keywords::Keyword;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, Tokenizer};

use super::catalog::{Catalog, IndexUse, Table};
use super::tokens::{looks_like_date, scan_tokens};

/// Statements nested deeper than this many parentheses are not handed to
/// sqlparser: its recursion limit would reject them anyway, and refusing early
/// keeps stack use bounded on small (2 MiB) worker-thread stacks.
const MAX_PAREN_DEPTH: usize = 32;

/// sqlparser builds left-deep trees for chains like `a DIV b DIV c ...`
/// iteratively, without its recursion guard; dropping or walking such a tree
/// recurses once per operator. Statements whose expressions may nest deeper
/// than this (see [`expression_depth_bound`], which counts a comparison in
/// an `OR` chain as a level of its own, so 2,500 `a = 1 OR …` conditions
/// count 5,000) are classified without parsing. Measured in a debug build on
/// a 2 MiB thread stack (a test thread's, a tokio worker's): chains of
/// 10,000 `+` or 5,000 `OR`s parse, walk and drop fine. Real statements stay
/// far below it (an `IN` list or `VALUES` rows are commas, not operators).
pub const MAX_EXPRESSION_DEPTH: usize = 5_000;

/// sqlparser's MySQL `DIV` copies its whole left operand (the dialect hook
/// sees it by reference), so a chain of k `DIV`s costs k²/2 node copies: a
/// 12 kB chain took a second, and the recursive copy overflowed a 2 MiB
/// stack at 2,500 `DIV`s. Statements whose `DIV`s would copy more nodes
/// than this (about 450 in one chain) are classified without parsing.
pub const MAX_DIV_COPIES: usize = 100_000;

/// `UNION` / `EXCEPT` / `INTERSECT` build a left-deep tree as well, with
/// larger frames: 6,500 overflowed a 2 MiB stack in a debug build, 3,000
/// did not.
pub const MAX_SET_OPERATIONS: usize = 2_000;

/// Expression nesting beyond which the walker stops descending (it still
/// returns a result; deeper parts are just not counted).
const MAX_WALK_DEPTH: u32 = 256;

mod analyzer;
mod classify;
mod depth;
mod literals;
mod parse;
mod scope;
mod selectivity;
mod statement;
mod vector;

use analyzer::*;
use classify::*;
use literals::*;
use scope::*;
use selectivity::*;

pub use classify::{kind_from_keywords, strip_leading_comments};
pub use depth::{DepthBound, expression_depth_bound};
pub use parse::{extract, extract_with_tokens};
pub use statement::*;
