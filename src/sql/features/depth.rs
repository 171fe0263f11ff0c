//! How deep a statement's AST can get, read from its tokens before
//! sqlparser builds it: deep trees overflow stacks when walked, copied or
//! dropped, so statements past the bounds are classified without parsing.

use super::*;

/// What one pass over the tokens tells about how deep the AST can get.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DepthBound {
    /// Tokens other than whitespace.
    pub tokens: usize,
    /// Deepest parenthesis nesting.
    pub max_parens: usize,
    /// An upper bound on the depth of operator nesting: binary operators in
    /// one chain (operands joined without a comma between them), summed
    /// over the enclosing parentheses and `CASE … END` blocks, plus one per
    /// open block.
    pub depth: usize,
    /// Nodes sqlparser copies for `DIV`s: for each, the operators left of
    /// it in its chain.
    pub div_copies: usize,
    /// `UNION`, `EXCEPT` and `INTERSECT` keywords.
    pub set_operations: usize,
}

impl DepthBound {
    /// Why the statement must not be handed to sqlparser, if it must not.
    pub fn exceeded(&self) -> Option<String> {
        if self.max_parens > MAX_PAREN_DEPTH {
            Some(format!("nesting deeper than {MAX_PAREN_DEPTH} parentheses"))
        } else if self.div_copies > MAX_DIV_COPIES {
            Some(format!(
                "DIV chains too long to parse (over {MAX_DIV_COPIES} node copies)"
            ))
        } else if self.set_operations > MAX_SET_OPERATIONS {
            Some(format!(
                "more than {MAX_SET_OPERATIONS} UNION/EXCEPT/INTERSECT"
            ))
        } else if self.depth > MAX_EXPRESSION_DEPTH {
            Some(format!(
                "expressions nested deeper than {MAX_EXPRESSION_DEPTH} operators"
            ))
        } else {
            None
        }
    }
}

/// Bounds the AST's depth from the tokens, in one linear pass, before
/// sqlparser builds it. A binary operator is an operator token or keyword
/// (`DIV`, `MOD`, `XOR`, `AND`, `LIKE`, `COLLATE`, `->`, `:=`, …) that
/// follows the end of an operand; prefix operators are left to sqlparser's
/// own recursion limit. Each open parenthesis keeps its own chain count,
/// reset by a comma, and hands it to the enclosing one when it closes.
pub fn expression_depth_bound(tokens: &[sqlparser::tokenizer::TokenWithSpan]) -> DepthBound {
    let mut out = DepthBound::default();
    // Chain count per open parenthesis / CASE; the sum is the depth so far.
    let mut chains: Vec<usize> = vec![0];
    let mut sum = 0usize;
    let mut after_operand = false;
    for t in tokens {
        let token = &t.token;
        if matches!(token, Token::Whitespace(_) | Token::EOF) {
            continue;
        }
        out.tokens += 1;
        if opens_group(token) {
            chains.push(0);
            if matches!(token, Token::LParen) {
                out.max_parens = out.max_parens.max(chains.len() - 1);
            }
            after_operand = false;
            continue;
        }
        if closes_group(token) {
            close_group(&mut chains);
            after_operand = true;
            continue;
        }
        if is_set_operation(token) {
            out.set_operations += 1;
        }
        if matches!(token, Token::Comma | Token::SemiColon) || starts_clause(token) {
            if let Some(top) = chains.last_mut() {
                sum -= *top;
                *top = 0;
            }
            after_operand = false;
            continue;
        }
        let binary = is_binary_operator(token);
        if binary && after_operand {
            if let Some(top) = chains.last_mut() {
                if matches!(token, Token::Word(w) if w.keyword == Keyword::DIV) {
                    out.div_copies += *top + 1;
                }
                *top += 1;
                sum += 1;
            }
            after_operand = false;
        } else {
            after_operand = !binary && ends_operand(token);
        }
        // Each open group is a level of its own, besides its operators.
        out.depth = out.depth.max(sum + chains.len() - 1);
    }
    out
}

/// `(` or `CASE`: a group with its own chain count.
fn opens_group(token: &Token) -> bool {
    matches!(token, Token::LParen)
        || matches!(token, Token::Word(w) if w.quote_style.is_none() && w.keyword == Keyword::CASE)
}

/// `)` or `END`.
fn closes_group(token: &Token) -> bool {
    matches!(token, Token::RParen)
        || matches!(token, Token::Word(w) if w.quote_style.is_none() && w.keyword == Keyword::END)
}

