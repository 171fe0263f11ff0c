//! The shop's seeded workload: what its web backend, support desk,
//! reporting jobs and DBA send.
//!
//! Most of the backend's and the support desk's statements are
//! server-side prepared statements with bound parameters, as an ORM or a
//! driver sends them; reporting and ad-hoc statements are plain text. A
//! label `category:name` names each shape for the capture's bookkeeping
//! (the server never sees it). Widths span orders of magnitude on purpose:
//! the same shape reads one row, a hundred, ten thousand or the whole table.

use super::data::{self, Ctx, SPAN_SECONDS, START, datetime, weighted};
use super::{AppSpec, Sizes, text};
use crate::capture::workload::{Action, Param, Profile, Session};
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

type Rng = ChaCha8Rng;

fn prep(label: &str, text: &str, params: Vec<Param>) -> Action {
    Action::Prepared {
        label: label.to_string(),
        text: text.to_string(),
        params,
    }
}

fn sql(label: &str, text: String) -> Action {
    Action::Sql {
        label: label.to_string(),
        text,
    }
}

fn int(v: u64) -> Param {
    Param::Int(v as i64)
}

fn txt(v: impl Into<String>) -> Param {
    Param::Text(v.into())
}

/// `?, ?, ?` for `n` placeholders.
fn marks(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// A time window `[from, to)` whose width is drawn from `widths`
/// (seconds; 0 means the whole history), each with its weight.
fn window(rng: &mut Rng, widths: &[(i64, u32)]) -> (String, String) {
    let w = weighted(rng, widths);
    if w == 0 {
        return (
            datetime(START - 3 * 365 * 86_400),
            datetime(START + 2 * SPAN_SECONDS),
        );
    }
    let from = START + rng.random_range(0..(SPAN_SECONDS - w).max(1));
    (datetime(from), datetime(from + w))
}

const HOUR: i64 = 3_600;
const DAY: i64 = 86_400;

/// One unit of the web backend's work.
fn web(ctx: &Ctx, rng: &mut Rng) -> Vec<Action> {
    let s = &ctx.sizes;
    let product = ctx.products.id(rng);
    let customer = ctx.customers.id(rng);
    let kinds: &[(u8, u32)] = &[
        (0, 14),
        (1, 3),
        (2, 5),
        (3, 8),
        (4, 6),
        (5, 3),
        (6, 6),
        (7, 6),
        (8, 5),
        (9, 5),
        (10, 5),
        (11, 6),
        (12, 3),
        (13, 3),
        (14, 3),
        (15, 2),
        (16, 1),
        (17, 3),
    ];
    let one = match weighted(rng, kinds) {
        0 => prep(
            "point:product_by_id",
            "SELECT p.product_id, p.title, p.price, p.stock, c.name AS category FROM products p JOIN categories c ON c.category_id = p.category_id WHERE p.product_id = ?",
            vec![int(product)],
        ),
        1 => prep(
            "point:product_by_sku",
            "SELECT product_id, title, price, stock FROM products WHERE sku = ?",
            vec![txt(data::product(ctx, product).sku)],
        ),
        2 => prep(
            "point:login_by_email",
            "SELECT customer_id, full_name, tier FROM customers WHERE email = ?",
            vec![txt(data::customer(ctx, customer).email)],
        ),
        3 => prep(
            "range:category_page",
            "SELECT product_id, title, price FROM products WHERE category_id = ? AND active = 1 ORDER BY price LIMIT ?",
            vec![
                int(rng.random_range(13..=super::CATEGORY_COUNT)),
                int([20u64, 50, 100][rng.random_range(0..3)]),
            ],
        ),
        4 => {
            let brand = data::choose(rng, &text::BRANDS);
            let pattern = if rng.random_bool(0.5) {
                format!("{brand}%")
            } else {
                format!("{brand} {}%", data::choose(rng, &text::ADJECTIVES))
            };
            prep(
                "like:search_prefix",
                "SELECT product_id, title, price FROM products WHERE title LIKE ? ORDER BY title LIMIT 50",
                vec![txt(pattern)],
            )
        }
        5 => {
            let noun = data::choose(rng, &text::NOUNS).to_ascii_lowercase();
            prep(
                "like:search_infix",
                "SELECT product_id, title, price FROM products WHERE title LIKE ? AND active = 1 LIMIT 50",
                vec![txt(format!("%{noun}%"))],
            )
        }
        6 => prep(
            "top_n:order_history",
            "SELECT order_id, status, created_at, total FROM orders WHERE customer_id = ? ORDER BY created_at DESC LIMIT 20",
            vec![int(customer)],
        ),
        7 => prep(
            "join:order_detail",
            "SELECT i.line_no, i.quantity, i.unit_price, p.title FROM order_items i JOIN products p ON p.product_id = i.product_id WHERE i.order_id = ? ORDER BY i.line_no",
            vec![int(rng.random_range(1..=s.orders))],
        ),
        8 => prep(
            "join:product_reviews",
            "SELECT r.rating, r.body, r.created_at, c.full_name FROM reviews r JOIN customers c ON c.customer_id = r.customer_id WHERE r.product_id = ? ORDER BY r.created_at DESC LIMIT 10",
            vec![int(product)],
        ),
        9 => prep(
            "aggregate:rating_summary",
            "SELECT rating, COUNT(*) AS n FROM reviews WHERE product_id = ? GROUP BY rating",
            vec![int(product)],
        ),
        10 => prep(
            "join:cart_view",
            "SELECT ci.product_id, ci.quantity, p.title, p.price FROM cart_items ci JOIN products p ON p.product_id = ci.product_id WHERE ci.customer_id = ?",
            vec![int(customer)],
        ),
        11 => prep(
            "write:cart_add",
            "INSERT INTO cart_items (customer_id, product_id, quantity, added_at) VALUES (?, ?, ?, NOW()) ON DUPLICATE KEY UPDATE quantity = quantity + VALUES(quantity), added_at = NOW()",
            vec![int(customer), int(product), int(rng.random_range(1..4))],
        ),
        12 => prep(
            "write:cart_remove",
            "DELETE FROM cart_items WHERE customer_id = ? AND product_id = ?",
            vec![int(customer), int(product)],
        ),
        13 => return checkout(ctx, rng, customer),
        14 => {
            let n = rng.random_range(2..=12);
            let ids = (0..n).map(|_| int(ctx.products.id(rng))).collect();
            prep(
                "in_list:products_in_list",
                &format!(
                    "SELECT product_id, price, stock FROM products WHERE product_id IN ({})",
                    marks(n)
                ),
                ids,
            )
        }
        15 => prep(
            "aggregate:also_bought",
            "SELECT b.product_id, COUNT(*) AS n FROM order_items a JOIN order_items b ON b.order_id = a.order_id AND b.product_id <> a.product_id WHERE a.product_id = ? GROUP BY b.product_id ORDER BY n DESC LIMIT 5",
            vec![int(product)],
        ),
        16 => {
            let rating = weighted(rng, &[(5u8, 45), (4, 25), (3, 12), (2, 8), (1, 10)]);
            prep(
                "write:review_insert",
                "INSERT INTO reviews (product_id, customer_id, rating, body, created_at) VALUES (?, ?, ?, ?, NOW())",
                vec![
                    int(product),
                    int(customer),
                    int(rating.into()),
                    txt(text::review_body(rng, rating)),
                ],
            )
        }
        // An old endpoint that still builds its SQL as text.
        _ => sql(
            "point:product_stock_text",
            format!("SELECT stock, price FROM products WHERE product_id = {product}"),
        ),
    };
    vec![one]
}

/// A checkout: one transaction that creates an order from a few products,
/// prices it, takes the stock and empties the cart.
fn checkout(ctx: &Ctx, rng: &mut Rng, customer: u64) -> Vec<Action> {
    let mut out = vec![sql("txn:begin", "START TRANSACTION".into())];
    out.push(prep(
        "write:order_insert",
        "INSERT INTO orders (customer_id, status, created_at, total) VALUES (?, 'pending', NOW(), 0)",
        vec![int(customer)],
    ));
    let lines = rng.random_range(1..=4u64);
    let mut stock = Vec::new();
    for line in 1..=lines {
        let product = ctx.products.id(rng);
        let qty = rng.random_range(1..=3u64);
        out.push(prep(
            "write:order_item_insert",
            "INSERT INTO order_items (order_id, line_no, product_id, quantity, unit_price) SELECT LAST_INSERT_ID(), ?, product_id, ?, price FROM products WHERE product_id = ?",
            vec![int(line), int(qty), int(product)],
        ));
        stock.push((product, qty));
    }
    out.push(prep(
        "write:order_total_update",
        "UPDATE orders SET total = (SELECT SUM(quantity * unit_price) FROM order_items WHERE order_id = LAST_INSERT_ID()) WHERE order_id = LAST_INSERT_ID()",
        vec![],
    ));
    for (product, qty) in stock {
        out.push(prep(
            "write:stock_update",
            "UPDATE products SET stock = stock - ? WHERE product_id = ? AND stock >= ?",
            vec![int(qty), int(product), int(qty)],
        ));
    }
    out.push(prep(
        "write:cart_clear",
        "DELETE FROM cart_items WHERE customer_id = ?",
        vec![int(customer)],
    ));
    out.push(sql("txn:commit", "COMMIT".into()));
    out
}

/// One unit of the support desk's work.
fn support(ctx: &Ctx, rng: &mut Rng) -> Action {
    let s = &ctx.sizes;
    let customer = ctx.customers.id(rng);
    let ticket = rng.random_range(1..=s.tickets);
    let word = data::choose(rng, &text::TICKET_WORDS);
    let kinds: &[(u8, u32)] = &[
        (0, 8),
        (1, 5),
        (2, 2),
        (3, 5),
        (4, 2),
        (5, 5),
        (6, 4),
        (7, 3),
        (8, 5),
        (9, 2),
        (10, 2),
        (11, 6),
        (12, 1),
    ];
    match weighted(rng, kinds) {
        0 => prep(
            "top_n:ticket_queue",
            "SELECT ticket_id, subject, priority, created_at FROM tickets WHERE status = ? ORDER BY priority DESC, created_at LIMIT 50",
            vec![txt(weighted(
                rng,
                &[("open", 5), ("pending", 3), ("escalated", 2), ("solved", 1)],
            ))],
        ),
        1 => prep(
            "like:ticket_subject_infix",
            "SELECT ticket_id, subject, status FROM tickets WHERE subject LIKE ? ORDER BY created_at DESC LIMIT 100",
            vec![txt(format!("%{word}%"))],
        ),
        2 => sql(
            "like:ticket_body_infix",
            format!(
                "SELECT ticket_id, customer_id, status FROM tickets WHERE body LIKE '%{word}%' AND status IN ('open', 'pending', 'escalated')"
            ),
        ),
        3 => {
            let first = data::choose(rng, &text::FIRST_NAMES).to_ascii_lowercase();
            let pattern = if rng.random_bool(0.5) {
                format!("{first}.%")
            } else {
                let last = data::choose(rng, &text::LAST_NAMES).to_ascii_lowercase();
                format!("{first}.{last}%")
            };
            prep(
                "like:customer_email_prefix",
                "SELECT customer_id, full_name, email FROM customers WHERE email LIKE ? ORDER BY email LIMIT 20",
                vec![txt(pattern)],
            )
        }
        4 => sql(
            "like:customer_name_infix",
            format!(
                "SELECT customer_id, full_name, email, country FROM customers WHERE full_name LIKE '%{}%' LIMIT 200",
                data::choose(rng, &text::LAST_NAMES)
            ),
        ),
        5 => prep(
            "subquery:customer_overview",
            "SELECT c.customer_id, c.full_name, c.tier, (SELECT COUNT(*) FROM orders o WHERE o.customer_id = c.customer_id) AS orders, (SELECT COUNT(*) FROM tickets t WHERE t.customer_id = c.customer_id AND t.status <> 'closed') AS open_tickets FROM customers c WHERE c.customer_id = ?",
            vec![int(customer)],
        ),
        6 => prep(
            "join:customer_tickets",
            "SELECT t.ticket_id, t.subject, t.status, o.order_id, o.status AS order_status FROM tickets t LEFT JOIN orders o ON o.order_id = t.order_id WHERE t.customer_id = ? ORDER BY t.created_at DESC",
            vec![int(customer)],
        ),
        7 => sql(
            "join:customer_order_lines",
            format!(
                "SELECT o.order_id, o.created_at, p.title, i.quantity, i.unit_price FROM orders o JOIN order_items i ON i.order_id = o.order_id JOIN products p ON p.product_id = i.product_id WHERE o.customer_id = {customer} ORDER BY o.created_at DESC LIMIT 100"
            ),
        ),
        8 => prep(
            "write:ticket_update",
            "UPDATE tickets SET status = ?, updated_at = NOW() WHERE ticket_id = ?",
            vec![
                txt(weighted(
                    rng,
                    &[
                        ("pending", 3),
                        ("solved", 4),
                        ("closed", 2),
                        ("escalated", 1),
                    ],
                )),
                int(ticket),
            ],
        ),
        9 => prep(
            "write:ticket_insert",
            "INSERT INTO tickets (customer_id, order_id, status, priority, subject, body, contact_email, created_at, updated_at) VALUES (?, ?, 'open', ?, ?, ?, ?, NOW(), NOW())",
            {
                let order = rng.random_range(1..=s.orders);
                vec![
                    int(customer),
                    int(order),
                    int(rng.random_range(1..=4)),
                    txt(text::ticket_subject(rng, Some(order))),
                    txt(text::ticket_body(rng)),
                    txt(data::customer(ctx, customer).email),
                ]
            },
        ),
        10 => {
            let recent = s.orders - s.orders / 200;
            prep(
                "write:order_status_update",
                "UPDATE orders SET status = ?, shipped_at = NOW() WHERE order_id = ?",
                vec![
                    txt("shipped"),
                    int(rng.random_range(recent.max(1)..=s.orders)),
                ],
            )
        }
        11 => prep(
            "point:ticket_by_id",
            "SELECT t.*, c.full_name, c.email FROM tickets t JOIN customers c ON c.customer_id = t.customer_id WHERE t.ticket_id = ?",
            vec![int(ticket)],
        ),
        // Who wrote from an address that is not on their account: a join
        // on a column that is no foreign key.
        _ => sql(
            "join:contact_email_match",
            format!(
                "SELECT t.ticket_id, t.contact_email, c.customer_id FROM tickets t JOIN customers c ON c.email = t.contact_email WHERE t.status = 'escalated' AND c.customer_id <> t.customer_id AND t.priority >= {}",
                rng.random_range(1..=4)
            ),
        ),
    }
}

/// One unit of the reporting and housekeeping jobs.
fn batch(ctx: &Ctx, rng: &mut Rng) -> Action {
    let s = &ctx.sizes;
    let kinds: &[(u8, u32)] = &[
        (0, 10),
        (1, 2),
        (2, 1),
        (3, 3),
        (4, 3),
        (5, 5),
        (6, 1),
        (7, 1),
        (8, 1),
        (9, 2),
        (10, 10),
        (11, 8),
        (12, 8),
        (13, 2),
        (14, 1),
        (15, 3),
        (16, 4),
        (17, 4),
        (18, 2),
    ];
    match weighted(rng, kinds) {
        0 => {
            let (from, to) = window(rng, &[(DAY, 4), (7 * DAY, 3), (30 * DAY, 3), (365 * DAY, 2), (0, 1)]);
            prep(
                "aggregate:revenue_by_day",
                "SELECT DATE(created_at) AS day, COUNT(*) AS orders, SUM(total) AS revenue FROM orders WHERE created_at >= ? AND created_at < ? AND status <> 'cancelled' GROUP BY DATE(created_at) ORDER BY day",
                vec![txt(from), txt(to)],
            )
        }
        1 => {
            let (from, to) = window(rng, &[(DAY, 3), (30 * DAY, 2), (365 * DAY, 1)]);
            sql(
                "aggregate:top_products",
                format!(
                    "SELECT p.product_id, p.title, SUM(i.quantity) AS sold FROM orders o JOIN order_items i ON i.order_id = o.order_id JOIN products p ON p.product_id = i.product_id WHERE o.created_at >= '{from}' AND o.created_at < '{to}' GROUP BY p.product_id, p.title ORDER BY sold DESC LIMIT 20"
                ),
            )
        }
        2 => sql(
            "aggregate:sales_by_category",
            "SELECT c.name, COUNT(*) AS line_count, SUM(i.quantity * i.unit_price) AS revenue FROM order_items i JOIN products p ON p.product_id = i.product_id JOIN categories c ON c.category_id = p.category_id GROUP BY c.name ORDER BY revenue DESC".into(),
        ),
        3 => sql(
            "aggregate:status_counts",
            "SELECT status, COUNT(*) FROM orders GROUP BY status".into(),
        ),
        4 => {
            let (from, to) = window(rng, &[(DAY, 3), (30 * DAY, 2), (365 * DAY, 1)]);
            sql(
                "distinct:countries_with_orders",
                format!(
                    "SELECT DISTINCT c.country FROM customers c JOIN orders o ON o.customer_id = c.customer_id WHERE o.created_at >= '{from}' AND o.created_at < '{to}' ORDER BY c.country"
                ),
            )
        }
        5 => {
            let (from, to) = window(rng, &[(HOUR, 1), (DAY, 1), (30 * DAY, 1), (365 * DAY, 1)]);
            prep(
                "distinct:active_customers",
                "SELECT COUNT(DISTINCT customer_id) FROM orders WHERE created_at >= ? AND created_at < ?",
                vec![txt(from), txt(to)],
            )
        }
        6 => sql(
            "subquery:customers_without_orders",
            format!(
                "SELECT COUNT(*) FROM customers c WHERE c.country = '{}' AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.customer_id)",
                data::choose(rng, &text::COUNTRIES)
            ),
        ),
        7 => sql(
            "subquery:products_never_reviewed",
            format!(
                "SELECT product_id, title FROM products WHERE category_id = {} AND product_id NOT IN (SELECT product_id FROM reviews)",
                rng.random_range(13..=super::CATEGORY_COUNT)
            ),
        ),
        8 => sql(
            "aggregate:big_spenders",
            format!(
                "SELECT customer_id, COUNT(*) AS orders, SUM(total) AS spent FROM orders WHERE status = 'delivered' GROUP BY customer_id HAVING spent > {} ORDER BY spent DESC LIMIT 100",
                [1_000, 10_000, 50_000][rng.random_range(0..3)]
            ),
        ),
        9 => {
            let width = [1u64, 100, 1_000, 10_000][rng.random_range(0..4)];
            let lo = rng.random_range(1..=s.orders.saturating_sub(width).max(1));
            sql(
                "join:price_above_list",
                format!(
                    "SELECT COUNT(*) FROM order_items i JOIN products p ON i.unit_price > p.price * 1.5 WHERE p.category_id = {} AND i.order_id BETWEEN {lo} AND {}",
                    rng.random_range(13..=super::CATEGORY_COUNT),
                    lo + width - 1
                ),
            )
        }
        10 => {
            let width = weighted(rng, &[(1u64, 4), (100, 3), (10_000, 2), (s.orders, 1)]);
            let lo = rng.random_range(1..=s.orders.saturating_sub(width).max(1));
            prep(
                "range:orders_by_id",
                "SELECT order_id, customer_id, status, total FROM orders WHERE order_id BETWEEN ? AND ?",
                vec![int(lo), int(lo + width - 1)],
            )
        }
        11 => {
            let width = weighted(rng, &[(1u64, 10), (30, 6), (3_000, 4), (s.orders, 1)]);
            let lo = rng.random_range(1..=s.orders.saturating_sub(width).max(1));
            prep(
                "range:order_items_by_order",
                "SELECT order_id, line_no, product_id, quantity, unit_price FROM order_items WHERE order_id BETWEEN ? AND ?",
                vec![int(lo), int(lo + width - 1)],
            )
        }
        12 => {
            let (from, to) = window(rng, &[(HOUR, 4), (DAY, 3), (30 * DAY, 2), (0, 1)]);
            prep(
                "range:orders_by_time",
                "SELECT order_id, customer_id, total FROM orders WHERE created_at >= ? AND created_at < ? ORDER BY created_at",
                vec![txt(from), txt(to)],
            )
        }
        13 => {
            let lo = rng.random_range(1..1500) as f64;
            sql(
                "full:order_items_by_price",
                format!(
                    "SELECT COUNT(*), SUM(quantity) FROM order_items WHERE unit_price BETWEEN {lo:.2} AND {:.2}",
                    lo * [1.01, 1.5, 10.0][rng.random_range(0..3)]
                ),
            )
        }
        14 => sql(
            "full:export_table",
            format!(
                "SELECT * FROM {}",
                ["customers", "products", "categories", "cart_items"][rng.random_range(0..4)]
            ),
        ),
        15 => {
            let n = rng.random_range(5..=200);
            let ids: Vec<String> = (0..n)
                .map(|_| rng.random_range(1..=s.orders).to_string())
                .collect();
            sql(
                "in_list:orders_in_list",
                format!(
                    "SELECT order_id, status, total FROM orders WHERE order_id IN ({})",
                    ids.join(", ")
                ),
            )
        }
        16 => prep(
            "write:stale_cart_cleanup",
            "DELETE FROM cart_items WHERE added_at < ? LIMIT 50",
            vec![txt(datetime(
                START + SPAN_SECONDS - rng.random_range(60..120) * DAY,
            ))],
        ),
        17 => prep(
            "write:review_moderation",
            "DELETE FROM reviews WHERE review_id = ?",
            vec![int(rng.random_range(1..=s.reviews))],
        ),
        _ => {
            let (from, to) = window(rng, &[(30 * DAY, 1), (365 * DAY, 1)]);
            sql(
                "aggregate:order_value_by_tier",
                format!(
                    "SELECT c.tier, COUNT(*) AS orders, AVG(o.total) AS avg_total FROM orders o JOIN customers c ON c.customer_id = o.customer_id WHERE o.created_at >= '{from}' AND o.created_at < '{to}' GROUP BY c.tier ORDER BY avg_total DESC"
                ),
            )
        }
    }
}

/// The DBA's administrative statements.
fn dba(rng: &mut Rng) -> Action {
    let (label, text) = [
        ("admin:show_table_status", "SHOW TABLE STATUS"),
        ("admin:show_processlist", "SHOW FULL PROCESSLIST"),
        ("admin:show_index", "SHOW INDEX FROM orders"),
        (
            "admin:table_sizes",
            "SELECT table_name, table_rows, data_length, index_length FROM information_schema.tables WHERE table_schema = DATABASE() ORDER BY data_length DESC",
        ),
        ("admin:count_orders", "SELECT COUNT(*) FROM orders"),
        (
            "admin:innodb_status",
            "SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_read%'",
        ),
    ][rng.random_range(0..6)];
    sql(label, text.into())
}

/// Statements a client sends when it connects.
fn connect_chatter(profile: Profile, out: &mut Vec<Action>) {
    let lines: &[(&str, &str)] = match profile {
        Profile::Web => &[
            ("chatter:set_names", "SET NAMES utf8mb4"),
            (
                "chatter:set_isolation",
                "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED",
            ),
        ],
        Profile::Support => &[
            ("chatter:set_names", "SET NAMES utf8mb4"),
            ("chatter:set_time_zone", "SET time_zone = '+00:00'"),
            ("chatter:select_version", "SELECT @@version"),
        ],
        Profile::Batch => &[
            ("chatter:set_names", "SET NAMES utf8mb4"),
            (
                "chatter:set_group_concat",
                "SET SESSION group_concat_max_len = 1048576",
            ),
        ],
        _ => &[(
            "chatter:select_version_comment",
            "SELECT @@version_comment LIMIT 1",
        )],
    };
    out.extend(lines.iter().map(|(l, t)| sql(l, (*t).into())));
}

/// A statement a client slips in between real work.
fn interleaved_chatter(profile: Profile, rng: &mut Rng) -> Action {
    if rng.random_bool(0.15) {
        return Action::Ping;
    }
    let (label, text) = match profile {
        Profile::Web => [
            ("chatter:select_1", "SELECT 1"),
            ("chatter:select_1", "SELECT 1"),
            ("chatter:show_warnings", "SHOW WARNINGS"),
        ][rng.random_range(0..3)],
        _ => [
            ("chatter:show_warnings", "SHOW WARNINGS"),
            ("chatter:select_database", "SELECT DATABASE()"),
        ][rng.random_range(0..2)],
    };
    sql(label, text.into())
}

/// Builds every session of the workload, deterministically from the seed.
pub fn generate(spec: &AppSpec) -> Vec<Session> {
    let ctx = Ctx::new(spec.seed, Sizes::at(spec.rows_scale));
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed ^ 0xa99);
    let mut units: Vec<Profile> = (0..spec.statements)
        .map(|_| {
            weighted(
                &mut rng,
                &[
                    (Profile::Web, 64),
                    (Profile::Support, 24),
                    (Profile::Batch, 8),
                    (Profile::Dba, 3),
                ],
            )
        })
        .collect();
    units.sort_by_key(|p| Profile::SHOP.iter().position(|q| q == p));
    let mut sessions = Vec::new();
    let mut i = 0;
    while i < units.len() {
        let profile = units[i];
        let len = match profile {
            Profile::Web => rng.random_range(5..=30),
            Profile::Support => rng.random_range(3..=15),
            Profile::Batch => rng.random_range(1..=6),
            _ => rng.random_range(1..=4),
        };
        let end = (i + len).min(units.len());
        let end = units[i..end]
            .iter()
            .position(|p| *p != profile)
            .map_or(end, |j| i + j);
        let mut actions = Vec::new();
        connect_chatter(profile, &mut actions);
        for _ in i..end {
            match profile {
                Profile::Web => actions.extend(web(&ctx, &mut rng)),
                Profile::Support => actions.push(support(&ctx, &mut rng)),
                Profile::Batch => actions.push(batch(&ctx, &mut rng)),
                _ => actions.push(dba(&mut rng)),
            }
            let rate = if profile == Profile::Web { 0.3 } else { 0.15 };
            if rng.random_bool(rate) {
                actions.push(interleaved_chatter(profile, &mut rng));
            }
        }
        sessions.push(Session { profile, actions });
        i = end;
    }
    sessions.shuffle(&mut rng);
    sessions
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(seed: u64) -> AppSpec {
        AppSpec {
            dataset: "app",
            seed,
            rows_scale: 0.01,
            statements: 3000,
        }
    }

    #[test]
    fn reproducible_from_the_seed() {
        let a = serde_json::to_string(&generate(&spec(1))).unwrap_or_default();
        assert_eq!(
            a,
            serde_json::to_string(&generate(&spec(1))).unwrap_or_default()
        );
        assert_ne!(
            a,
            serde_json::to_string(&generate(&spec(2))).unwrap_or_default()
        );
    }

    #[test]
    fn mixes_prepared_and_text_statements_from_every_account() {
        let sessions = generate(&spec(1));
        let actions: Vec<&Action> = sessions.iter().flat_map(|s| &s.actions).collect();
        let prepared = actions
            .iter()
            .filter(|a| matches!(a, Action::Prepared { .. }))
            .count();
        let text = actions
            .iter()
            .filter(|a| matches!(a, Action::Sql { .. }))
            .count();
        assert!(prepared > text, "{prepared} prepared, {text} text");
        for p in Profile::SHOP {
            assert!(sessions.iter().any(|s| s.profile == p), "{p:?}");
        }
        for a in &actions {
            if let Action::Prepared { text, params, .. } = a {
                assert_eq!(text.matches('?').count(), params.len(), "{text}");
            }
        }
    }
}
