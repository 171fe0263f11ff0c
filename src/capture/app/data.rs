//! The shop's schema and its generated rows.
//!
//! Each row is drawn from its own RNG seeded by (seed, table, id), so a
//! table can be generated without the others in memory and in parallel:
//! an order and its lines come from the same per-order RNG, a product's
//! price from the same per-product RNG wherever it is needed. Rows are sent
//! as multi-row INSERTs by [`super::super::load::insert_tuples`].

use super::text;
use super::{CATEGORY_COUNT, Sizes, Zipf};
use crate::capture::CaptureError;
use crate::capture::load::{self, exec};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use rand::seq::IndexedRandom;
use rand::{Rng, RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sqlx::mysql::MySqlConnection;
use std::sync::Arc;

/// The schema, one statement per entry, parents before children.
pub const DDL: [&str; 8] = [
    "CREATE TABLE categories (
  category_id INT NOT NULL,
  parent_id INT NULL,
  name VARCHAR(64) NOT NULL,
  PRIMARY KEY (category_id),
  KEY parent_id (parent_id),
  CONSTRAINT fk_categories_parent FOREIGN KEY (parent_id) REFERENCES categories (category_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
    "CREATE TABLE customers (
  customer_id INT NOT NULL AUTO_INCREMENT,
  email VARCHAR(128) NOT NULL,
  full_name VARCHAR(96) NOT NULL,
  country CHAR(2) NOT NULL,
  tier VARCHAR(12) NOT NULL,
  created_at DATETIME NOT NULL,
  PRIMARY KEY (customer_id),
  UNIQUE KEY email (email),
  KEY country_created (country, created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
    "CREATE TABLE products (
  product_id INT NOT NULL AUTO_INCREMENT,
  category_id INT NOT NULL,
  sku VARCHAR(16) NOT NULL,
  title VARCHAR(160) NOT NULL,
  price DECIMAL(10,2) NOT NULL,
  stock INT NOT NULL,
  active TINYINT NOT NULL,
  created_at DATETIME NOT NULL,
  PRIMARY KEY (product_id),
  UNIQUE KEY sku (sku),
  KEY category_price (category_id, price),
  KEY title (title),
  CONSTRAINT fk_products_category FOREIGN KEY (category_id) REFERENCES categories (category_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
    "CREATE TABLE orders (
  order_id BIGINT NOT NULL AUTO_INCREMENT,
  customer_id INT NOT NULL,
  status VARCHAR(16) NOT NULL,
  created_at DATETIME NOT NULL,
  shipped_at DATETIME NULL,
  total DECIMAL(12,2) NOT NULL,
  PRIMARY KEY (order_id),
  KEY customer_created (customer_id, created_at),
  KEY status_created (status, created_at),
  KEY created_at (created_at),
  CONSTRAINT fk_orders_customer FOREIGN KEY (customer_id) REFERENCES customers (customer_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
    "CREATE TABLE order_items (
  order_id BIGINT NOT NULL,
  line_no SMALLINT NOT NULL,
  product_id INT NOT NULL,
  quantity SMALLINT NOT NULL,
  unit_price DECIMAL(10,2) NOT NULL,
  PRIMARY KEY (order_id, line_no),
  KEY product_id (product_id),
  CONSTRAINT fk_items_order FOREIGN KEY (order_id) REFERENCES orders (order_id),
  CONSTRAINT fk_items_product FOREIGN KEY (product_id) REFERENCES products (product_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
    "CREATE TABLE cart_items (
  customer_id INT NOT NULL,
  product_id INT NOT NULL,
  quantity SMALLINT NOT NULL,
  added_at DATETIME NOT NULL,
  PRIMARY KEY (customer_id, product_id),
  KEY product_id (product_id),
  KEY added_at (added_at),
  CONSTRAINT fk_cart_customer FOREIGN KEY (customer_id) REFERENCES customers (customer_id),
  CONSTRAINT fk_cart_product FOREIGN KEY (product_id) REFERENCES products (product_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
    "CREATE TABLE tickets (
  ticket_id INT NOT NULL AUTO_INCREMENT,
  customer_id INT NOT NULL,
  order_id BIGINT NULL,
  status VARCHAR(12) NOT NULL,
  priority TINYINT NOT NULL,
  subject VARCHAR(160) NOT NULL,
  body TEXT NOT NULL,
  contact_email VARCHAR(128) NOT NULL,
  created_at DATETIME NOT NULL,
  updated_at DATETIME NOT NULL,
  PRIMARY KEY (ticket_id),
  KEY status_priority (status, priority, created_at),
  KEY customer_id (customer_id),
  KEY order_id (order_id),
  CONSTRAINT fk_tickets_customer FOREIGN KEY (customer_id) REFERENCES customers (customer_id),
  CONSTRAINT fk_tickets_order FOREIGN KEY (order_id) REFERENCES orders (order_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
    "CREATE TABLE reviews (
  review_id INT NOT NULL AUTO_INCREMENT,
  product_id INT NOT NULL,
  customer_id INT NOT NULL,
  rating TINYINT NOT NULL,
  body TEXT NOT NULL,
  created_at DATETIME NOT NULL,
  PRIMARY KEY (review_id),
  KEY product_rating (product_id, rating),
  KEY customer_id (customer_id),
  CONSTRAINT fk_reviews_product FOREIGN KEY (product_id) REFERENCES products (product_id),
  CONSTRAINT fk_reviews_customer FOREIGN KEY (customer_id) REFERENCES customers (customer_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
];

/// 2023-01-01 00:00:00 UTC: the shop's first order.
pub const START: i64 = 1_672_531_200;
/// The data spans 1,277 days, to 2026-07-01.
pub const SPAN_SECONDS: i64 = 1_277 * 86_400;

/// `YYYY-MM-DD HH:MM:SS` of a Unix time.
pub fn datetime(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|| "2023-01-01 00:00:00".into())
}

/// What every generator shares: sizes and the skewed distributions.
pub struct Ctx {
    pub seed: u64,
    pub sizes: Sizes,
    /// Which customer places an order, writes a review, opens a ticket.
    pub customers: Zipf,
    /// Which product is bought or reviewed.
    pub products: Zipf,
    /// Which country a customer lives in.
    pub countries: Zipf,
}

impl Ctx {
    pub fn new(seed: u64, sizes: Sizes) -> Ctx {
        Ctx {
            seed,
            sizes,
            customers: Zipf::new(sizes.customers, 0.8),
            products: Zipf::new(sizes.products, 0.9),
            countries: Zipf::new(text::COUNTRIES.len() as u64, 1.1),
        }
    }
}

fn row_rng(seed: u64, table: u64, id: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (table << 56) ^ id)
}

/// Picks from `(value, weight)` pairs.
pub fn weighted<T: Copy, R: Rng + ?Sized>(rng: &mut R, items: &[(T, u32)]) -> T {
    let total: u32 = items.iter().map(|(_, w)| w).sum();
    let mut x = rng.random_range(0..total.max(1));
    for (v, w) in items {
        if x < *w {
            return *v;
        }
        x -= w;
    }
    items[0].0
}

/// A SQL string literal.
pub fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "''"))
}

/// A customer's name, email, country, tier and sign-up time.
pub struct Customer {
    pub name: String,
    pub email: String,
    pub country: &'static str,
    pub tier: &'static str,
    pub created: i64,
}

pub fn customer(ctx: &Ctx, id: u64) -> Customer {
    let mut rng = row_rng(ctx.seed, 1, id);
    let (name, email) = text::person(&mut rng, id);
    let country = text::COUNTRIES
        .get(ctx.countries.rank(&mut rng) as usize - 1)
        .copied()
        .unwrap_or("US");
    let tier = weighted(
        &mut rng,
        &[
            ("standard", 80),
            ("silver", 12),
            ("gold", 6),
            ("platinum", 2),
        ],
    );
    let created = START - 730 * 86_400 + rng.random_range(0..730 * 86_400 + SPAN_SECONDS);
    Customer {
        name,
        email,
        country,
        tier,
        created,
    }
}

/// A product's price in cents, log-uniform between 2 and 2,000.
pub fn price_cents(seed: u64, product: u64) -> u64 {
    let mut rng = row_rng(seed, 3, product);
    let x: f64 = rng.random_range(2f64.ln()..2000f64.ln());
    (x.exp() * 100.0).round() as u64
}

fn money(cents: u64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// An order: who, when, in which state, and its lines `(product, qty,
/// unit price in cents)`.
pub struct Order {
    pub customer: u64,
    pub status: &'static str,
    pub created: i64,
    pub shipped: Option<i64>,
    pub lines: Vec<(u64, u64, u64)>,
}

pub fn order(ctx: &Ctx, id: u64) -> Order {
    let mut rng = row_rng(ctx.seed, 4, id);
    let customer = ctx.customers.id(&mut rng);
    let frac = id as f64 / ctx.sizes.orders.max(1) as f64;
    let created = START + (frac * SPAN_SECONDS as f64) as i64 + rng.random_range(0..3_600);
    let status = if frac > 0.995 {
        weighted(
            &mut rng,
            &[("pending", 30), ("processing", 30), ("shipped", 40)],
        )
    } else {
        weighted(
            &mut rng,
            &[("delivered", 85), ("cancelled", 9), ("returned", 6)],
        )
    };
    let shipped = matches!(status, "shipped" | "delivered" | "returned")
        .then(|| created + rng.random_range(3_600..5 * 86_400));
    let n = weighted(
        &mut rng,
        &[
            (1u64, 25),
            (2, 25),
            (3, 18),
            (4, 12),
            (5, 8),
            (6, 5),
            (7, 3),
            (8, 2),
            (9, 1),
            (10, 1),
        ],
    );
    let lines = (0..n)
        .map(|_| {
            let product = ctx.products.id(&mut rng);
            let qty = weighted(&mut rng, &[(1u64, 70), (2, 18), (3, 7), (5, 3), (10, 2)]);
            (product, qty, price_cents(ctx.seed, product))
        })
        .collect();
    Order {
        customer,
        status,
        created,
        shipped,
        lines,
    }
}

type Rows = Box<dyn Iterator<Item = String> + Send>;

fn categories() -> Rows {
    Box::new((1..=CATEGORY_COUNT).map(|id| {
        let top = text::TOP_CATEGORIES.len() as u64;
        if id <= top {
            format!("({id},NULL,{})", lit(text::TOP_CATEGORIES[id as usize - 1]))
        } else {
            let parent = (id - top - 1) / 4 + 1;
            let sub = text::SUB_CATEGORIES[((id - top - 1) % 4) as usize];
            let name = format!("{} {sub}", text::TOP_CATEGORIES[parent as usize - 1]);
            format!("({id},{parent},{})", lit(&name))
        }
    }))
}

fn customers(ctx: Arc<Ctx>) -> Rows {
    Box::new((1..=ctx.sizes.customers).map(move |id| {
        let c = customer(&ctx, id);
        format!(
            "({id},{},{},{},{},{})",
            lit(&c.email),
            lit(&c.name),
            lit(c.country),
            lit(c.tier),
            lit(&datetime(c.created))
        )
    }))
}

/// A product's category, title, SKU, stock, flag and listing time (its
/// price is [`price_cents`]).
pub struct Product {
    pub category: u64,
    pub title: String,
    pub sku: String,
    pub stock: u64,
    pub active: bool,
    pub created: i64,
}

pub fn product(ctx: &Ctx, id: u64) -> Product {
    let mut rng = row_rng(ctx.seed ^ 0x5eed, 3, id);
    let top = text::TOP_CATEGORIES.len() as u64;
    let category = rng.random_range(top + 1..=CATEGORY_COUNT);
    let title = text::product_title(&mut rng);
    let prefix: String = title.chars().take(2).collect();
    let sku = format!("{}-{id:08}", prefix.to_ascii_uppercase());
    let stock = if rng.random_bool(0.1) {
        0
    } else {
        rng.random_range(1..500)
    };
    let active = rng.random_bool(0.95);
    let created = START - 365 * 86_400 + rng.random_range(0..365 * 86_400 + SPAN_SECONDS);
    Product {
        category,
        title,
        sku,
        stock,
        active,
        created,
    }
}

fn products(ctx: Arc<Ctx>) -> Rows {
    Box::new((1..=ctx.sizes.products).map(move |id| {
        let p = product(&ctx, id);
        format!(
            "({id},{},{},{},{},{},{},{})",
            p.category,
            lit(&p.sku),
            lit(&p.title),
            money(price_cents(ctx.seed, id)),
            p.stock,
            u8::from(p.active),
            lit(&datetime(p.created))
        )
    }))
}

fn orders(ctx: Arc<Ctx>) -> Rows {
    Box::new((1..=ctx.sizes.orders).map(move |id| {
        let o = order(&ctx, id);
        let total: u64 = o.lines.iter().map(|(_, q, p)| q * p).sum();
        format!(
            "({id},{},{},{},{},{})",
            o.customer,
            lit(o.status),
            lit(&datetime(o.created)),
            o.shipped
                .map(|t| lit(&datetime(t)))
                .unwrap_or_else(|| "NULL".into()),
            money(total)
        )
    }))
}

fn order_items(ctx: Arc<Ctx>) -> Rows {
    Box::new((1..=ctx.sizes.orders).flat_map(move |id| {
        order(&ctx, id)
            .lines
            .into_iter()
            .enumerate()
            .map(move |(i, (product, qty, price))| {
                format!("({id},{},{product},{qty},{})", i + 1, money(price))
            })
    }))
}

/// Cart lines; a cart holds a product once, so repeated draws are skipped
/// here (MariaDB 10.11 lost every row of an `INSERT IGNORE` into the empty
/// table with `unique_checks=0` when we tried).
fn cart_items(ctx: Arc<Ctx>) -> Rows {
    let mut seen = std::collections::HashSet::new();
    Box::new((1..=ctx.sizes.cart_items).filter_map(move |id| {
        let mut rng = row_rng(ctx.seed, 6, id);
        let customer = ctx.customers.id(&mut rng);
        let product = ctx.products.id(&mut rng);
        let added = START + SPAN_SECONDS - rng.random_range(0..120 * 86_400);
        seen.insert((customer, product)).then(|| {
            format!(
                "({customer},{product},{},{})",
                rng.random_range(1..4),
                lit(&datetime(added))
            )
        })
    }))
}

fn tickets(ctx: Arc<Ctx>) -> Rows {
    Box::new((1..=ctx.sizes.tickets).map(move |id| {
        let mut rng = row_rng(ctx.seed, 7, id);
        let customer_id = ctx.customers.id(&mut rng);
        let order = rng
            .random_bool(0.6)
            .then(|| rng.random_range(1..=ctx.sizes.orders));
        let status = weighted(
            &mut rng,
            &[
                ("closed", 60),
                ("solved", 15),
                ("open", 12),
                ("pending", 9),
                ("escalated", 4),
            ],
        );
        let priority = weighted(&mut rng, &[(1u8, 50), (2, 30), (3, 15), (4, 5)]);
        let subject = text::ticket_subject(&mut rng, order);
        let body = text::ticket_body(&mut rng);
        let email = if rng.random_bool(0.85) {
            customer(&ctx, customer_id).email
        } else {
            format!("contact{}@example.org", rng.random_range(1..100_000))
        };
        let created = START + rng.random_range(0..SPAN_SECONDS);
        let updated = created + rng.random_range(0..20 * 86_400);
        format!(
            "({id},{customer_id},{},{},{priority},{},{},{},{},{})",
            order
                .map(|o| o.to_string())
                .unwrap_or_else(|| "NULL".into()),
            lit(status),
            lit(&subject),
            lit(&body),
            lit(&email),
            lit(&datetime(created)),
            lit(&datetime(updated))
        )
    }))
}

fn reviews(ctx: Arc<Ctx>) -> Rows {
    Box::new((1..=ctx.sizes.reviews).map(move |id| {
        let mut rng = row_rng(ctx.seed, 8, id);
        let product = ctx.products.id(&mut rng);
        let customer = ctx.customers.id(&mut rng);
        let rating = weighted(&mut rng, &[(5u8, 45), (4, 25), (3, 12), (2, 8), (1, 10)]);
        let body = text::review_body(&mut rng, rating);
        let created = START + rng.random_range(0..SPAN_SECONDS);
        format!(
            "({id},{product},{customer},{rating},{},{})",
            lit(&body),
            lit(&datetime(created))
        )
    }))
}

/// `(columns, rows)` of a table.
fn generator(table: &str, ctx: Arc<Ctx>) -> (&'static str, Rows) {
    match table {
        "categories" => ("category_id, parent_id, name", categories()),
        "customers" => (
            "customer_id, email, full_name, country, tier, created_at",
            customers(ctx),
        ),
        "products" => (
            "product_id, category_id, sku, title, price, stock, active, created_at",
            products(ctx),
        ),
        "orders" => (
            "order_id, customer_id, status, created_at, shipped_at, total",
            orders(ctx),
        ),
        "order_items" => (
            "order_id, line_no, product_id, quantity, unit_price",
            order_items(ctx),
        ),
        "cart_items" => (
            "customer_id, product_id, quantity, added_at",
            cart_items(ctx),
        ),
        "tickets" => (
            "ticket_id, customer_id, order_id, status, priority, subject, body, contact_email, created_at, updated_at",
            tickets(ctx),
        ),
        _ => (
            "review_id, product_id, customer_id, rating, body, created_at",
            reviews(ctx),
        ),
    }
}

fn expected_rows(table: &str, s: &Sizes) -> u64 {
    match table {
        "categories" => s.categories,
        "customers" => s.customers,
        "products" => s.products,
        "orders" => s.orders,
        "order_items" => s.orders * 3,
        "cart_items" => s.cart_items,
        "tickets" => s.tickets,
        _ => s.reviews,
    }
}

/// Drops and creates the shop's tables.
pub async fn create_schema(conn: &mut MySqlConnection) -> Result<(), CaptureError> {
    for table in super::TABLES.iter().rev() {
        exec(conn, &format!("DROP TABLE IF EXISTS `{table}`")).await?;
    }
    for create in DDL {
        exec(conn, create).await?;
    }
    Ok(())
}

/// Generates and loads every table, two at a time, biggest first.
pub async fn load_data(url: &str, ctx: Arc<Ctx>) -> Result<(), CaptureError> {
    let bars = MultiProgress::new();
    let style = ProgressStyle::with_template(
        "{prefix:>11} [{bar:40}] {pos}/{len} rows ({per_sec}, eta {eta})",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    let mut order: Vec<&'static str> = super::TABLES.to_vec();
    order.sort_by_key(|t| std::cmp::Reverse(expected_rows(t, &ctx.sizes)));
    for pair in order.chunks(2) {
        let mut tasks = Vec::new();
        for &table in pair {
            let bar = bars.add(ProgressBar::new(expected_rows(table, &ctx.sizes)));
            bar.set_style(style.clone());
            bar.set_prefix(table);
            let (columns, rows) = generator(table, ctx.clone());
            let head = format!("INSERT INTO `{table}` ({columns}) VALUES ");
            tasks.push(tokio::spawn(load::insert_tuples(
                url.to_string(),
                head,
                rows,
                bar,
            )));
        }
        for (task, &table) in tasks.into_iter().zip(pair) {
            let n = task
                .await
                .map_err(|e| CaptureError::Ddl(format!("loader for {table} failed: {e}")))??;
            if crate::progress::plain() {
                tracing::info!("loaded {table}: {n} rows");
            }
        }
    }
    Ok(())
}

/// A random choice from a slice of words, for the workload.
pub fn choose<'a, R: Rng + ?Sized>(rng: &mut R, words: &[&'a str]) -> &'a str {
    words.choose(rng).copied().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_and_their_lines_agree() {
        let ctx = Arc::new(Ctx::new(3, Sizes::at(0.001)));
        let a = order(&ctx, 17);
        let b = order(&ctx, 17);
        assert_eq!(a.lines, b.lines);
        assert!(!a.lines.is_empty() && a.lines.len() <= 10);
        let lines = order_items(ctx.clone())
            .take_while(|r| r.starts_with("(1,"))
            .count();
        assert_eq!(lines, order(&ctx, 1).lines.len());
    }

    #[test]
    fn every_generator_yields_its_rows() {
        let ctx = Arc::new(Ctx::new(5, Sizes::at(0.001)));
        for table in super::super::TABLES {
            let (columns, rows) = generator(table, ctx.clone());
            let rows: Vec<String> = rows.collect();
            assert!(!rows.is_empty(), "{table}");
            let commas = columns.matches(',').count();
            // Generated text has no commas except inside bodies, so check
            // the first row of the tables without free text.
            if !matches!(table, "tickets" | "reviews") {
                assert_eq!(rows[0].matches(',').count(), commas, "{table}: {}", rows[0]);
            }
        }
    }

    #[test]
    fn literals_are_escaped() {
        assert_eq!(lit("it's a\\b"), r"'it''s a\\b'");
    }
}