/// Closes the innermost group (never the outermost chain): the closed
/// group is one operand of the enclosing chain, as deep as its own chain
/// was.
fn close_group(chains: &mut Vec<usize>) {
    if chains.len() > 1 {
        let inner = chains.pop().unwrap_or(0);
        if let Some(top) = chains.last_mut() {
            *top += inner;
        }
    }
}

/// `UNION`, `EXCEPT`, `INTERSECT`.
fn is_set_operation(token: &Token) -> bool {
    matches!(token, Token::Word(w) if w.quote_style.is_none()
        && matches!(w.keyword, Keyword::UNION | Keyword::EXCEPT | Keyword::INTERSECT))
}

/// Whether a keyword starts a new expression (a clause, a join condition, a
/// CASE branch, a set operation's next query): the chain before it is
/// complete.
pub(super) fn starts_clause(token: &Token) -> bool {
    matches!(token, Token::Word(w) if w.quote_style.is_none() && matches!(
        w.keyword,
        Keyword::SELECT
            | Keyword::FROM
            | Keyword::WHERE
            | Keyword::JOIN
            | Keyword::ON
            | Keyword::USING
            | Keyword::GROUP
            | Keyword::ORDER
            | Keyword::HAVING
            | Keyword::LIMIT
            | Keyword::OFFSET
            | Keyword::UNION
            | Keyword::EXCEPT
            | Keyword::INTERSECT
            | Keyword::SET
            | Keyword::VALUES
            | Keyword::WHEN
            | Keyword::THEN
            | Keyword::ELSE
            | Keyword::RETURNING
            | Keyword::INTO
            | Keyword::WINDOW
    ))
}

/// Whether a token joins two operands: operator punctuation, or one of
/// MySQL's operator keywords.
pub(super) fn is_binary_operator(token: &Token) -> bool {
    match token {
        Token::Word(w) => {
            w.quote_style.is_none()
                && matches!(
                    w.keyword,
                    Keyword::AND
                        | Keyword::OR
                        | Keyword::XOR
                        | Keyword::DIV
                        | Keyword::MOD
                        | Keyword::IS
                        | Keyword::LIKE
                        | Keyword::ILIKE
                        | Keyword::RLIKE
                        | Keyword::REGEXP
                        | Keyword::SIMILAR
                        | Keyword::IN
                        | Keyword::BETWEEN
                        | Keyword::COLLATE
                        | Keyword::MEMBER
                        | Keyword::ESCAPE
                        | Keyword::OVERLAPS
                        | Keyword::NOT
                )
        }
        Token::Number(..)
        | Token::Char(_)
        | Token::Comma
        | Token::Period
        | Token::LParen
        | Token::RParen
        | Token::LBracket
        | Token::RBracket
        | Token::LBrace
        | Token::RBrace
        | Token::SemiColon
        | Token::Colon
        | Token::DoubleColon
        | Token::Placeholder(_)
        | Token::Whitespace(_)
        | Token::EOF => false,
        other => !is_string_literal(other),
    }
}

/// Whether a token can end an operand: a name, a number, a literal, a
/// placeholder (and `)` / `END`, handled by the caller).
pub(super) fn ends_operand(token: &Token) -> bool {
    match token {
        // Names, quoted names, NULL/TRUE/FALSE and other keywords.
        Token::Word(_) => !is_binary_operator(token),
        Token::Number(..) | Token::Placeholder(_) => true,
        other => is_string_literal(other),
    }
}

pub(super) fn is_string_literal(token: &Token) -> bool {
    matches!(
        token,
        Token::SingleQuotedString(_)
            | Token::DoubleQuotedString(_)
            | Token::TripleSingleQuotedString(_)
            | Token::TripleDoubleQuotedString(_)
            | Token::DollarQuotedString(_)
            | Token::SingleQuotedByteStringLiteral(_)
            | Token::DoubleQuotedByteStringLiteral(_)
            | Token::TripleSingleQuotedByteStringLiteral(_)
            | Token::TripleDoubleQuotedByteStringLiteral(_)
            | Token::SingleQuotedRawStringLiteral(_)
            | Token::DoubleQuotedRawStringLiteral(_)
            | Token::TripleSingleQuotedRawStringLiteral(_)
            | Token::TripleDoubleQuotedRawStringLiteral(_)
            | Token::NationalStringLiteral(_)
            | Token::QuoteDelimitedStringLiteral(_)
            | Token::NationalQuoteDelimitedStringLiteral(_)
            | Token::EscapedStringLiteral(_)
            | Token::UnicodeStringLiteral(_)
            | Token::HexStringLiteral(_)
    )
}
